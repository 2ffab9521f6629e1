"""Arabic-script page text on real PDFs: word-level agreement with a reference reading.

    .venv/bin/python bench/arabic.py [--pages 40]

Fetches ``texlive-lang-arabic`` with ``apt-get download`` (once, into $DOCGEN_BENCH_CACHE-arabic,
default /tmp/docgen-bench-arabic): Persian and Arabic manuals and samples made with XeTeX, LuaTeX
and older TeX engines, in several fonts. Up to ``--pages`` pages with Arabic-script text are
taken from each of the documents below, and from the Arabic samples of ``docgen samples``.

The reference: poppler's ``pdftotext -layout`` (Debian's poppler-utils, which orders
right-to-left lines with its own bidi code and keeps columns apart with runs of spaces), cut into
runs: the Arabic-script words of one line with nothing but single spaces between them. Of each
run, only the words MuPDF's own word list (ligatures preserved) also holds on the page: where the
two readers disagree on a word, it is not counted against docgen. Each run is looked for in the
docgen line that holds most of it, so the order of columns and of the runs of a mixed line, where
readers differ, does not count; everything in docgen's comparison form (``text.normalize``: NFKC,
Arabic letter variants), Arabic-script letters and digits only. Summed over pages:

- letters in order: the share of the runs' letters docgen's line has in the same order (matching
  blocks of a sequence alignment), word breaks left out: where the readers break a word that
  kashida stretching or an old font spreads out, docgen's whole word is not a miss;
- words in order: the same for words; a word docgen breaks or joins with its neighbour is a
  miss, and so is every word the reference breaks and docgen does not. A zero-width non-joiner
  counts as a word break on both sides (the readers write some as spaces, docgen as non-joiners;
  the unit tests check those);
- لا words in order: the same, for the reference words holding lam-alef, the pattern the
  ligature broke.

Side by side: docgen now, and docgen as it was (MuPDF expanding ligatures itself, its span order
kept).
"""

from __future__ import annotations

import argparse
import difflib
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from extract import CACHE, debian_docs  # noqa: E402

PACKAGE = "texlive-lang-arabic"
DOCS = [
    "latex/lshort-persian/lshort.pdf",
    "bibtex/alpha-persian/alpha-persian-p.userguide.pdf",
    "latex/texnegar/texnegar-doc.pdf",
    "latex/arabi/user_guide.pdf",
    "latex/quran/quran-doc.pdf",
    "latex/hvarabic/hvarabic.pdf",
    "fonts/dad/dad-user-guide.pdf",
]
# Arabic-script letters and digits (presentation forms included; not the punctuation: comma,
# semicolon, question mark, full stop, percent and separators, ornate parentheses).
WORD = re.compile(
    r"[\u0600-\u060b\u060d-\u061a\u061c-\u061e\u0620-\u0669\u066e-\u06d3\u06d5-\u06ff"
    r"\ufb50-\ufd3d\ufd40-\ufdff\ufe70-\ufefc\u200c]+"
)


def corpus() -> Path:
    return debian_docs(PACKAGE, CACHE.with_name(CACHE.name + "-arabic"))  # not extract.py's


def words(text: str) -> list[str]:
    from docgen.core.text import normalize

    return [w for m in WORD.finditer(text) for w in normalize(m.group()).split("\u200c") if w]


BIDI_MARKS = re.compile("[\u200e\u200f\u202a-\u202e]")


def runs(text: str) -> list[list[str]]:
    """Each line's right-to-left runs: Arabic-script words with nothing but spaces between."""
    found = []
    for line in BIDI_MARKS.sub("", text).splitlines():
        run, last = [], 0
        for m in WORD.finditer(line):
            between = line[last : m.start()]
            if run and (between.strip() or "  " in between):  # (two spaces: another column)
                found.append(run)
                run = []
            run += words(m.group())
            last = m.end()
        if run:
            found.append(run)
    return found


def in_order(ref_runs: list[list[str]], lines: list[list[str]]) -> tuple[int, int]:
    """Reference words, and reference letters, found in order: each run in the line that holds
    most of it (lines given as word lists; letters compared without word breaks)."""
    holding: dict[str, set[int]] = {}
    for n, line in enumerate(lines):
        joined = "".join(line)
        for i in range(len(joined) - 2):
            holding.setdefault(joined[i : i + 3], set()).add(n)
    found_words = found_letters = 0
    for run in ref_runs:
        joined = "".join(run)
        near = set().union(*(holding.get(joined[i : i + 3], set()) for i in range(len(joined) - 2)))
        near = near or set(range(len(lines)))  # (a run of one or two letters)
        found_words += max((agreement(run, lines[n]) for n in near), default=0)
        found_letters += max((agreement(joined, "".join(lines[n])) for n in near), default=0)
    return found_words, found_letters


