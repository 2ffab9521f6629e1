"""What the LLM passes over the kept pairs share (the judge, the rater, the translator).

Each pass runs on the generate backend (its engine or client built once per worker), reads a
partition's view up to it (:func:`docgen.filter.passes.joined`: kept and the passes before), asks
the model about its pairs and writes what came back (new columns, verdicts, or rows) as a file of
its own. A pass marks a partition done only when every chat was answered, so a rerun asks again
(answers already received come from the cache).
"""

from __future__ import annotations

import random
from collections import Counter

import pyarrow as pa

from docgen.core.config import FilterConfig, GenerateConfig
from docgen.core.workdir import CACHE, WorkDir, add_stats
from docgen.filter import passes
from docgen.generate.chats import marked
from docgen.generate.tasks import Allowance, Task, ask_json


def llm_pass_parts(work: str, parts: list[str], gen: GenerateConfig, cfg: FilterConfig,
                   budget: int | None = None, name: str = "") -> dict:  # fmt: skip
    """A task of the LLM pass ``name`` (its entry in :data:`docgen.filter.passes.REGISTRY`) over the
    kept ``parts``."""
    return over_kept_parts(work, parts, gen, cfg, name, passes.BY_NAME[name].function, budget)


def over_kept_parts(work: str, parts: list[str], gen: GenerateConfig, cfg: FilterConfig,
                    prompts: str, partition_fn, budget: int | None = None) -> dict:  # fmt: skip
    """Run an LLM pass (``partition_fn(wd, part, backend, gen, cfg, allowance)``) over kept
    partitions with the generate backend, set up once per worker, spending at most ``budget``
    tokens (one :class:`~docgen.generate.tasks.Allowance` for the task's partitions); returns
    the summed counts."""
    from docgen.generate.stage import backend_for

    wd = WorkDir(work)
    backend = backend_for(gen)
    allowance = Allowance(budget)  # shared by the task's partitions
    stats: dict = {}
    for part in parts:
        add_stats(stats, partition_fn(wd, part, backend, gen, cfg, allowance))
    if engine := getattr(backend, "engine_id", None):
        stats["engines"] = {engine: len(parts)}
    return stats


def pass_cache(wd: WorkDir, name: str):
    """The answer cache of an LLM pass, ``WORK/cache/<name>/`` (see
    :mod:`docgen.generate.gencache`)."""
    from docgen.generate.gencache import GenerationCache

    return GenerationCache(wd.root / CACHE / name)


def indexed(reply: dict | None, key: str, size: int, counts: Counter, bad: str) -> dict:
    """The items of a judge, rating or translation reply by their 0-based position in the
    batch: an index outside ``1..size`` (a grammar allows any integer) or given twice is counted
    as ``bad`` and ignored (the first of a repeated index counts)."""
    items: dict[int, dict] = {}
    for item in (reply or {}).get(key, []):
        index = item["index"] - 1
        if 0 <= index < size and index not in items:
            items[index] = item
        else:
            counts[bad] += 1
    return items


def pages_by_doc(wd: WorkDir, part: str, gen: GenerateConfig) -> dict[str, dict[int, dict]]:
    """A partition's pages per document and number, as the model sees them (``generate.input``:
    text, and the image sized for the model when images are sent)."""
    from docgen.generate.stage import read_pages

    out: dict[str, dict[int, dict]] = {}
    for page in read_pages(wd, part, gen):
        out.setdefault(page["doc_id"], {})[page["page"]] = page
    return out


