"""Run configuration: one dataclass per stage, loaded from a YAML file or a built-in config
(``pipelines/*.yaml``: ``default``, ``openai``, ``vllm``, ``train``, and the GPU training
configs ``train-gpu``, ``train-lora``, ``train-fsdp``).

A run config names ``input``, ``work`` and ``out`` at its top level, then one section per stage
whose keys mirror that stage's CLI options. ``--set section.key=value`` overrides any of them;
values are parsed as YAML: ``--set extract.dpi=200`` gives an int, ``run.scheduler=null`` a None.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from docgen import shipped
from docgen.core.config_check import check_config, setting, takes
from docgen.core.settings import (  # the sections, as the rest of docgen names them
    HUB_DATASET,
    ExtractConfig,
    FilterConfig,
    GenerateConfig,
    RunOptions,
    ShardConfig,
)
from docgen.core.train_config import EvalConfig, TrainConfig


@dataclass
class RunConfig:
    input: list[str] = setting(factory=list)
    work: str = setting("data/work")
    out: str = setting("data/out")
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    generate: GenerateConfig = field(default_factory=GenerateConfig)
    filter: FilterConfig = field(default_factory=FilterConfig)
    shard: ShardConfig = field(default_factory=ShardConfig)
    run: RunOptions = field(default_factory=RunOptions)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def to_dict(self) -> dict:
        return asdict(self)


def build(cls, values: dict, where: str = ""):
    """A dataclass from a dict, recursing into nested dataclasses; unknown keys are an error."""
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(
            f"unknown config key(s) {', '.join(where + k for k in unknown)}; "
            f"known: {', '.join(sorted(known))}"
        )
    kwargs = {}
    for name, value in values.items():
        default = getattr(cls(), name)
        if dataclasses.is_dataclass(default):
            if value is not None and not isinstance(value, dict):
                raise ValueError(f"config {where}{name}: a section of keys, not {value!r}")
            kwargs[name] = build(type(default), value or {}, f"{where}{name}.")
        elif isinstance(default, list) and isinstance(value, str):
            kwargs[name] = [value]
        else:
            kwargs[name] = value
    return cls(**kwargs)


def apply_override(data: dict, assignment: str) -> None:
    """Apply one ``a.b=value`` to a nested dict."""
    key, sep, raw = assignment.partition("=")
    if not sep or not key:
        raise ValueError(f"--set expects key=value, got {assignment!r}")
    *parents, leaf = key.strip().split(".")
    node = data
    for p in parents:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ValueError(f"--set {key}: {p} is not a section")
    node[leaf] = read_yaml(raw, f"--set {key.strip()}")


class ConfigLoader(yaml.SafeLoader):
    """YAML with YAML 1.2's booleans: only true and false. YAML 1.1 also reads on, off, yes and
    no as booleans, so ``extract.ocr: off`` or ``--set tables=off`` reached the config as False
    ("is not a string") although off is one of their values."""


ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in found if tag != "tag:yaml.org,2002:bool"]
    for first, found in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def read_yaml(text: str, where: str):
    """``text`` as YAML, or a one-line error naming ``where`` and the line it stumbled on."""
    try:
        return yaml.load(text, Loader=ConfigLoader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ValueError(f"{where}: not valid YAML ({problem}{at})") from None


BUILTIN = shipped("pipelines")  # run configs shipped with docgen


def builtin_configs() -> list[str]:
    return sorted(p.stem for p in BUILTIN.glob("*.yaml"))


def config_path(name: str | Path) -> Path:
    """A run config file: ``name`` when it is a file, else the built-in config it names
    (``openai``, or the old ``pipelines/openai.yaml``)."""
    path = Path(name)
    if path.is_file():
        return path
    if (
        path.suffix in ("", ".yaml")
        and path.parent.name in ("", "pipelines")
        and (BUILTIN / f"{path.stem}.yaml").is_file()
    ):
        return BUILTIN / f"{path.stem}.yaml"
    raise ValueError(
        f"no run config {str(name)!r}: give a YAML file or a built-in config "
        f"({', '.join(builtin_configs())})"
    )


def local(path: str) -> bool:
    return "://" not in path or path.startswith("file://")


def absolute(path: str) -> str:
    path = path[len("file://") :] if path.startswith("file://") else path
    return os.path.abspath(os.path.expanduser(path))


def settle_paths(cfg: RunConfig) -> RunConfig:
    """Make every local path a worker reads absolute, here where it was meant: a Dask worker runs
    in a folder of its own (a `dask worker` started elsewhere, a cluster node), where a relative
    WORK would be another folder. URLs stay as they are."""
    cfg.input = [absolute(p) if local(p) else p for p in cfg.input]
    cfg.work, cfg.out = (absolute(p) if local(p) else p for p in (cfg.work, cfg.out))
    g = cfg.generate
    if "/" in g.prompts:  # a path; a bare name is a prompt set shipped with docgen
        g.prompts = absolute(g.prompts)
    if g.engine_python and "/" in g.engine_python:  # else a command found on each worker's PATH
        g.engine_python = absolute(g.engine_python)
    images = cfg.filter.decontaminate_images  # a benchmark's images, read by every worker
    if images and not images.startswith(HUB_DATASET):
        cfg.filter.decontaminate_images = absolute(images)
    e = cfg.eval
    if e.engine_python and "/" in e.engine_python:
        e.engine_python = absolute(e.engine_python)
    if g.backend == "vllm" and g.model and os.path.exists(g.model):  # a folder the engine loads
        g.model = absolute(g.model)  # (for a server, the model is the name it serves)
    if cfg.filter.decontaminate and local(cfg.filter.decontaminate):
        cfg.filter.decontaminate = absolute(cfg.filter.decontaminate)
    return cfg


def annotated(cfg: RunConfig) -> str:
    """``cfg`` as a YAML run config, every value with its help and what it takes as a comment
    (``docgen config show --effective``): loaded back, it is the same config."""
    lines: list[str] = []

    def walk(obj, indent: str) -> None:
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if dataclasses.is_dataclass(value):
                lines.append(f"{indent}{f.name}:")
                walk(value, indent + "  ")
                continue
            text = yaml.safe_dump({f.name: value}, default_flow_style=False, allow_unicode=True,
                                  sort_keys=False, width=10_000).rstrip("\n")  # fmt: skip
            note = "; ".join(n for n in (f.metadata.get("help"), takes(f)) if n)
            if "\n" in text:  # a value over several lines: its note above it, never inside it
                lines.extend([f"{indent}# {note}"] if note else [])
                lines.extend(f"{indent}{line}" for line in text.split("\n"))
            else:
                lines.append(f"{indent}{text}" + (f"  # {note}" if note else ""))

    walk(cfg, "")
    return "\n".join(lines) + "\n"


def load_config(path: str | Path | None = None, overrides: list[str] = ()) -> RunConfig:
    """Read a YAML run config (a file or a built-in config's name; none: the defaults) and
    apply ``--set`` overrides."""
    data = {}
    if path is not None:
        path = config_path(path)
        data = read_yaml(path.read_text("utf-8"), str(path)) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: a run config is a mapping of sections")
    for assignment in overrides:
        apply_override(data, assignment)
    cfg = build(RunConfig, data)
    check_config(cfg)
    return cfg
