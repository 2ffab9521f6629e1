"""Typed answer checks: is a prediction the answer? One function for the filter, `docgen eval` and
a reward in reinforcement learning.

An answer has a type (:func:`answer_type`): ``yes_no``, ``number``, ``date``, ``list``, ``box`` or
``text``. :func:`verify` compares a prediction with the answer by that type and returns a score
from 0 to 1: yes/no by meaning in ten languages (``oui``, ``نعم``, ``はい`` ... all say yes);
numbers by value (thousands separators of either convention, Arabic-Indic and full-width digits,
a currency or unit when both name one, a relative ``tolerance``); dates by day, month and year
(ISO, numeric day-first or, in English, month-first, month names in en/fr/de/es, 年月日 and
년월일); lists as sets of items (the F1 of the items, 1 only when the sets are equal); boxes
``[x0, y0, x1, y1]`` by intersection over union; anything else by ANLS, as DocVQA scores text.
:func:`matches` is the typed exact match (score 1).

    from docgen.verify import verify
    verify("1.234,50 €", "€1,234.50")          # 1.0
    verify("5 mars 2024", "2024-03-05")        # 1.0
    verify("نعم", "yes")                        # 1.0
"""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz.distance import Levenshtein

TYPES = ("yes_no", "number", "date", "list", "box", "text")

YES = {"yes", "true", "oui", "ja", "sí", "si", "نعم", "بله", "آری", "כן", "是", "是的", "对",
       "對", "はい", "ええ", "예", "네"}  # fmt: skip
NO = {"no", "false", "non", "nein", "لا", "خیر", "نه", "לא", "否", "不", "不是", "没有",
      "いいえ", "아니요", "아니오", "아니"}  # fmt: skip

