"""Text helpers shared by every stage: normalisation, script and language detection.

Written for Latin, Arabic and CJK alike: nothing here assumes that words are separated by spaces.
"""

from __future__ import annotations

import re
import unicodedata

# Arabic presentation forms (what many PDFs store) and Latin ligatures fold to their base letters.
_FOLD = re.compile("[\ufb00-\ufb06\ufb50-\ufdff\ufe70-\ufefc]+")
_SPACE = re.compile(r"\s+")

SCRIPTS = (
    ("arabic", re.compile("[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufefc]")),
    ("hebrew", re.compile("[\u0590-\u05ff]")),
    ("hangul", re.compile("[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")),
    ("kana", re.compile("[\u3040-\u30ff]")),
    ("han", re.compile("[\u4e00-\u9fff\u3400-\u4dbf]")),
    ("latin", re.compile("[A-Za-z\u00c0-\u024f]")),
)
RTL_SCRIPTS = {"arabic", "hebrew"}
RTL_LETTER = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")  # written right to left
CJK = re.compile("[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uff00-\uffef]")

# A few very common function words per Latin-script language: enough to tell them apart on a page.
STOPWORDS = {
    "en": "the and of to in is for that with on are this be as by from at your our".split(),
    "fr": "le la les des et du de un une est pour dans que sur au aux nous vous par".split(),
    "de": "der die das und ist mit von den für nicht sich auf dem des ein eine wir zu".split(),
    "es": "el la los las y de del en que por para con una un es su al se".split(),
}


STOPWORD_SETS = {lang: frozenset(words) for lang, words in STOPWORDS.items()}
# Letters and spellings typical of one Latin-script language, for texts without function words.
SPELLINGS = {
    "en": ["th", "wh", "ing", "ght", "ay "],
    "fr": ["é", "è", "ê", "à", "ç", "œ", "eau", "aux", "oi"],
    "de": ["ß", "ä", "ö", "ü", "sch", "tz", "ung", "eit", "zahl", "uhr"],
    "es": ["ñ", "á", "í", "ó", "ú", "¿", "¡", "ción", "ll"],
}


def fold(text: str) -> str:
    """Fold presentation forms and ligatures to plain letters (leaves full-width CJK alone)."""
    if text.isascii():  # most words of most pages: nothing to fold, and no pattern to run
        return text
    return _FOLD.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)


def squash(text: str) -> str:
    """Collapse runs of whitespace to one space and strip the ends."""
    return _SPACE.sub(" ", text).strip()


# Arabic-script letters readers take as the same, for matching only (the text shown keeps what
# the page says): tatweel, zero-width (non-)joiners and the optional diacritics go; alef with
# hamza or madda, alef wasla and maksura, Persian and Arabic yeh and kaf, teh marbuta and heh meet.
_ARABIC_DROP = re.compile("[\u0640\u200c\u200d\u064b-\u065f\u0670\u06d6-\u06ed]")
_ARABIC_SAME = str.maketrans(
    {"\u0623": "\u0627", "\u0625": "\u0627", "\u0622": "\u0627", "\u0671": "\u0627",
     "\u06cc": "\u064a", "\u0649": "\u064a", "\u06a9": "\u0643", "\u0629": "\u0647",
     "\u06c0": "\u0647"}
)  # fmt: skip


def normalize(text: str) -> str:
    """The comparison form of a text: folded, NFC, whitespace collapsed, casefolded, Arabic
    letter variants made one.

    CJK text loses the spaces between CJK characters, which extraction adds or drops at random.
    """
    text = unicodedata.normalize("NFC", fold(text))
    text = _ARABIC_DROP.sub("", text).translate(_ARABIC_SAME)
    text = squash(text).casefold()
    return re.sub(r"(?<=[\u3000-\u9fff\uff00-\uffef]) (?=[\u3000-\u9fff\uff00-\uffef])", "", text)


# The bytes of ASCII that are not letters, deleted to count a plain-ASCII text's letters.
_ASCII_NOT_LETTERS = bytes(b for b in range(128) if not chr(b).isalpha())


def script_counts(text: str) -> dict[str, int]:
    """How many letters of each script a text holds."""
    if text.isascii():  # a page in English: only Latin letters, counted without a pattern
        letters = len(text.encode("ascii").translate(None, _ASCII_NOT_LETTERS))
        return {name: letters if name == "latin" else 0 for name, _ in SCRIPTS}
    return {name: len(pattern.findall(text)) for name, pattern in SCRIPTS}


