"""The dataset pass's verdicts decided the plain way, for the tests to compare with: every page,
then every pair, added in order to one :class:`docgen.filter.dedup.Clusters` in this process (what
the pass did before it ran as steps over files)."""

from __future__ import annotations

from docgen.core.config import FilterConfig
from docgen.core.text import tokens
from docgen.core.workdir import WorkDir
from docgen.filter.dedup import Clusters, page_hashes


def reference_verdicts(work: str, parts: list[str], cfg: FilterConfig) -> dict[str, list]:
    """Each kept partition's reasons as the in-process pass decides them (nothing written)."""
    wd = WorkDir(work)
    surplus_pages = set()
    if cfg.max_page_copies:
        pages = Clusters(cfg.page_similarity)
        for part in parts:
            for row in wd.read("pages", part, columns=["doc_id", "page", "text"]).to_pylist():
                words = tokens(row["text"] or "")
                if not words:
                    continue
                if pages.add_hashes(page_hashes(words)) >= cfg.max_page_copies:
                    surplus_pages.add((row["doc_id"], row["page"]))
    pairs = Clusters(cfg.pair_similarity) if cfg.max_pair_copies else None
    verdicts = {}
    for part in parts:
        reasons = []
        for row in wd.read("kept", part).to_pylist():
            verdict = row["reason"]
            if verdict is None and any((row["doc_id"], n) in surplus_pages for n in row["pages"]):
                verdict = "near_duplicate_page"
            if verdict is None and pairs is not None:
                items = set(tokens(row["question"])) | {f"a:{t}" for t in tokens(row["answer"])}
                if items and pairs.add(items) >= cfg.max_pair_copies:
                    verdict = "duplicate_pair"
            reasons.append(verdict)
        verdicts[part] = reasons
    return verdicts
