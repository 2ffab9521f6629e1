"""Deterministic content for the sample corpus: documents as lists of pages of blocks.

A block is a small dict (``title``, ``line``, ``fields``, ``table``, ``heading``, ``para``); the
renderer turns blocks into a PDF page and :func:`facts` turns them into the ground truth a test can
check generated pairs against. Nothing here knows about PDF.

Over 300 lines on purpose: most of it is the corpus's kinds of document, one short builder
each (invoice, receipt, form, report, letter, paper, in eight languages); split, they would
only be read together.
"""

from __future__ import annotations

import random
from functools import cache
from importlib import resources

import yaml

LANGS = ("en", "fr", "de", "es", "ar", "zh", "ja", "ko")
KINDS = ("invoice", "receipt", "form", "report", "letter", "paper")

PHONE_FORMATS = {
    "en": "+44 {a} {b} {c}",
    "fr": "+33 {a} {b} {c}",
    "de": "+49 {a} {b} {c}",
    "es": "+34 {a} {b} {c}",
    "ar": "05{a}{b}{c}",
    "zh": "010-{a}{b}{c}",
    "ja": "03-{a}-{c}",
    "ko": "02-{a}-{c}",
}
ADDRESS_FORMATS = {
    "en": "{n} {street}, {city}",
    "fr": "{n} {street}, {city}",
    "de": "{street} {n}, {city}",
    "es": "{street} {n}, {city}",
    "ar": "{street}، {city}",
    "zh": "{city}{street}{n}号",
    "ja": "{city}{street}{n}番地",
    "ko": "{city} {street} {n}",
}


@cache
def language_pack(lang: str) -> dict:
    """The vocabulary and formats of one language (``docgen/samples/lang/<lang>.yaml``)."""
    text = resources.files("docgen.samples").joinpath(f"lang/{lang}.yaml").read_text("utf-8")
    return yaml.safe_load(text)


class Writer:
    """Draws values for one document from a seeded generator, in one language's conventions."""

    def __init__(self, lang: str, seed: int):
        self.lang, self.pack, self.rng = lang, language_pack(lang), random.Random(seed)

    def pick(self, key: str, k: int | None = None):
        items = self.pack[key]
        return self.rng.choice(items) if k is None else self.rng.sample(items, k)

    def label(self, key: str) -> str:
        return self.pack["labels"][key]

    def date(self, year: int | None = None) -> str:
        y = year or self.rng.randint(2019, 2025)
        m, d = self.rng.randint(1, 12), self.rng.randint(1, 28)
        months = self.pack.get("months") or [""] * 12
        return self.pack["date"].format(
            y=y, m=m, d=d, dd=f"{d:02d}", mm=f"{m:02d}", month_name=months[m - 1]
        )

    def money(self, value: float) -> str:
        whole, cents = divmod(round(value * 100), 100)
        text = f"{whole:,}".replace(",", self.pack["thousands"])
        if not self.pack.get("integer_money"):
            text += f"{self.pack['decimal']}{cents:02d}"
        return self.pack["money"].format(amount=text)

    def amount(self, low: float, high: float) -> float:
        scale = 100 if self.pack.get("integer_money") else 1
        return round(self.rng.uniform(low, high) * scale, 0 if scale > 1 else 2)

    def person(self) -> str:
        first, last = self.pick("first_names"), self.pick("last_names")
        return f"{first} {last}" if self.pack["name_order"] == "first_last" else f"{last}{first}"

    def phone(self) -> str:
        r = self.rng.randint
        return PHONE_FORMATS[self.lang].format(a=r(100, 999), b=r(100, 999), c=r(1000, 9999))

    def address(self) -> str:
        return ADDRESS_FORMATS[self.lang].format(
            n=self.rng.randint(2, 98), street=self.pick("streets"), city=self.pick("cities")
        )

    def paragraph(self, n: int = 3) -> str:
        sep = "" if self.lang in ("zh", "ja") else " "
        return sep.join(self.pick("sentences", n))

    def number(self, prefix: str) -> str:
        return f"{prefix}-{self.rng.randint(2019, 2025)}-{self.rng.randint(1, 9999):04d}"


def fields(w: Writer, *pairs: tuple[str, str]) -> dict:
    return {"type": "fields", "items": [[w.label(k), v] for k, v in pairs]}


