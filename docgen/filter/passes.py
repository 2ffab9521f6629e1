"""The filter's passes after its partition rules, and the one view that joins their outputs.

``WORK/kept/`` is written once, by the rules (:mod:`docgen.filter.rules`). Each later pass writes a
folder of its own, a file per partition, and never another pass's: the dataset pass
(``WORK/dataset/verdicts/``), the judge (``WORK/judge/``) and the rater (``WORK/rate/``) hold
``keep`` and ``reason`` for every row of the partition, with the columns they add
(``judge_score``, ``rating_<scale>``); the translator (``WORK/translate/``) holds the rows it
adds. A pass is a function of that view, run by :func:`run_pass` as a step of
:mod:`docgen.core.step` (the fingerprint, the skip, the atomic write, the counts); the shard stage,
the report and the run's counts read :func:`joined` over all.

The passes a run joins are those its filter config turns on (kept in the manifest under
``filter_passes``), in the order of :data:`PASSES`. Each pass file stores the fingerprint of
the view it was made from: a file made from another view (a filter rerun with other rules, a
pass turned off since) ends the chain there, so a stale file is never joined.
"""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from docgen.core.config import FilterConfig
from docgen.core.step import Output, Step, run_step
from docgen.core.workdir import DATASET, KEPT, WorkDir, fingerprint, parquet_file, read_table


@dataclass(frozen=True)
class Pass:
    """A pass of the filter after its rules, as the run, the fingerprints, the view and the
    summary know it. Adding a pass is its module and an entry in :data:`REGISTRY`."""

    name: str
    folder: str  # under WORK: a file per partition
    on: Callable[[FilterConfig], bool]  # whether a filter config runs it
    # The filter settings it reads: they are not the rules' (turning it on or changing them does
    # not filter again), and they make its own fingerprint.
    settings: tuple[str, ...]
    adds_rows: bool = False  # its file holds new rows; else every row's keep and reason
    # An LLM pass: "module:function(wd, part, backend, gen, cfg, allowance) -> counts", run on the
    # generate backend's workers (llm_pass.llm_pass_parts); its prompt set is prompts/<name>.
    partition: str | None = None
    # A pass over the whole dataset at once: "module:function(work, parts, cfg, ex)", which runs
    # its own steps as tasks of the executor ``ex`` (the dataset pass).
    whole: str | None = None
    # A pass per partition that needs no model: "module:function(work, part, cfg) -> counts",
    # a task of the run's executor per partition.
    local: str | None = None
    # What it makes once, in the driver, before its tasks: "module:function(work, cfg)".
    prepare: str | None = None

    @property
    def step(self) -> Step:
        return Step(self.name, self.folder)

    def prepared(self, work: str, cfg: FilterConfig) -> None:
        """Run its ``prepare``, if it has one."""
        if self.prepare:
            module, name = self.prepare.split(":")
            getattr(importlib.import_module(module), name)(work, cfg)

    @property
    def function(self):
        """What runs it (``partition``, ``whole`` or ``local``), imported."""
        module, name = (self.partition or self.whole or self.local).split(":")
        return getattr(importlib.import_module(module), name)


REGISTRY = (
    Pass("dataset", f"{DATASET}/verdicts", lambda c: bool(c.max_page_copies or c.max_pair_copies),
         ("max_page_copies", "page_similarity", "max_pair_copies", "pair_similarity"),
         whole="docgen.filter.dataset_pass:dedup_dataset"),
    Pass("decontaminate_images", "decontaminate_images", lambda c: bool(c.decontaminate_images),
         ("decontaminate_images", "image_match_bits"),
         local="docgen.filter.decontam_images:decontaminate_images_partition",
         prepare="docgen.filter.decontam_images:prepare"),
    Pass("judge", "judge", lambda c: c.judge, ("judge", "judge_min_score"),
         partition="docgen.filter.judge:judge_partition"),
    # filter.rate itself is a rules setting: with the rater on, the rules ground some kinds on
    # its ratings instead of the span check.
    Pass("rate", "rate", lambda c: c.rate, ("min_ratings",),
         partition="docgen.filter.rate:rate_partition"),
    Pass("translate", "translate", lambda c: bool(c.translate_to),
         ("translate_to", "back_translation_ratio"), adds_rows=True,
         partition="docgen.filter.translate:translate_partition"),
    Pass("unanswerable", "unanswerable", lambda c: c.unanswerable_share > 0,
         ("unanswerable_share",), adds_rows=True,
         local="docgen.filter.unanswerable:unanswerable_partition"),
)  # fmt: skip
PASSES = {p.name: p.folder for p in REGISTRY}
BY_NAME = {p.name: p for p in REGISTRY}
LLM_PASSES = tuple(p.name for p in REGISTRY if p.partition)
SETTINGS = frozenset(s for p in REGISTRY for s in p.settings)  # none of them the rules'
MANIFEST_KEY = "filter_passes"


def active(cfg: FilterConfig) -> list[str]:
    """The passes ``cfg`` runs, in order."""
    return [p.name for p in REGISTRY if p.on(cfg)]


