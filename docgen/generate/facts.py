"""What a page states that a reader would ask about, found from its structure alone (the
``rules`` backend's facts; every answer is copied from the page).

- ``title``, ``author``, ``doc_date``, ``version``: the first page's largest line near the top,
  and the short lines under it that name people or give a date or a version (a title page, a
  manual's front matter);
- ``heading``: numbered section headings whose typography says so (larger or bold, prose words,
  no page number at the end, not a numbered paragraph);
- ``caption``: "Figure 4.3: …", "Table 2. …" (in each supported language) — what it shows;
- ``field``, ``date``, ``amount``, ``definition``: ``label: value`` lines where the label reads as
  a label (a value that opens with an article defines it: "Kerning: the space between …");
- ``table``: table cells (row label × column header) of tables of words, not of symbols.

What is not prose or a field is never asked about: monospaced lines (code and verbatim), lines
dense in code or math symbols, macro names, dot leaders of a table of contents, values that
run on into the next line, labels that are sentence fragments.
"""

from __future__ import annotations

import re
from statistics import median

from docgen.extract.tables import parse_markdown_table
from docgen.generate.triage import LEADER, codeish

KV = re.compile(r"^(?P<key>[^:：]{1,60}?)\s*[:：]\s*(?P<value>\S.*)$")
HEADING = re.compile(r"^(?P<n>\d{1,2}(?:\.\d{1,2})*)\s*\.?\s+(?P<title>\S.{1,80})$")
CAPTION_LABEL = re.compile(r"\b(?:Figure|Fig\.|Table|Abbildung|Tabelle|Tableau|Tabla)\s*\d", re.I)
CAPTION = re.compile(
    r"^(?P<label>(?:Figure|Fig\.|Table|Listing|Abbildung|Abb\.|Tabelle|Tableau|Figura|Tabla|"
    r"図|表|图|그림|표|شكل|شکل|جدول)\s*\d{1,3}(?:[.\-]\d{1,3})?)\s*[:.：—–-]?\s+(?P<text>\S.{2,160})$",
    re.IGNORECASE,
)
DATE = re.compile(
    r"^(\d{1,4}[./-]\d{1,2}[./-]\d{1,4}"
    r"|\d{4}\s*[年년]\s*\d{1,2}\s*[月월]\s*\d{1,2}\s*[日일]"
    r"|\d{1,2}\.?\s+[^\W\d_]{3,12}\.?\s+\d{4}"
    r"|[^\W\d_]{3,12}\.?\s+\d{1,2},?\s+\d{4})$"
)
# A date inside a short front-matter line ("2019/12/09 v1.5", "January 2023", "3. März 2021").
MONTH = (
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|Janvier|Février|Mars|Avril|Mai|"
    r"Juin|Juillet|Août|Septembre|Octobre|Novembre|Décembre|Januar|Februar|März|Juni|Juli|"
    r"Oktober|Dezember|Enero|Febrero|Marzo|Abril|Mayo|Junio|Julio|Agosto|Septiembre|Octubre|"
    r"Noviembre|Diciembre)[a-z]*\.?"
)
SOME_DATE = re.compile(
    rf"\b(\d{{4}}[/-]\d{{1,2}}[/-]\d{{1,2}}|\d{{1,2}}[./]\d{{1,2}}[./]\d{{4}}"
    rf"|{MONTH} (?:\d{{1,2}}, )?\d{{4}}|\d{{1,2}}\.? {MONTH} \d{{4}}"
    rf"|\d{{4}}\s*年\s*\d{{1,2}}\s*月(?:\s*\d{{1,2}}\s*日)?)(?!\w)",
    re.IGNORECASE,
)
# A version under the title ("2019/12/09 v1.5", "Version 2.08").
VERSION = re.compile(r"(?<![\w.])(?:v|version\s|versión\s)\d+(?:\.\d+)+[a-z]?(?!\w|\.\d)", re.I)
CURRENCY = "$€£¥₩₹円元원﷼"
AMOUNT = re.compile(
    rf"^(?:[{CURRENCY}]\s?|[A-Z]{{3}}\s)?-?\d[\d,.\s]*\d?"
    rf"(?:\s?[{CURRENCY}%]|\s?[A-Z]{{3}}|\s?(?:ريال|ر\.س|درهم|دينار|جنيه|руб))?$"
)
# Never in a form label or a table heading: code and markup; never in a value: macros, braces.
MARKUP = re.compile(r"[\\{}$@^~=<>\[\]]|\b\w+_\w+\b")
MACRO = re.compile(r"\\[A-Za-z@]+|[{}]|\b\w+_\w+\b")
MATH = set("∑∫∏√∞∂∇∈∉⊂⊆⊃∪∩≤≥≠≈≡±×÷→⇒⇔↦∀∃^_=+")
BULLET = "∗*•·‣◦-–— "
NAME_WORD = re.compile(r"^(?:[A-Z][a-zà-ÿ'’\-]+\.?|[A-Z]\.|van|von|de|der|da|di|del|la|le)$")