MONTHS = {
    **dict.fromkeys(("january", "jan", "janvier", "janv", "januar", "jän", "enero", "ene"), 1),
    **dict.fromkeys(("february", "feb", "février", "fevrier", "févr", "februar", "febrero"), 2),
    **dict.fromkeys(("march", "mar", "mars", "märz", "marzo"), 3),
    **dict.fromkeys(("april", "apr", "avril", "avr", "abril", "abr"), 4),
    **dict.fromkeys(("may", "mai", "mayo"), 5),
    **dict.fromkeys(("june", "jun", "juin", "juni", "junio"), 6),
    **dict.fromkeys(("july", "jul", "juillet", "juil", "juli", "julio"), 7),
    **dict.fromkeys(("august", "aug", "août", "aout", "agosto", "ago"), 8),
    **dict.fromkeys(("september", "sep", "sept", "septembre", "septiembre"), 9),
    **dict.fromkeys(("october", "oct", "octobre", "oktober", "octubre"), 10),
    **dict.fromkeys(("november", "nov", "novembre", "noviembre"), 11),
    **dict.fromkeys(
        ("december", "dec", "décembre", "decembre", "déc", "dezember", "diciembre", "dic"), 12
    ),  # fmt: skip
}
WORD = r"[^\W\d_]+\.?"
DATE_FORMS = [  # (pattern, order of the groups: y m d, with m a name where it is a word)
    (re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$"), "ymd"),
    (re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$"), "dmy"),  # mdy in English
    (re.compile(rf"^(\d{{1,2}})\.?\s+(?:de\s+)?({WORD})\s+(?:de\s+)?(\d{{4}})$"), "dMy"),
    (re.compile(rf"^({WORD})\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})$"), "Mdy"),
    (re.compile(r"^(\d{4})\s*[年년]\s*(\d{1,2})\s*[月월]\s*(\d{1,2})\s*[日일]?$"), "ymd"),
]
CURRENCY = {"$": "usd", "us$": "usd", "usd": "usd", "€": "eur", "eur": "eur", "euro": "eur",
            "euros": "eur", "£": "gbp", "gbp": "gbp", "¥": "jpy", "jpy": "jpy", "円": "jpy",
            "yen": "jpy", "₩": "krw", "krw": "krw", "원": "krw", "元": "cny", "cny": "cny",
            "rmb": "cny", "chf": "chf", "%": "%", "percent": "%"}  # fmt: skip
NUMBER = re.compile(
    r"^(?P<pre>[^\d\s.,+-]*)\s*(?P<sign>[+-]?)\s*(?P<num>\d[\d\s.,'’]*)\s*(?P<unit>\D*)$"
)
LIST_SPLIT = re.compile(r"\s*(?:[,;、，；،\n]|\band\b|\bet\b|\bund\b|\by\b)\s*")
BOX = re.compile(r"^\[?\(?\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)"
                 r"\s*,\s*(-?\d+(?:\.\d+)?)\s*\)?\]?$")  # fmt: skip


def clean(text: str) -> str:
    """NFKC (full-width digits and letters to plain), digits of every script to 0-9, lower case,
    spaces collapsed, a sentence's closing full stop dropped."""
    text = unicodedata.normalize("NFKC", str(text))
    text = "".join(str(unicodedata.digit(c)) if c.isdigit() and not c.isascii() else c
                   for c in text)  # fmt: skip
    return re.sub(r"\s+", " ", text).strip().rstrip("。.!！").strip().lower()


def yes_no(text: str) -> bool | None:
    t = clean(text).rstrip(",")
    word = t.split(" ")[0].rstrip(",،") if t else ""
    if t in YES or word in YES and word not in NO:
        return True
    if t in NO or word in NO:
        return False
    return None


# Languages that write 1.234,5 (a comma before the decimals): a lone "1,5" there is 1.5.
DECIMAL_COMMA = {"fr", "de", "es", "it", "pt", "nl", "ru", "tr", "pl", "id", "vi", "fa"}


def decimal(digits: str, lang: str) -> float | None:
    """The value of digits with separators: the last of two kinds of separator is the decimal
    one; one kind repeated groups thousands; a lone one decides by the language (3 digits after
    a comma in English, or after a full stop in French: thousands)."""
    digits = re.sub(r"[\s'’]", "", digits).rstrip(".,")
    seps = [c for c in digits if c in ".,"]
    last = max(digits.rfind(","), digits.rfind("."))
    if seps:
        sep, tail, head = digits[last], digits[last + 1 :], digits[:last]
        comma = lang in DECIMAL_COMMA
        if len(set(seps)) == 2:
            digits = re.sub(r"[.,]", "", head) + "." + tail
        elif len(seps) > 1 or (len(tail) == 3 and (sep == ",") != comma):
            digits = digits.replace(sep, "")
        else:
            digits = head + "." + tail
    try:
        return float(digits)
    except ValueError:
        return None


def number(text: str, lang: str = "und") -> tuple[float, str] | None:
    """(value, unit) of a number with at most a currency or unit around it."""
    m = NUMBER.match(clean(text))
    if not m:
        return None
    value = decimal(m["num"], lang)
    pre, unit = m["pre"].strip(), m["unit"].strip(" .")
    # Before a number, a currency only ("$", "USD"); after it, a currency or a short unit: more
    # is words ("1. Introduction", "12 months later"), not a quantity.
    if value is None or (pre and pre not in CURRENCY) or (len(unit) > 5 and unit not in CURRENCY):
        return None
    unit = pre or unit
    return (-value if m["sign"] == "-" else value), CURRENCY.get(unit, unit)


def date(text: str, lang: str = "und") -> tuple[int, int, int] | None:
    """(year, month, day) of a date written as one of DATE_FORMS."""
    t = clean(text).replace(",", ", ").replace(" ,", ",")
    t = re.sub(r"\s+", " ", t)
    for form, order in DATE_FORMS:
        m = form.match(t)
        if not m:
            continue
        if order == "dmy" and int(m[1]) <= 12 and (int(m[2]) > 12 or lang == "en"):
            order = "mdy"  # 03/25/2024, or 03/04/2024 in English: month first
        parts = dict(zip(order.lower(), m.groups()))
        month = parts["m"]
        month = MONTHS.get(month.rstrip(".")) if not month.isdigit() else int(month)
        y, d = int(parts["y"]), int(parts["d"])
        if month and 1 <= month <= 12 and 1 <= d <= 31:
            return y, month, d
    return None


def items(text: str) -> list[str]:
    return [i for i in (clean(x).strip(" .") for x in LIST_SPLIT.split(str(text))) if i]


def box(text: str) -> tuple[float, ...] | None:
    m = BOX.match(clean(text))
    return tuple(float(v) for v in m.groups()) if m else None


def answer_type(answer: str, lang: str = "und") -> str:
    """The type of an answer, by what it reads as (first of: box, yes_no, date, number, list;
    else text)."""
    if box(answer):
        return "box"
    if yes_no(answer) is not None and len(clean(answer).split()) <= 2:
        return "yes_no"
    if date(answer, lang):
        return "date"
    if number(answer, lang):
        return "number"
    parts = items(answer)
    if len(parts) >= 2 and all(len(p.split()) <= 4 for p in parts):
        return "list"
    return "text"


def anls(prediction: str, answer: str, threshold: float = 0.5) -> float:
    """DocVQA's ANLS for one gold answer: 1 - normalised Levenshtein distance when under
    ``threshold``, else 0 (lower case, spaces collapsed)."""
    p, a = (re.sub(r"\s+", " ", str(t)).strip().lower() for t in (prediction, answer))
    longest = max(len(p), len(a))
    if longest == 0:
        return 1.0
    nl = Levenshtein.distance(p, a) / longest
    return 1 - nl if nl < threshold else 0.0


def iou(a: tuple, b: tuple) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


# An answer written with Qwen2-VL's grounding tokens (the `grounded` chat config, `docgen train
# --answer-boxes`): ``text<|object_ref_start|>image 2<|object_ref_end|><|box_start|>(x0,y0),(x1,y1)
# <|box_end|>``, in thousandths of the image; the image named only when it is not the first.
GROUNDING = re.compile(
    r"(?:<\|object_ref_start\|>image (\d+)<\|object_ref_end\|>)?"
    r"<\|box_start\|>\((\d+(?:\.\d+)?),(\d+(?:\.\d+)?)\),\((\d+(?:\.\d+)?),(\d+(?:\.\d+)?)\)<\|box_end\|>"
)


def grounding(text: str) -> tuple[str, list[tuple[int, tuple[float, ...]]]]:
    """The text of an answer written with grounding tokens, and its boxes: (image, box) with
    the image counted from 0."""
    boxes = [(int(m[1] or 1) - 1, tuple(float(v) for v in m.groups()[1:]))
             for m in GROUNDING.finditer(text)]  # fmt: skip
    return GROUNDING.sub("", text).strip(), boxes


def boxes_iou(predicted: list[tuple], wanted: list[tuple]) -> float:
    """How well ``predicted`` boxes cover the ``wanted`` ones, 0 to 1: the mean over wanted
    boxes of the best IoU of a predicted box on the same image (0 with none predicted), times
    the share of predicted boxes that are needed (boxes scattered everywhere do not score)."""
    if not wanted:
        return float(not predicted)
    best = [max((iou(b, p) for i, p in predicted if i == image), default=0.0)
            for image, b in wanted]  # fmt: skip
    extra = max(0, len(predicted) - len(wanted))
    return sum(best) / len(wanted) * (len(wanted) / (len(wanted) + extra))


def verify(prediction: str, answer: str, kind: str | None = None, lang: str = "und",
           tolerance: float = 1e-6) -> float:  # fmt: skip
    """How right ``prediction`` is for ``answer``, 0 to 1, compared as ``kind`` (one of TYPES;
    default: the answer's :func:`answer_type`). A prediction that does not read as the type
    (no number where a number is asked) scores 0, but text falls back to ANLS."""
    kind = kind or answer_type(answer, lang)
    if kind == "yes_no":
        want = yes_no(answer)
        return float(want is not None and yes_no(prediction) == want)
    if kind == "number":
        want, got = number(answer, lang), number(prediction, lang)
        if not want or not got:
            return 0.0
        units_agree = not (want[1] and got[1]) or want[1] == got[1]
        close = abs(got[0] - want[0]) <= tolerance * max(abs(want[0]), 1.0)
        return float(units_agree and close)
    if kind == "date":
        want = date(answer, lang)
        return float(want is not None and date(prediction, lang) == want)
    if kind == "list":  # the items' F1; as text at least ("Paris France" for "Paris, France")
        want, got = set(items(answer)), set(items(prediction))
        both = len(want & got)
        return max(2 * both / (len(want) + len(got)) if both else 0.0, anls(prediction, answer))
    if kind == "box":
        want, got = box(answer), box(prediction)
        return iou(want, got) if want and got else 0.0
    return anls(prediction, answer)


def matches(prediction: str, answer: str, kind: str | None = None, lang: str = "und") -> bool:
    """Typed exact match: the prediction is the answer, compared as its type (a box: IoU of at
    least 0.5; text: the same once lower-cased with spaces collapsed)."""
    kind = kind or answer_type(answer, lang)
    score = verify(prediction, answer, kind, lang)
    return score >= 0.5 if kind == "box" else score == 1.0