class PairQuestions(Task):
    """A pass that asks about kept pairs (``prompts/<name>``: the judge, the rater), its reply
    listing one item per pair."""

    def chats(self, rows: list[dict], pages: dict[str, dict[int, dict]], per_chat: int,
              extra=None):  # fmt: skip
        """(chat, row indices) for the kept pairs of ``rows``: a chat per document, pages cited
        and batch of at most ``per_chat`` pairs, showing the model those pages as generation
        did (with their images when ``pages`` carry them) and the pairs. ``extra(pages shown,
        lang, seed)`` gives pairs to put among each batch at seeded places (the judge's
        controls): they are appended to ``rows``."""
        groups: dict[tuple, list[int]] = {}
        for i, row in enumerate(rows):
            if row["keep"]:
                groups.setdefault((row["doc_id"], tuple(sorted(row["pages"]))), []).append(i)
        for (doc_id, cited), indices in sorted(groups.items()):
            shown = [pages[doc_id][n] for n in cited if n in pages.get(doc_id, {})]
            images = [p["image"] for p in shown if p.get("image")]
            lang = shown[0]["lang"] if shown else "und"
            for start in range(0, len(indices), per_chat):
                batch = indices[start : start + per_chat]
                for pair in extra(shown, lang, f"{doc_id}:{start}") if extra else []:
                    rows.append(pair)
                    place = random.Random(f"{doc_id}:{start}:{len(rows)}").randint(0, len(batch))
                    batch.insert(place, len(rows) - 1)
                user = self.render(lang=lang, pages=marked(shown) if images else shown,
                                   pairs=[rows[i] for i in batch], image=bool(images))  # fmt: skip
                chat = self.chat_of(doc_id, start, user, pages=cited, lang=lang,
                                    n_items=len(batch), images=images,
                                    schema=batch_schema(self.schema, len(batch)))  # fmt: skip
                yield chat, batch


def batch_schema(schema: dict, size: int) -> dict:
    """The reply schema of a chat about ``size`` pairs: exactly one item per pair, indexed
    ``1..size`` (under a grammar, a model can then only answer about the pairs it was shown)."""
    (key,) = schema["required"]
    items = schema["properties"][key]["items"]
    index = {**items["properties"]["index"], "maximum": size}
    items = {**items, "properties": {**items["properties"], "index": index}}
    array = {**schema["properties"][key], "items": items, "minItems": size, "maxItems": size}
    return {**schema, "properties": {**schema["properties"], key: array}}


def ask_about_pairs(
    wd: WorkDir,
    part: str,
    backend,
    gen: GenerateConfig,
    rows: list[dict],
    name: str,
    key: str,
    answered: str,
    extra=None,
    allowance=None,
) -> tuple[dict[int, dict], Counter]:
    """What pass ``name`` (``prompts/<name>``, its replies listing items under ``key``) says of
    each kept pair of ``rows``: {row index: item}, and the counts: ``answered`` chats,
    ``<name>_failed`` ones with no usable item (their pairs get none), ``<name>_bad_index``
    items naming no pair of their batch, and the requests (see :func:`ask_json`). Pairs
    ``extra`` adds (see :meth:`PairQuestions.chats`) get indices from ``len(rows)`` on, and
    their items their ``control`` field."""
    task = PairQuestions(name)
    asked = list(rows)  # and the pairs extra adds
    jobs = list(task.chats(asked, pages_by_doc(wd, part, gen), gen.max_pairs_per_request, extra))
    counts: Counter = Counter()
    chats = [chat for chat, _ in jobs]
    replies = ask_json(backend, task, chats, counts, pass_cache(wd, name), part, allowance)
    found: dict[int, dict] = {}
    for (_, batch), reply in zip(jobs, replies):
        items = indexed(reply, key, len(batch), counts, f"{name}_bad_index")
        if not items:
            counts[f"{name}_failed"] += 1
            continue
        counts[answered] += 1
        found |= {batch[index]: item for index, item in items.items()}
    for i in range(len(rows), len(asked)):
        if i in found:
            found[i] = {**found[i], "control": asked[i]["control"]}
    return found, counts


def pair_pass(
    wd: WorkDir,
    part: str,
    backend,
    gen: GenerateConfig,
    name: str,
    key: str,
    answered: str,
    settings: list,
    apply,
    extra=None,
    allowance=None,
) -> Counter:
    """One LLM pass (the judge, the rater) over a partition's kept pairs, run by
    :func:`docgen.filter.passes.run_pass` (nothing when done with the same ``settings``): it asks
    about every kept pair (:func:`ask_about_pairs`, with the pairs ``extra`` adds), ``apply(rows,
    items, counts)`` gives the columns to set (``keep`` and ``reason`` among them), written as
    the pass's own file, and may count what it did."""

    def make(view: pa.Table):
        rows = view.to_pylist()
        items, counts = ask_about_pairs(wd, part, backend, gen, rows, name, key, answered, extra,
                                        allowance)  # fmt: skip
        columns = apply(rows, items, counts)
        table = pa.table({n: pa.array(values, kind) for n, (values, kind) in columns.items()})
        after = passes.with_columns(view, {n: table[n] for n in table.schema.names})
        return table, after, counts, not counts[f"{name}_failed"]

    return passes.run_pass(wd, name, part, settings, make)