def chain(wd: WorkDir, part: str, upto: str | None = None) -> list[tuple]:
    """(name, fingerprint, stats) of kept and of each pass file the view of ``part`` joins, in
    order, up to (without) pass ``upto``: a pass whose file is missing or was made from another
    view ends it."""
    info = wd.info(wd.part_path(KEPT, part))
    links = [("kept", info.get("fingerprint"), info.get("stats", {}))]
    for name in wd.manifest().get(MANIFEST_KEY, []):
        if name == upto or name not in PASSES:
            break
        info = wd.info(wd.part_path(PASSES[name], part))
        if not info or info["stats"].get("input") != links[-1][1]:
            break
        links.append((name, info["fingerprint"], info["stats"]))
    return links


def input_fingerprint(wd: WorkDir, part: str, name: str) -> str | None:
    """The fingerprint of the view pass ``name`` reads for ``part``."""
    return chain(wd, part, upto=name)[-1][1]


def final_stats(wd: WorkDir, part: str) -> dict:
    """A partition's counts after every pass (pairs, kept, dropped), without reading rows."""
    return chain(wd, part)[-1][2]


def joined(wd: WorkDir, part: str, upto: str | None = None, columns=None, links=None) -> pa.Table:
    """Kept's rows of ``part`` with each pass's verdicts and rows (``links``, or :func:`chain`
    up to pass ``upto``); only ``columns`` (those there are) when given. A pass file that cannot
    be read, or holds verdicts for another number of rows, is one clear error (its fingerprint
    says it was made from this view: only a damaged or edited file can do that)."""
    links = chain(wd, part, upto) if links is None else links
    wanted = None if columns is None else {*columns, "keep", "reason", "translated_from"}
    table = read_table(wd.part_path(KEPT, part), columns=present(wd, KEPT, part, wanted))
    for name, _, _ in links[1:]:
        path = wd.part_path(PASSES[name], part)
        try:
            add = read_table(path, columns=present(wd, PASSES[name], part, wanted))
        except (OSError, pa.ArrowException) as exc:
            raise ValueError(f"{path} cannot be read ({exc}): remove it and filter again") from None
        if BY_NAME[name].adds_rows:
            if "translated_from" not in table.schema.names:
                table = table.append_column("translated_from", pa.nulls(len(table), pa.string()))
            for f in table.schema:  # a column its rows do not have (their view had not): null
                if f.name not in add.schema.names:
                    add = add.append_column(f, pa.nulls(add.num_rows, f.type))
            table = pa.concat_tables([table, add.select(table.schema.names).cast(table.schema)])
        elif add.num_rows != table.num_rows:
            raise ValueError(f"{path} holds {add.num_rows} verdicts for {table.num_rows} rows: "
                             "remove it and filter again")  # fmt: skip
        else:
            table = with_columns(table, {n: add[n] for n in add.schema.names})
    if columns is not None:
        table = table.select([c for c in columns if c in table.schema.names])
    return table


def present(wd: WorkDir, folder: str, part: str, wanted) -> list[str] | None:
    """The columns of ``wanted`` a file holds (None: all)."""
    if wanted is None:
        return None
    return [n for n in parquet_file(wd.part_path(folder, part)).schema_arrow.names if n in wanted]


def with_columns(table: pa.Table, columns: dict) -> pa.Table:
    """``table`` with each named column set (replaced, or appended when new)."""
    for name, column in columns.items():
        index = table.schema.get_field_index(name)
        if index >= 0:
            table = table.set_column(index, name, column)
        else:
            table = table.append_column(name, column)
    return table


def run_pass(wd: WorkDir, name: str, part: str, settings: list, make, on_skip=None):
    """Pass ``name`` over the view of ``part``, a step (:func:`docgen.core.step.run_step`) whose
    fingerprint is the view's and its ``settings``: nothing when done (``on_skip(stored
    counts)`` is returned, ``{"skipped": 1}`` by default); else ``make(view)`` gives (the pass's
    table, the view with it, its counts, whether it finished: unfinished, some chats unanswered,
    a rerun asks again and every later pass reads it anew). The file stores the counts of the
    view with it and the view's fingerprint. Returns the counts."""
    links = chain(wd, part, upto=name)  # read once: the fingerprint and the view come from it
    view_fp = links[-1][1]

    def run() -> Output:
        table, after, counts, finished = make(joined(wd, part, links=links))
        return Output(table, dict(counts), may_pass=not finished,
                      stored={**verdict_stats(after), "input": view_fp})  # fmt: skip

    skipped = on_skip or (lambda stats: Counter(skipped=1))
    return run_step(wd, BY_NAME[name].step, part, fingerprint([view_fp, *settings]), run,
                    skipped=skipped)  # fmt: skip


def verdict_stats(table: pa.Table) -> dict:
    """A view's counts: pairs, kept, drops by reason."""
    reasons = Counter(r for r in table.column("reason").to_pylist() if r)
    return {
        "pairs": table.num_rows,
        "kept": table.num_rows - sum(reasons.values()),
        "dropped": dict(sorted(reasons.items())),
        "skipped": 0,
    }