def is_amount(value: str) -> bool:
    return (
        bool(AMOUNT.match(value))
        and any(c.isdigit() for c in value)
        and (any(c in CURRENCY for c in value) or "," in value or "." in value
             or "ريال" in value or re.search(r"\b[A-Z]{3}\b", value) is not None)
    )  # fmt: skip


# A value that opens with an article defines its label ("Kerning: the space between …").
DEFINES = re.compile(
    r"^(the|a|an|any|le|la|les|un|une|der|die|das|ein|eine|el|los|las|una)\s", re.IGNORECASE
)


def kind_of(value: str) -> str:
    if DATE.match(value):
        return "date"
    if DEFINES.match(value) and len(value.split()) >= 4:
        return "definition"
    return "amount" if is_amount(value) else "field"


def letters_share(text: str) -> float:
    chars = [c for c in text if not c.isspace()]
    return sum(c.isalpha() for c in chars) / len(chars) if chars else 0.0


def mathish(text: str) -> bool:
    chars = [c for c in text if not c.isspace()]
    signs = sum(c in MATH for c in chars)
    return signs >= 2 and signs / len(chars) >= 0.15


def prose(line: dict) -> bool:
    """Running text or a field: not a code or verbatim line, not dense in code or math."""
    text = line["text"]
    return not (line.get("mono") or codeish(text) or mathish(text) or LEADER.search(text))


# Words of a sentence, not of a label, in scripts without capitals to tell a label by ("is",
# "this", "which", object and verb marks): "برای نصب این بسته کافی است:" is a sentence.
SENTENCE_WORDS = set(
    "است هست بود شد کنید کنیم می‌شود را که این آن هذا هذه التي الذي أن إن كان يكون".split()
)
PAIRS = ("「」", "『』", "()", "（）", "“”", "«»", "[]", "【】")


def balanced(text: str) -> bool:
    """No bracket or quotation mark left open or closed alone (a label or value cut in two)."""
    return all(text.count(a) == text.count(b) for a, b in PAIRS)


def label_like(key: str) -> bool:
    """A form label: short words starting with a capital (or a script without case: then no
    word of a sentence), no sentence punctuation, code, markup or numbers-only."""
    words = key.split()
    caseless = key[:1].isalpha() and not key[:1].isupper() and not key[:1].islower()
    return (
        not (caseless and SENTENCE_WORDS.intersection(words))
        and balanced(key)
        and 0 < len(key) <= 40
        and len(words) <= 5
        and (key[0].isupper() or (key[0].isalpha() and not key[0].islower()))
        and letters_share(key) >= 0.6
        and sum(c.isalpha() for c in key) >= 2
        and not MARKUP.search(key)
        and not re.search(r"[,;.!?。！？]$|[,;]|https?|www\.|/{2}", key)
    )


def runs_on(text: str, lines: list[dict], i: int) -> bool:
    """Whether line ``i``'s ``text`` goes on in the next line (so it is only a part)."""
    follows = lines[i + 1]["text"].strip() if i + 1 < len(lines) else ""
    return len(text) > 40 and follows[:1].islower() and not KV.match(follows)


def key_values(lines: list[dict]) -> list[dict]:
    """``label: value`` lines; labels seen twice with different values are ambiguous and dropped,
    and so is a value that runs on into the next line (only its start would be the answer)."""
    found: dict[str, set] = {}
    order = []
    for i, line in enumerate(lines):
        text = line["text"].strip()
        m = KV.match(text)
        if not m or not prose(line) or CAPTION.match(text):
            continue
        key, value = m["key"].strip().lstrip(BULLET), m["value"].strip()
        if re.search(r"\d$", key) and re.match(r"\d", value):  # a time such as 14:30
            continue
        if CAPTION_LABEL.search(key) or value.endswith((":", "：", ",", "，", "、", ";")):
            continue  # a caption after other text; a value cut where its line ends
        if not balanced(value):
            continue  # a quotation or bracket cut in two by the colon
        fits = label_like(key) and 0 < len(value) <= 120 and not MACRO.search(value)
        if fits and not runs_on(value, lines, i):
            if key not in found:
                order.append(key)
            found.setdefault(key, set()).add(value)
    return [{"kind": kind_of(v), "key": k, "answer": v} for k in order if len(found[k]) == 1
            for v in found[k]]  # fmt: skip


def title_of(lines: list[dict]) -> str | None:
    """The document title: the largest line near the top, clearly bigger than body text."""
    found = title_lines(lines)
    return " ".join(line["text"].strip() for line in lines[found[0] : found[1]]) if found else None


def title_lines(lines: list[dict]) -> tuple[int, int] | None:
    """Where the title stands: (first line, line after it)."""
    if len(lines) < 2:
        return None
    body = median(line["size"] for line in lines)
    i = max(range(min(3, len(lines))), key=lambda k: lines[k]["size"])
    end = i + 1
    while end < len(lines) and abs(lines[end]["size"] - lines[i]["size"]) <= 0.5:
        end += 1  # a long title wraps onto lines of the same size
    text = " ".join(line["text"].strip() for line in lines[i:end])
    if lines[i]["size"] >= 1.3 * body and 2 <= len(text) <= 160 and not KV.match(text):
        return None if text.endswith((",", "-", "(")) else (i, end)  # (cut where it wraps)
    return None


