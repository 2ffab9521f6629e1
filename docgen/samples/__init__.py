"""The bundled sample corpus: realistic PDFs in eight languages, each with a ground-truth sidecar.

``make_corpus(out, n)`` writes ``NNNN-<kind>-<lang>.pdf`` and a ``.json`` beside each holding the
facts on every page (title, field names and values, table cells, numbered headings). The corpus is
deterministic: the same ``n`` and ``seed`` give the same files byte for byte.
"""

from __future__ import annotations

import json
from pathlib import Path

from tqdm import tqdm

from docgen.samples.content import KINDS, LANGS, document, facts, language_pack
from docgen.samples.render import arabic_font_dir, render_document

DEFAULT_COUNT = len(KINDS) * len(LANGS)


def sample_specs(n: int, seed: int = 0):
    """(index, kind, lang, seed) of the first ``n`` documents: each kind in each language first."""
    combos = [(k, lang) for lang in LANGS for k in KINDS]
    for i in range(n):
        kind, lang = combos[i % len(combos)]
        yield i, kind, lang, seed * 1_000_003 + i


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def make_corpus(out: str | Path, n: int = DEFAULT_COUNT, seed: int = 0, progress: bool = True):
    """Write ``n`` sample PDFs and their ground truth into ``out``; returns the PDF paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if arabic_font_dir() is None:
        print(
            "warning: Noto Sans Arabic not found (Debian package fonts-noto-core); Arabic samples "
            "use MuPDF's built-in font, whose text layer reads back imperfectly"
        )
    paths = []
    for i, kind, lang, doc_seed in tqdm(
        list(sample_specs(n, seed)), desc="samples", unit="pdf", disable=not progress
    ):
        pages = document(kind, lang, doc_seed)
        stem = f"{i:04d}-{kind}-{lang}"
        pdf = render_document(pages, lang, language_pack(lang), small=kind == "receipt")
        truth = {
            "file": f"{stem}.pdf",
            "kind": kind,
            "lang": lang,
            "pages": [{"page": p + 1, "facts": facts(blocks)} for p, blocks in enumerate(pages)],
        }
        write_atomic(out / f"{stem}.pdf", pdf)
        write_atomic(
            out / f"{stem}.json", json.dumps(truth, ensure_ascii=False, indent=1).encode("utf-8")
        )
        paths.append(out / f"{stem}.pdf")
    return paths