def reference(pdf: Path, page: int) -> str:
    command = ["pdftotext", "-layout", "-f", str(page), "-l", str(page), "-enc", "UTF-8"]
    done = subprocess.run([*command, str(pdf), "-"], capture_output=True, text=True)
    return done.stdout


def docgen_text(page, before: bool) -> str:
    """The extract stage's page text; ``before``: as it was (MuPDF's ligatures, its order)."""
    from docgen.core.config import ExtractConfig
    from docgen.extract import layout
    from docgen.extract.document import extract_page

    saved = layout.TEXT_FLAGS, layout.has_rtl
    if before:
        layout.TEXT_FLAGS, layout.has_rtl = 2 | 64, lambda text: False
    try:
        return extract_page(page, "d", "x.pdf", 1, ExtractConfig(ocr="off", tables="off"))["text"]
    finally:
        layout.TEXT_FLAGS, layout.has_rtl = saved


def agreement(ref, got) -> int:
    """How many reference words (or letters) stand, in order, in ``got``."""
    matcher = difflib.SequenceMatcher(None, ref, got, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks())


def measure(pdf: Path, max_pages: int) -> Counter:
    import pymupdf

    totals = Counter()
    with pymupdf.open(pdf) as doc:
        for number in range(doc.page_count):
            if totals["pages"] >= max_pages:
                break
            page = doc[number]
            poppler_text = reference(pdf, number + 1)
            poppler = words(poppler_text)
            mupdf = words(" ".join(w[4] for w in page.get_text("words", flags=1 | 2 | 64)))
            both = set(Counter(poppler) & Counter(mupdf))
            ref = [kept for run in runs(poppler_text) if (kept := [w for w in run if w in both])]
            if sum(map(len, ref)) < 5:
                continue
            la = [kept for run in ref if (kept := [w for w in run if "لا" in w])]
            totals.update(pages=1, words=sum(map(len, ref)), la=sum(map(len, la)),
                          letters=sum(len(w) for run in ref for w in run))  # fmt: skip
            for side in ("now", "before"):
                text = docgen_text(page, side == "before")
                lines = [words(line) for line in text.splitlines()]
                found_words, found_letters = in_order(ref, lines)
                totals[side] += found_words
                totals[f"letters_{side}"] += found_letters
                totals[f"la_{side}"] += in_order(la, lines)[0]
    return totals


def row(name: str, t: Counter) -> str:
    def pct(key, of):
        return f"{100 * t[key] / t[of]:6.1f}%" if t[of] else "      -"

    return (f"{name:50s} {t['pages']:4d} {t['letters']:6d} {pct('letters_now', 'letters')} "
            f"{pct('letters_before', 'letters')} {t['words']:6d} {pct('now', 'words')} "
            f"{pct('before', 'words')} {t['la']:5d} {pct('la_now', 'la')} "
            f"{pct('la_before', 'la')}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=40, help="pages per document at most")
    args = parser.parse_args()
    from docgen.samples import make_corpus

    root = corpus()
    samples = Path(tempfile.mkdtemp()) / "samples"
    make_corpus(samples, progress=False)
    docs = [(d, root / d) for d in DOCS] + [
        (f"samples/{p.name}", p) for p in sorted(samples.glob("*-ar.pdf"))
    ]
    print(f"{'':55s} {'letters in order':^22s} {'words in order':^22s} {'لا words in order':^21s}")
    print(f"{'document':50s} {'pages':>4s} " + f"{'n':>6s} {'now':>7s} {'before':>7s} " * 3)
    grand: dict[str, Counter] = {"real": Counter(), "samples": Counter()}
    for name, pdf in docs:
        t = measure(pdf, args.pages)
        group = "samples" if name.startswith("samples/") else "real"
        grand[group].update(t)
        if group == "real":
            print(row(name, t))
    for group, t in grand.items():
        print(row(f"all {group}", t))


if __name__ == "__main__":
    main()
