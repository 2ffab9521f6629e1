"""Every run-config value checked before any work: its type from the dataclass field, and its
range or choices from the field's declaration (:func:`setting`). A bad value is one line naming
the key, the value and what the key takes — never an empty dataset made of error rows, nor a
traceback from deep inside a stage."""

from __future__ import annotations

import dataclasses
import math
import types
import typing


@dataclasses.dataclass(frozen=True)
class Between:
    low: float
    high: float = math.inf
    low_open: bool = False  # the low end itself is not allowed (a timeout of 0)
    high_open: bool = False
    zero_off: bool = False  # 0 is allowed too: it switches the setting off

    def ok(self, value) -> bool:
        if self.zero_off and value == 0:
            return True
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def __str__(self) -> str:
        if self.zero_off:
            return f"0 (off) or {Between(self.low, self.high, self.low_open, self.high_open)}"
        if self.high == math.inf:
            return f"above {self.low:g}" if self.low_open else f"at least {self.low:g}"
        if self.low_open:
            return (
                f"above {self.low:g} and {'below' if self.high_open else 'at most'} {self.high:g}"
            )
        if self.high_open:
            return f"from {self.low:g} to below {self.high:g}"
        return f"from {self.low:g} to {self.high:g}"


@dataclasses.dataclass(frozen=True)
class Mapping:
    """A mapping whose keys are names (one of ``keys`` when given) and whose values are numbers
    in ``values`` (whole numbers when ``whole``)."""

    values: Between
    keys: tuple = ()
    whole: bool = False

    def bad(self, mapping: dict):
        """The first (key, value) it refuses, or None."""
        for key, value in mapping.items():
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if (
                not isinstance(key, str)
                or (self.keys and key not in self.keys)
                or not number
                or (self.whole and not isinstance(value, int))
                or not self.values.ok(value)
            ):
                return key, value
        return None

    def __str__(self) -> str:
        keys = f"one of {', '.join(self.keys)}" if self.keys else "a name"
        number = "a whole number" if self.whole else "a number"
        return f"maps {keys} to {number} {self.values}"


POSITIVE = Between(1)
NOT_NEGATIVE = Between(0)
SHARE = Between(0, 1)
PERCENT = Between(0, 100)
SECONDS = Between(0, low_open=True)


def setting(default=dataclasses.MISSING, check=None, help: str = "", factory=None):
    """A config field declared once: its default (or ``factory`` for a list or a dict), what it
    takes (``check``: a :class:`Between` range, or a tuple of choices), and a line of ``help``
    (``docgen config show --effective`` prints it beside the value). The type is the field's
    annotation."""
    metadata = {"check": check, "help": help}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def takes(f: dataclasses.Field) -> str:
    """What a field's check lets through, in words ("" when it has none)."""
    check = f.metadata.get("check")
    if isinstance(check, tuple):
        return "one of " + ", ".join(check)
    if isinstance(check, Mapping):
        return str(check)
    return f"takes {check}" if check is not None else ""


def choices(cls, name: str) -> tuple:
    """The values a choice field of config dataclass ``cls`` takes (one list for docgen to read)."""
    return next(f for f in dataclasses.fields(cls) if f.name == name).metadata["check"]


def check_config(cfg, section: str = "") -> None:
    """Raise ValueError (one line) for the first value of ``cfg`` (a run config, or the section
    of one named ``section``, e.g. "generate.") that its field's type or check refuses, then for
    settings that do not go together (a section's ``cross_check()``)."""
    for key, value, kind, f in values(cfg, section):
        if not fits(value, kind):
            raise ValueError(f"config {key}: {value!r} is not {describe(kind)}")
        rule = f.metadata.get("check")
        if value is None or rule is None:
            continue
        if isinstance(rule, tuple) and isinstance(value, list):  # each item one of the choices
            if bad := [v for v in value if v not in rule]:
                raise ValueError(f"config {key}: {bad[0]!r} is not one of {', '.join(rule)}")
        elif isinstance(rule, tuple) and value not in rule:
            raise ValueError(f"config {key}: {value!r} is not one of {', '.join(rule)}")
        if isinstance(rule, Between) and not rule.ok(value):
            raise ValueError(f"config {key}: {value!r} is out of range; it takes {rule}")
        if isinstance(rule, Mapping) and (bad := rule.bad(value)):
            raise ValueError(f"config {key}: {bad[0]!r}: {bad[1]!r} does not fit; it {rule}")
    for part in sections(cfg):
        if hasattr(part, "cross_check"):
            part.cross_check()


def sections(obj) -> list:
    """A config dataclass and every section under it."""
    found = [obj]
    for f in dataclasses.fields(obj):
        if dataclasses.is_dataclass(value := getattr(obj, f.name)):
            found += sections(value)
    return found


def values(obj, prefix: str = ""):
    """(dotted key, value, annotated type, field) of every leaf field of a config dataclass."""
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            yield from values(value, f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}", value, hints[f.name], f


def fits(value, kind) -> bool:
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        return any(fits(value, k) for k in typing.get_args(kind))
    if kind is type(None):
        return value is None
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:  # an int is a float here (dpi: 150 for 150.0); inf and nan are not
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return number and math.isfinite(value)
    origin = typing.get_origin(kind)
    if origin is list:
        (item,) = typing.get_args(kind)
        return isinstance(value, list) and all(fits(v, item) for v in value)
    if kind is dict or origin is dict:
        return isinstance(value, dict)
    return isinstance(value, kind)


def describe(kind) -> str:
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        return " or ".join(describe(k) for k in typing.get_args(kind))
    names = {bool: "true or false", int: "a whole number", float: "a number", str: "a string",
             dict: "a mapping", type(None): "null"}  # fmt: skip
    if typing.get_origin(kind) is list:
        return f"a list of {describe(typing.get_args(kind)[0]).removeprefix('a ')}s"
    return names.get(kind, getattr(kind, "__name__", str(kind)))
