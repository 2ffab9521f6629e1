"""The `rules` generator on real PDFs: 200 random kept pairs, each labelled by hand.

    .venv/bin/python bench/rules_quality.py              # counts, from bench/rules_labels.tsv
    .venv/bin/python bench/rules_quality.py --label      # the sampled pairs not yet labelled

Corpus: Debian's TeX documentation (the packages bench/extract.py fetches: texlive-latex-base-doc
and texlive-latex-recommended-doc, a seeded draw of 40 documents of 2 to 30 pages: package
manuals, code listings, LaTeX news, a Dutch and a German manual) and three Persian and Arabic
manuals of texlive-lang-arabic (bench/arabic.py's cache). docgen runs its built-in default config
on them (extract, triage, rules, filters); the 200 kept pairs with the lowest hash (document,
page, question, answer) are drawn: random, and stable across versions of the generator.

The rule each pair is labelled by: **sensible** when a person holding the page would ask that
question (it is about information the page gives its reader — not code, a fragment of a
sentence, or page furniture — and reads naturally) and the answer is right and complete (the
whole value or title, not a cut-off part). Labels live in bench/rules_labels.tsv, keyed by a
hash of the document, page, question and answer, so a pair changed by a later version of the
generator is labelled again.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import random
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from arabic import corpus as arabic_corpus  # noqa: E402
from extract import corpus  # noqa: E402

LABELS = ROOT / "bench" / "rules_labels.tsv"
ARABIC_DOCS = [
    "bibtex/alpha-persian/alpha-persian-p.userguide.pdf",
    "fonts/dad/dad-user-guide.pdf",
    "latex/hvarabic/hvarabic.pdf",
]
SAMPLE = 200


def documents() -> list[Path]:
    docs = [path for path, pages in corpus() if 2 <= pages <= 30]
    random.Random(22).shuffle(docs)
    return docs[:40] + [arabic_corpus() / d for d in ARABIC_DOCS]


def kept_pairs(folder: Path) -> list[dict]:
    """docgen's default run over ``folder``; every kept pair with the line it was read from."""
    from docgen.core.config import load_config
    from docgen.core.workdir import WorkDir
    from docgen.filter.passes import joined
    from docgen.run.pipeline import run_pipeline

    root = folder.parent
    sets = [f"input={folder}", f"work={root / 'work'}", f"out={root / 'out'}", "run.progress=false"]
    cfg = load_config("default", sets)
    run_pipeline(cfg)
    wd = WorkDir(cfg.work)
    text = {}
    for part in wd.parts("pages"):
        for p in wd.read("pages", part, columns=["doc_id", "page", "text"]).to_pylist():
            text[(p["doc_id"], p["page"])] = p["text"]
    pairs = []
    for part in wd.parts("kept"):
        for q in joined(wd, part).to_pylist():
            if q["keep"]:
                page = text.get((q["doc_id"], q["pages"][0]), "")
                q["line"] = next((ln for ln in page.splitlines() if q["answer"] in ln), "")
                q["key"] = key_of(q)
                pairs.append(q)
    return sorted(pairs, key=lambda q: q["key"])


def facts_speed(work: Path) -> str:
    """The rules backend's facts a page, CPU: the page's structure alone against structure and
    running text (lists, change logs, values in sentences), side by side on the same pages."""
    import time

    from docgen.core.workdir import WorkDir
    from docgen.generate.backends.rules import page_facts
    from docgen.generate.facts import facts_of_page

    wd = WorkDir(work)
    pages = [p for part in wd.parts("pages") for p in wd.read("pages", part).to_pylist()]
    took = []
    for fn in (facts_of_page, page_facts):
        start = time.process_time()
        for p in pages:
            fn(p)
        took.append(time.process_time() - start)
    return (
        f"facts of {len(pages)} pages: structure {1e3 * took[0] / len(pages):.2f} ms a page, "
        f"with running text {1e3 * took[1] / len(pages):.2f} ms ({took[1] / took[0]:.2f}x)"
    )


def key_of(q: dict) -> str:
    name = Path(q["source"]).name
    raw = f"{name}\t{q['pages'][0]}\t{q['question']}\t{q['answer']}"
    return hashlib.sha256(raw.encode()).hexdigest()[:12]


def read_labels() -> dict[str, tuple[str, str]]:
    if not LABELS.exists():
        return {}
    with open(LABELS, encoding="utf-8") as f:
        rows = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        return {r["key"]: (r["label"], r["note"]) for r in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--label", action="store_true", help="print the unlabelled pairs")
    parser.add_argument("--keep", type=Path, help="a folder to keep the run in (a rerun reuses "
                        "its extraction: quick when only the generator changed)")  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = (args.keep or Path(tmp)) / "pdfs"
        folder.mkdir(parents=True, exist_ok=True)
        for i, path in enumerate(documents()):
            link = folder / f"{i:02d}-{path.name}"
            if not link.is_symlink():
                link.symlink_to(path)
        if args.keep:  # the generator and filters run again; the extraction is kept
            for made in ("qa", "kept", "dataset", "unanswerable", "errors/generate-*"):
                for path in (args.keep / "work").glob(made):
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
        pairs = kept_pairs(folder)
        speed = facts_speed(folder.parent / "work")
    sample = pairs[:SAMPLE]  # the pairs sort by their hash: a random draw that a new version of
    # the generator keeps where it keeps the pairs, so only the changed ones are labelled again
    labels = read_labels()
    if args.label:
        for q in sample:
            if q["key"] not in labels:
                print(f"{q['key']}\t{q['kind']}\t{Path(q['source']).name} p{q['pages'][0]}\t"
                      f"{q['question']}\t{q['answer']}\t| {q['line'][:140]}")  # fmt: skip
        return
    print(speed)
    kinds = Counter(q["kind"] for q in pairs)
    print(f"{len(documents())} documents, {len(pairs)} kept pairs; kinds over all of them:")
    for kind, n in kinds.most_common():
        print(f"  {kind:15s} {n:5d}  {100 * n / len(pairs):5.1f}%")
    marked = [(q, labels[q["key"]][0]) for q in sample if q["key"] in labels]
    sensible = Counter(q["kind"] for q, label in marked if label == "1")
    seen = Counter(q["kind"] for q, _ in marked)
    print(f"labelled {len(marked)} of the {len(sample)} drawn; sensible by kind:")
    for kind, n in seen.most_common():
        print(f"  {kind:15s} {sensible[kind]:4d} / {n:4d}")
    total = sum(sensible.values())
    print(f"sensible: {total} / {len(marked)} = {100 * total / max(1, len(marked)):.1f}%")
    for q, label in marked:
        if label != "1":
            print(f"  not sensible [{q['kind']}] {q['question']} -> {q['answer']}"
                  f"  ({labels[q['key']][1]})")  # fmt: skip


if __name__ == "__main__":
    main()
