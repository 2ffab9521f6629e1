"""OCR on scans of real pages in the eight supported languages: docgen against Debian's
`tesseract` command on the same images.

Corpus: Debian's TeX Live language packages (fetched once with ``apt-get download`` into
$DOCGEN_BENCH_CACHE-ocr, default /tmp/docgen-bench-ocr): manuals and guides written in each
language, several fonts. From each document, ``--pages`` pages holding at least 150 tokens of
its language are taken (from the fourth page on, past covers and tables of contents).

Each page is rendered at 200 dpi in grey, the way a scanner delivers it, and the picture alone
is put in a PDF (``tests/pdfs.scan_of``). Then, on the same picture:
- docgen: ``extract_page`` with the default config (OCR on, every configured language pack);
- the CLI with the five packs docgen used to load for every page
  (``tesseract IMG stdout -l eng+ara+chi_sim+jpn+kor``), and with the page's own pack alone
  (``-l fra``): the best a user who knows each page's language gets.
Reference: the page's own text layer as docgen reads it (reading order, ligatures, RTL lines
rebuilt). Score: the share of the reference's tokens found in the OCR text (a multiset
intersection): characters for Chinese, Japanese and Korean (their words have no reliable
spaces), words of two letters or more elsewhere; all in docgen's comparison form. Also: the
language docgen detects on the OCR text, and seconds per page.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from extract import CACHE as BENCH_CACHE  # noqa: E402
from extract import debian_docs  # noqa: E402

CACHE = BENCH_CACHE.with_name(BENCH_CACHE.name + "-ocr")
# language: (Debian package, documents under usr/share/doc/texlive-doc, tesseract pack, script)
CORPUS = {
    "en": ("texlive-lang-chinese", ["latex/fduthesis/fduthesis-en.pdf",
                                    "latex/nanicolle/nanicolle-doc-en.pdf"], "eng", "Latin"),
    "fr": ("texlive-lang-french", ["latex/latex2e-help-texinfo-fr/latex2e-fr.pdf",
                                   "latex/apprends-latex/Apprends_LaTeX.pdf"], "fra", "Latin"),
    "de": ("texlive-lang-german", ["latex/biblatex-german/biblatex-de-Benutzerhandbuch.pdf",
                                   "latex/hausarbeit-jura/hausarbeit-jura.pdf"], "deu", "Latin"),
    "es": ("texlive-lang-spanish", ["latex/latex2e-help-texinfo-spanish/latex2e-es.pdf",
                                    "generic/FAQ-en/FAQ-CervanTeX.pdf"], "spa", "Latin"),
    # Arabic and Persian apart: Tesseract's Arabic script model reads Persian better than the
    # ara pack and Arabic worse (a book, a sample book, an example document; then three manuals)
    "ar": ("texlive-lang-arabic", ["xelatex/arabic-book/arabic-book.pdf",
                                   "latex/arabi/samplebook.pdf",
                                   "latex/arabi-add/arabi-add-example.pdf"], "ara", "Arabic"),
    "fa": ("texlive-lang-arabic", ["latex/lshort-persian/lshort.pdf",
                                   "latex/hvarabic/hvarabic.pdf",
                                   "bibtex/alpha-persian/alpha-persian-p.userguide.pdf"],
           "fas", "Arabic"),
    "zh": ("texlive-lang-chinese", ["latex/ctex/ctex-faq.pdf",
                                    "latex/lshort-chinese/lshort-zh-cn.pdf"], "chi_sim", "Han"),
    "ja": ("texlive-lang-japanese", ["latex/jlreq/jlreq-ja.pdf",
                                     "platex/jsclasses/jlshort.pdf"], "jpn", "Japanese"),
    "ko": ("texlive-lang-korean", ["latex/lshort-korean/lshort-ko.pdf",
                                   "latex/kotex-utf/kotex-utf-doc.pdf"], "kor", "Hangul"),
}  # fmt: skip
FIVE = "eng+ara+chi_sim+jpn+kor"


def fetch(package: str) -> Path:
    return debian_docs(package, CACHE)


def find(root: Path, doc: str) -> Path:
    path = root / doc
    if path.exists():
        return path
    matches = sorted(root.rglob(Path(doc).name))  # the folder moved between releases
    if not matches:
        raise SystemExit(f"{doc} is not in {root}")
    return matches[0]


def page_text(page) -> str:
    from docgen.extract import layout

    return "\n".join(line["text"] for line in layout.visual_lines(layout.text_dict(page)))


def pick_pages(pdf: Path, lang: str, n: int) -> list[int]:
    import pymupdf
    from test_ocr import tokens

    from docgen.core.text import detect_language, persian_or_arabic

    chosen = []
    with pymupdf.open(pdf) as doc:
        for number in range(3, doc.page_count):
            text = page_text(doc[number])
            said = detect_language(text)[0]
            said = persian_or_arabic(text) if said == "ar" else said  # Arabic or Persian
            if sum(tokens(text).values()) >= 150 and said == lang:
                chosen.append(number)
            if len(chosen) == n:
                break
    return chosen


def measure(job: tuple) -> dict:
    """One page: docgen and the CLI on the same 200-dpi picture."""
    import pymupdf
    from pdfs import scan_of
    from test_ocr import found

    from docgen.core.config import ExtractConfig
    from docgen.extract.document import extract_page

    lang, pdf, number, pack, settings = job
    with pymupdf.open(pdf) as doc:
        reference = page_text(doc[number])
        one = pymupdf.open()
        one.insert_pdf(doc, from_page=number, to_page=number)
        scan = scan_of(one.tobytes())
    page = pymupdf.open(stream=scan)[0]
    picture = page.get_images(full=True)[0][0]
    image = pymupdf.Pixmap(page.parent, picture).tobytes("png")  # the scan's own pixels
    result = {"lang": lang, "doc": pdf.name, "page": number + 1}
    start = time.perf_counter()
    row = extract_page(page, "d", pdf.name, 1, ExtractConfig(**settings))
    result["docgen"] = (found(reference, row["text"]), time.perf_counter() - start)
    result["detected"] = row["lang"]
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    for name, packs in (("cli_five", FIVE), ("cli_own", pack)):
        start = time.perf_counter()
        argv = ["tesseract", "stdin", "stdout", "-l", packs]
        out = subprocess.run(argv, input=image, capture_output=True, env=env).stdout
        out = out.decode("utf-8", "replace")
        result[name] = (found(reference, out), time.perf_counter() - start)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=2, help="pages per document")
    parser.add_argument("--langs", default=",".join(CORPUS))
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="an extract setting for docgen's side, e.g. ocr_dpi=200")  # fmt: skip
    args = parser.parse_args()
    settings = {k: int(v) if v.isdigit() else v for k, _, v in (s.partition("=") for s in args.set)}
    jobs = []
    for lang in args.langs.split(","):
        package, docs, pack, _ = CORPUS[lang]
        root = fetch(package)
        for doc in docs:
            pdf = find(root, doc)
            jobs += [(lang, pdf, n, pack, settings) for n in pick_pages(pdf, lang, args.pages)]
    print(f"{len(jobs)} pages; {args.jobs} at a time")
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(measure, jobs))
    report(results)


def report(results: list[dict]) -> None:
    columns = ("docgen", "cli_five", "cli_own")
    print(f"\n{'lang':5} {'document':34} {'page':>4} " + " ".join(f"{c:>14}" for c in columns)
          + "  detected")  # fmt: skip
    by_lang, by_script = defaultdict(list), defaultdict(list)
    for r in results:
        cells = " ".join(f"{r[c][0]:7.1%} {r[c][1]:5.1f}s" for c in columns)
        print(f"{r['lang']:5} {r['doc'][:34]:34} {r['page']:4} {cells}  {r['detected']}")
        by_lang[r["lang"]].append(r)
        by_script[CORPUS[r["lang"]][3]].append(r)

    def mean(rows, column, i=0):
        return sum(r[column][i] for r in rows) / len(rows)

    print(f"\n{'':12} " + " ".join(f"{c:>14}" for c in columns) + "  language right")
    for name, rows in [*by_lang.items(), *by_script.items()]:
        cells = " ".join(f"{mean(rows, c):7.1%} {mean(rows, c, 1):5.1f}s" for c in columns)
        # (docgen gives Persian pages the Arabic script's one code, ar)
        right = sum(r["detected"] == {"fa": "ar"}.get(r["lang"], r["lang"]) for r in rows)
        print(f"{name:12} {cells}  {right}/{len(rows)}")


if __name__ == "__main__":
    main()