def items_table(w: Writer, n: int, columns: tuple[str, ...]) -> tuple[dict, float]:
    """A table of purchased items; returns the block and the sum of its amounts."""
    rows, total = [], 0.0
    for product in w.pick("products", n):
        qty = w.rng.randint(1, 12)
        price = w.amount(1.5, 80)
        total += qty * price
        row = {
            "description": product,
            "item": product,
            "quantity": str(qty),
            "unit_price": w.money(price),
            "price": w.money(qty * price),
            "amount": w.money(qty * price),
        }
        rows.append([row[c] for c in columns])
    return {"type": "table", "header": [w.label(c) for c in columns], "rows": rows}, total


def invoice(w: Writer) -> list[list[dict]]:
    table, subtotal = items_table(
        w, w.rng.randint(3, 6), ("description", "quantity", "unit_price", "amount")
    )
    tax = round(subtotal * 0.2, 0 if w.pack.get("integer_money") else 2)
    return [
        [
            {"type": "title", "text": w.pack["titles"]["invoice"]},
            {"type": "line", "text": w.pick("companies")},
            {"type": "line", "text": w.address()},
            fields(
                w,
                ("invoice_number", w.number("INV")),
                ("date", w.date()),
                ("due_date", w.date()),
                ("customer", w.person()),
            ),
            table,
            fields(
                w,
                ("subtotal", w.money(subtotal)),
                ("tax", w.money(tax)),
                ("total", w.money(subtotal + tax)),
            ),
            {"type": "para", "text": w.paragraph(2)},
            stamp(w),
        ]
    ]


def stamp(w: Writer) -> dict:
    """A rubber stamp drawn as an image, slanted: its word and date are in the pixels only."""
    r = w.rng.randint
    return {"type": "stamp", "text": w.rng.choice(["PAID", "RECEIVED", "APPROVED"]),
            "date": f"{r(2019, 2025)}-{r(1, 12):02d}-{r(1, 28):02d}"}  # fmt: skip


def receipt(w: Writer) -> list[list[dict]]:
    table, total = items_table(w, w.rng.randint(2, 5), ("item", "quantity", "price"))
    r = w.rng.randint
    return [
        [
            {"type": "title", "text": w.pick("companies")},
            {"type": "line", "text": w.address()},
            fields(
                w,
                ("receipt_number", str(r(100000, 999999))),
                ("date", w.date()),
                ("time", f"{r(8, 21):02d}:{r(0, 59):02d}"),
                ("cashier", w.pick("first_names")),
            ),
            table,
            fields(w, ("total", w.money(total)), ("payment", w.pick("payments"))),
        ]
    ]


def form(w: Writer, pages: int) -> list[list[dict]]:
    s = w.pack["sections"]
    personal = [
        {"type": "heading", "number": "1", "text": s["personal"]},
        fields(
            w,
            ("full_name", w.person()),
            ("birth_date", w.date(w.rng.randint(1950, 2004))),
            ("nationality", w.pick("nationalities")),
        ),
    ]
    contact = [
        {"type": "heading", "number": "2", "text": s["contact"]},
        fields(
            w,
            ("phone", w.phone()),
            ("email", f"member{w.rng.randint(10, 999)}@example.org"),
            ("address", w.address()),
        ),
        {"type": "para", "text": w.paragraph(2)},
    ]
    head = [
        {"type": "title", "text": w.pack["titles"]["form"]},
        fields(w, ("application_number", str(w.rng.randint(10**7, 10**8 - 1))), ("date", w.date())),
    ]
    return [head + personal + contact] if pages == 1 else [head + personal, contact]


def report(w: Writer) -> list[list[dict]]:
    s, labels = w.pack["sections"], w.pack["labels"]
    sales = {
        "type": "table",
        "header": [labels["region"], *w.pack["quarters"]],
        "rows": [
            [region] + [w.money(w.amount(1e4, 9e4)) for _ in range(4)]
            for region in w.pick("regions", 4)
        ],
    }
    costs = {
        "type": "table",
        "header": [labels["department"], labels["budget"], labels["actual"]],
        "rows": [
            [d, w.money(w.amount(5e3, 5e4)), w.money(w.amount(5e3, 5e4))]
            for d in w.pick("departments", 4)
        ],
    }
    return [
        [
            {"type": "title", "text": w.pack["titles"]["report"]},
            fields(
                w,
                ("period", f"{w.pack['quarters'][0]} - {w.pack['quarters'][3]}"),
                ("prepared_by", w.person()),
                ("date", w.date()),
            ),
            {"type": "heading", "number": "1", "text": s["summary"]},
            {"type": "para", "text": w.paragraph(3)},
            sales,
        ],
        [
            {"type": "heading", "number": "2", "text": s["costs"]},
            costs,
            chart(w, s["costs"]),
            {"type": "para", "text": w.paragraph(4)},
        ],
    ]


