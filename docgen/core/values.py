"""Numbers and dates in text, as values: "1.671,67", "1,671.67" and "١٬٦٧١٫٦٧" are one amount,
"12 March 2024", "2024-03-12" and "2024年3月12日" one date.

Grounding compares an answer's values with its pages' values instead of its digits with their
digits: an answer that writes a page's date another way is grounded, and an answer with a number
that is on none of its pages is not, however close the digits.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# Arabic-Indic, Eastern Arabic-Indic and full-width digits, Arabic decimal/thousands separators.
_DIGITS = str.maketrans(
    "٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹０１２３４５６７８９٫٬，．",
    "012345678901234567890123456789.,,.",
)
MONTHS = {
    name: i + 1
    for names in (
        "january february march april may june july august september october november december",
        "jan feb mar apr may jun jul aug sep oct nov dec",
        "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
        "januar februar märz april mai juni juli august september oktober november dezember",
        "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
        "يناير فبراير مارس أبريل مايو يونيو يوليو أغسطس سبتمبر أكتوبر نوفمبر ديسمبر",
    )
    for i, name in enumerate(names.split())
}
_MONTH = "|".join(sorted(map(re.escape, MONTHS), key=len, reverse=True))
_DATE_PATTERNS = [  # (pattern, order of the groups: y m d, or "dmy"/"mdy" for ambiguous numerics)
    (re.compile(r"(\d{4})\s*[-/.年년]\s*(\d{1,2})\s*[-/.月월]\s*(\d{1,2})\s*[日일]?"), "ymd"),
    (re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})"), "dmy|mdy"),
    (re.compile(rf"(\d{{1,2}})\.?\s+(?:de\s+)?({_MONTH})\.?,?\s+(?:de\s+)?(\d{{4}})", re.I), "dMy"),
    (re.compile(rf"({_MONTH})\.?\s+(\d{{1,2}}),?\s+(\d{{4}})", re.I), "Mdy"),
]
# Digit groups of three may be joined by a thousands separator (incl. the spaces French uses).
NUMBER = re.compile(r"\d+(?:[.,'\u00a0\u202f ]\d{3})*(?:[.,]\d+)?")


def ascii_digits(text: str) -> str:
    return text.translate(_DIGITS)


def _date(y: int, m: int, d: int) -> str | None:
    return f"{y:04d}-{m:02d}-{d:02d}" if 1 <= m <= 12 and 1 <= d <= 31 else None


def dates(text: str) -> tuple[list[set[str]], str]:
    """Each date in ``text`` as its ISO readings (both for an ambiguous 03/04/2024), and the
    text without them."""
    text = ascii_digits(text)
    found: list[set[str]] = []

    def take(match: re.Match, order: str) -> str:
        g = [int(x) if x.isdigit() else MONTHS[x.lower()] for x in match.groups()]
        if order == "ymd":
            candidates = [_date(g[0], g[1], g[2])]
        elif order == "dmy|mdy":
            candidates = [_date(g[2], g[1], g[0]), _date(g[2], g[0], g[1])]
        elif order == "dMy":
            candidates = [_date(g[2], g[1], g[0])]
        else:
            candidates = [_date(g[2], g[0], g[1])]
        if readings := {c for c in candidates if c}:
            found.append(readings)
        return " "

    for pattern, order in _DATE_PATTERNS:
        text = pattern.sub(lambda m, o=order: take(m, o), text)
    return found, text


def _decimal(text: str) -> str | None:
    try:
        value = Decimal(text).normalize()
    except InvalidOperation:
        return None
    return format(value, "f")


def number_values(token: str) -> set[str]:
    """The values a number token can mean. The last separator is the decimal one unless exactly
    three digits follow it, when "1,234" may be 1234 or 1.234 and both are kept."""
    token = re.sub(r"['\u00a0\u202f ]", "", token)
    seps = [i for i, c in enumerate(token) if c in ".,"]
    if not seps:
        readings = {token}
    else:
        last = seps[-1]
        whole, frac = re.sub(r"[.,]", "", token[:last]), token[last + 1 :]
        if len(seps) > 1 and len({token[i] for i in seps}) == 1:
            readings = {whole + frac}  # 1.234.567 or 2,000,000: all thousands separators
        else:
            readings = {f"{whole}.{frac}"}
            if len(frac) == 3 and len(seps) == 1:
                readings.add(whole + frac)  # 1,234 may be a thousands separator after all
    return {v for r in readings if (v := _decimal(r)) is not None}


def numbers(text: str) -> list[set[str]]:
    """Each number in ``text`` as the set of values it can mean."""
    return [number_values(m.group()) for m in NUMBER.finditer(ascii_digits(text))]


def page_values(text: str) -> set[str]:
    """Every value a page states: its dates, and its numbers (those inside dates too)."""
    found: set[str] = set()
    for values in [*dates(text)[0], *numbers(text)]:
        found |= values
    return found


def answer_values(text: str) -> tuple[list[set[str]], str]:
    """The values an answer states, each as its possible readings, and the answer's other words."""
    found, rest = dates(text)
    return found + numbers(rest), NUMBER.sub(" ", rest)