def detect_language(text: str, counts: dict[str, int] | None = None) -> tuple[str, str]:
    """(language code, direction) of a text; ``("und", "ltr")`` when there is too little to tell.

    Script first (Arabic, Hebrew, Hangul, kana, Han), then stopwords among Latin-script languages.
    ``counts``: the text's :func:`script_counts`, when made already.
    """
    counts = counts or script_counts(text)
    total = sum(counts.values())
    if total < 3:
        return "und", "ltr"
    if counts["arabic"] + counts["hebrew"] > 0.3 * total:
        return ("ar", "rtl") if counts["arabic"] >= counts["hebrew"] else ("he", "rtl")
    if counts["hangul"] > 0.2 * total:
        return "ko", "ltr"
    if counts["kana"] > 0.05 * total:
        return "ja", "ltr"
    if counts["han"] > 0.2 * total:
        return "zh", "ltr"
    lower = text.lower()
    # Whole words only: not the "al-" of a transliterated Arabic name, nor a lone letter.
    words = re.findall(r"(?<![\w-])[a-zà-ÿß]{2,}(?![\w-])", lower)
    scores = {lang: sum(w in sw for w in words) for lang, sw in STOPWORD_SETS.items()}
    if not any(scores.values()):  # no function words (receipts, forms): letters and spellings
        scores = {lang: sum(lower.count(m) for m in ms) for lang, ms in SPELLINGS.items()}
    best = max(scores, key=scores.get)
    return (best if scores[best] > 0 else "en"), "ltr"


def dominant_script(text: str, counts: dict[str, int] | None = None) -> str:
    """The script most letters of a text are in (``none`` without letters)."""
    counts = counts or script_counts(text)
    best = max(counts, key=counts.get)
    return best if counts[best] else "none"


# Letters Persian (and Urdu) write that Arabic does not (پ چ ژ گ, the Persian forms of yeh and
# kaf), and letters Arabic writes that Persian does not (ة, the Arabic forms of yeh and kaf, ى).
PERSIAN_LETTERS = re.compile("[\u067e\u0686\u0698\u06af\u06cc\u06a9]")
ARABIC_LETTERS = re.compile("[\u0629\u064a\u0643\u0649]")


def persian_or_arabic(text: str) -> str | None:
    """``fa`` or ``ar`` for a text in the Arabic script, by the letters only one of the two
    languages writes; None when neither shows."""
    fa, ar = len(PERSIAN_LETTERS.findall(text)), len(ARABIC_LETTERS.findall(text))
    return None if fa == ar == 0 else ("fa" if fa > ar else "ar")


_RTL_CHAR = re.compile("[\u0590-\u06ff\u0750-\u077f\ufb1d-\ufdff\ufe70-\ufefc]")


def is_rtl(text: str) -> bool:
    """Whether a line's strong characters are mostly right-to-left."""
    if not _RTL_CHAR.search(text):  # most lines: no need to count every script
        return False
    counts = script_counts(text)
    rtl = counts["arabic"] + counts["hebrew"]
    return rtl > 0 and rtl >= counts["latin"]


def has_cjk(text: str) -> bool:
    return bool(CJK.search(text))


_CJK_CHARS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
_TOKEN = re.compile(f"[{_CJK_CHARS}]|[^\\W_{_CJK_CHARS}]+")


def tokens(text: str) -> list[str]:
    """Comparison tokens: words for spaced scripts, single characters for Chinese, Japanese and
    Korean (whose words are not spaced, or not reliably), after normalising."""
    return _TOKEN.findall(normalize(text))


def token_spans(text: str) -> tuple[list[str], list[tuple[int, int]], int]:
    """:func:`tokens`, each token's characters ``[start, end)`` in the normalised text, and
    that text's length."""
    norm = normalize(text)
    found = list(_TOKEN.finditer(norm))
    return [m.group() for m in found], [m.span() for m in found], len(norm)


def ngrams(items: list[str], n: int) -> set[tuple[str, ...]]:
    """The n-grams of a token list (the whole list when it is shorter than n)."""
    if len(items) <= n:
        return {tuple(items)} if items else set()
    return {tuple(items[i : i + n]) for i in range(len(items) - n + 1)}