def front_matter(lines: list[dict], after: int) -> list[dict]:
    """Under the title: an author line (a name of two to four capitalised words that a footnote
    mark, an e-mail address below it or a "by" marks as the author's), a date and a version."""
    found = []
    for i in range(after, min(after + 6, len(lines))):
        raw = lines[i]["text"].strip()
        text = raw.strip(BULLET)
        if HEADING.match(text) or len(text) > 60:
            break
        if KV.match(text):
            continue  # a field, asked about as one
        below = lines[i + 1]["text"] if i + 1 < len(lines) else ""
        by = re.match(r"(?i)(by|von|par|por|di)\s+", text)
        name = text[by.end() :] if by else text
        words = [w.strip("∗*†‡,") for w in name.split()]
        marked = by or re.search(r"[∗*†‡]", raw) or "@" in below
        if marked and 2 <= len(words) <= 4 and all(NAME_WORD.match(w) for w in words if w):
            if not any(f["kind"] == "author" for f in found):
                found.append({"kind": "author", "key": "author", "answer": name.strip("∗*†‡ ")})
            continue
        if (m := SOME_DATE.search(text)) and not any(f["kind"] == "doc_date" for f in found):
            found.append({"kind": "doc_date", "key": "date", "answer": m[0]})
        if (m := VERSION.search(text)) and not any(f["kind"] == "version" for f in found):
            found.append({"kind": "version", "key": "version", "answer": m[0]})
    return found


def heading_title(title: str) -> bool:
    """Words of a heading, not numbers, a numbered paragraph or a contents line."""
    words = title.split()
    return (
        letters_share(title) >= 0.5
        and sum(c.isalpha() for c in title) >= 3
        and len(words) <= 12
        and not re.search(r"\s\d{1,4}$|[-,;:]$", title)
        and not re.match(r"\d+(\.\d+)*\s", title)  # a running header: page, section, title
        and not (len(words) > 6 and re.search(r"[.!?]\s", title))
    )


def headings(lines: list[dict]) -> list[dict]:
    body = median(line["size"] for line in lines) if lines else 0
    out, seen = [], set()
    for line in lines:
        m = HEADING.match(line["text"].strip())
        if not m or not prose(line) or not (line["size"] >= 1.1 * body or line["bold"]):
            continue
        title = m["title"].strip()
        if heading_title(title) and m["n"] not in seen and m["n"] != "0":
            seen.add(m["n"])
            out.append({"kind": "heading", "key": m["n"], "answer": title})
    return out


def captions(lines: list[dict]) -> list[dict]:
    out, seen = [], set()
    for i, line in enumerate(lines):
        m = CAPTION.match(line["text"].strip())
        if (
            m
            and prose(line)
            and not runs_on(m["text"], lines, i)
            and letters_share(m["text"]) >= 0.6
            and not MACRO.search(m["text"])
        ):
            label = " ".join(m["label"].split())
            if label.lower() not in seen:
                seen.add(label.lower())
                out.append({"kind": "caption", "key": label, "answer": m["text"].strip()})
    return out


def wordy(cell: str) -> bool:
    """A cell of words: a table of symbols, glyphs or code is no table to ask about; nor a cell
    cut (a word broken at its end, a bracket left open) or garbled (mostly single letters)."""
    return sum(c.isalpha() for c in cell) >= 2 and not MARKUP.search(cell) and whole(cell)


def whole(cell: str) -> bool:
    """Not cut (a word broken at its end, a bracket left open, a trailing comma) or garbled
    (mostly single letters: "b o l d")."""
    singles = [w for w in cell.split() if len(w) == 1 and w.isalpha()]
    return balanced(cell) and not cell.endswith(("-", ",")) and len(singles) * 2 < len(cell.split())


def table_cells(markdown: str) -> list[dict]:
    rows = parse_markdown_table(markdown)
    header, body = rows[0], rows[1:]
    labels = [r[0] for r in body]
    if sum(map(wordy, header[1:])) < max(1, len(header[1:]) // 2):
        return []  # the columns must be named in words
    out = []
    for row in body:
        label = row[0]
        if not label or labels.count(label) > 1 or not wordy(label):
            continue
        for col, cell in zip(header[1:], row[1:]):
            if (
                col
                and cell
                and header.count(col) == 1
                and wordy(col)
                and not MACRO.search(cell)
                and whole(cell)
            ):
                out.append({"kind": "table", "key": [label, col], "answer": cell})
    return out


def facts_of_page(page: dict) -> list[dict]:
    lines = list(page["lines"])
    found = []
    if page["page"] == 1 and (where := title_lines(lines)):
        title = " ".join(line["text"].strip() for line in lines[where[0] : where[1]])
        found.append({"kind": "title", "key": "title", "answer": title})
        found += front_matter(lines, where[1])
    found += headings(lines) + captions(lines) + key_values(lines)
    for md in page["tables"]:
        found += table_cells(md)
    return found