def pie(w: Writer, caption: str) -> dict:
    """A pie chart drawn as an image: each slice's share is printed in the pixels only."""
    cuts = sorted(w.rng.sample(range(5, 95), 3))
    shares = [b - a for a, b in zip([0, *cuts], [*cuts, 100])]
    return {"type": "pie", "caption": caption, "labels": ["A", "B", "C", "D"], "values": shares}


def chart(w: Writer, caption: str) -> dict:
    """A bar chart drawn as an image: its values are in the pixels only, never in the text."""
    return {"type": "chart", "caption": caption, "labels": ["Q1", "Q2", "Q3", "Q4"],
            "values": [w.rng.randint(10, 95) for _ in range(4)]}  # fmt: skip


def letter(w: Writer) -> list[list[dict]]:
    sender = w.pick("companies")
    return [
        [
            {"type": "title", "text": sender},
            {"type": "line", "text": w.address()},
            fields(
                w,
                ("date", w.date()),
                ("reference", w.number("REF")),
                ("subject", w.pick("subjects")),
            ),
            {"type": "line", "text": w.pack["greeting"].format(name=w.person())},
            {"type": "para", "text": w.paragraph(3)},
            {"type": "para", "text": w.paragraph(2)},
            {"type": "line", "text": w.pack["closing"]},
            {"type": "line", "text": w.person()},
        ]
    ]


def paper(w: Writer) -> list[list[dict]]:
    s, labels = w.pack["sections"], w.pack["labels"]
    sep = "、" if w.lang in ("zh", "ja") else "، " if w.lang == "ar" else ", "
    results = {
        "type": "table",
        "header": [labels["method"], labels["accuracy"], labels["f1"]],
        "rows": [
            [m, f"{w.rng.uniform(60, 95):.1f}", f"{w.rng.uniform(0.5, 0.95):.2f}"]
            for m in w.pick("methods", 4)
        ],
    }
    return [
        [
            {"type": "title", "text": w.pick("paper_titles")},
            fields(
                w,
                ("authors", sep.join(w.person() for _ in range(3))),
                ("keywords", sep.join(w.pick("departments", 2) + w.pick("regions", 1))),
            ),
            {"type": "heading", "number": "1", "text": s["introduction"]},
            {"type": "para", "text": w.paragraph(4)},
            {"type": "heading", "number": "2", "text": s["method"]},
            {"type": "para", "text": w.paragraph(4)},
        ],
        [
            {"type": "heading", "number": "3", "text": s["results"]},
            {"type": "para", "text": w.paragraph(2)},
            results,
            pie(w, s["results"]),
            {"type": "heading", "number": "4", "text": s["conclusion"]},
            {"type": "para", "text": w.paragraph(3)},
        ],
    ]


def document(kind: str, lang: str, seed: int) -> list[list[dict]]:
    """The pages of one sample document, each a list of blocks; same arguments, same document."""
    w = Writer(lang, seed)
    if kind == "form":
        return form(w, pages=1 + seed % 2)
    return {
        "invoice": invoice,
        "receipt": receipt,
        "report": report,
        "letter": letter,
        "paper": paper,
    }[kind](w)


def facts(blocks: list[dict]) -> list[dict]:
    """The checkable facts of one page: title, fields, headings, table cells, and the values of
    charts and stamps (marked ``visual``: in the image only)."""
    out = []
    for b in blocks:
        if b["type"] == "title":
            out.append({"type": "title", "key": "title", "value": b["text"]})
        elif b["type"] == "fields":
            out += [{"type": "field", "key": k, "value": v} for k, v in b["items"]]
        elif b["type"] == "heading":
            out.append({"type": "heading", "key": b["number"], "value": b["text"]})
        elif b["type"] in ("chart", "pie"):  # what a model can only read off the page image
            unit = "%" if b["type"] == "pie" else ""
            out += [
                {"type": b["type"], "key": [b["caption"], label], "value": f"{value}{unit}",
                 "visual": True}
                for label, value in zip(b["labels"], b["values"])
            ]  # fmt: skip
        elif b["type"] == "stamp":
            out += [
                {"type": "stamp", "key": "stamp", "value": b["text"], "visual": True},
                {"type": "stamp", "key": "stamp date", "value": b["date"], "visual": True},
            ]
        elif b["type"] == "table":
            for row in b["rows"]:
                out += [
                    {"type": "cell", "key": [row[0], col], "value": cell}
                    for col, cell in zip(b["header"][1:], row[1:])
                ]
    return out
