"""``docgen validate OUT``: what a user of the dataset would otherwise find the hard way.

Checks the shard names (contiguous ``SPLIT-XXXXX-of-YYYYY.parquet``), each shard's schema and its
``huggingface`` features metadata, that every image decodes (every PDF opens, in the optional
`pdf` config) and no question or answer is empty, that the chat configs' rows are what their
trainers take (:func:`docgen.shard.chat.chat_problems`) and match the default config's, and that
the row and pair counts equal the dataset card's, config by config. Shards are read one row group
at a time, so validating a large dataset takes little memory.
"""

from __future__ import annotations

import io
import itertools
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import yaml

from docgen.core.storage import location
from docgen.core.workdir import parquet_file
from docgen.shard.boxes import box_problems
from docgen.shard.card import dataset_infos, feature_yaml
from docgen.shard.chat import LAYOUTS, chat_problems, pairs_of
from docgen.shard.schema import CONFIG_DIRS, row_schema
from docgen.verify import TYPES

SHARD_NAME = re.compile(r"^(?P<split>[A-Za-z0-9_]+)-(?P<index>\d{5})-of-(?P<total>\d{5})\.parquet$")
PAIRS_LINE = re.compile(r"^\| pairs kept \| (\d+) \|$", re.MULTILINE)
MAX_PER_KIND = 10  # problems listed per kind; the rest are counted


class Problems:
    """Problems grouped by kind, so a million broken images read as ten lines and a count."""

    def __init__(self):
        self.items: dict[str, list[str]] = defaultdict(list)
        self.counts: Counter = Counter()

    def add(self, kind: str, message: str) -> None:
        self.counts[kind] += 1
        if len(self.items[kind]) < MAX_PER_KIND:
            self.items[kind].append(message)

    def __bool__(self) -> bool:
        return bool(self.counts)

    def lines(self) -> list[str]:
        out = []
        for kind, messages in self.items.items():
            out += [f"{kind}: {m}" for m in messages]
            if self.counts[kind] > len(messages):
                out.append(f"{kind}: ... and {self.counts[kind] - len(messages)} more")
        return out


def check_names(files: list[Path], problems: Problems) -> dict[str, list[Path]]:
    """Shards per split, checking the names are SPLIT-XXXXX-of-YYYYY and contiguous."""
    by_split: dict[str, list[tuple[int, int, Path]]] = defaultdict(list)
    for f in files:
        m = SHARD_NAME.match(f.name)
        if not m:
            problems.add("names", f"{f.name} is not named SPLIT-XXXXX-of-YYYYY.parquet")
            continue
        by_split[m["split"]].append((int(m["index"]), int(m["total"]), f))
    for split, shards in sorted(by_split.items()):
        totals = {t for _, t, _ in shards}
        indices = sorted(i for i, _, _ in shards)
        if len(totals) > 1:
            problems.add("names", f"{split}: shards disagree on the count ({sorted(totals)})")
        elif indices != list(range(totals.pop())):
            problems.add("names", f"{split}: shard indices {indices} are not 0..N-1 of N")
    return {s: [f for _, _, f in sorted(v)] for s, v in by_split.items()}


def check_schema(path: Path, problems: Problems, config: str = "default") -> tuple | None:
    """Which optional columns the shard has, ``(metadata, ratings, answer boxes, reasoning)``
    (None: no row layout)."""
    schema = parquet_file(path).schema_arrow
    layouts = {flags: row_schema(flags[0], config, *flags[1:])
               for flags in itertools.product((False, True), repeat=4)}  # fmt: skip
    layout = next((k for k, s in layouts.items() if schema.remove_metadata().equals(
        s.remove_metadata())), None)  # fmt: skip
    if layout is None:
        problems.add("schema", f"{path.name}: columns {schema.names} do not have the row layout")
        return None
    try:
        features = json.loads(schema.metadata[b"huggingface"])["info"]["features"]
        assert set(features) == set(layouts[layout].names)
    except (KeyError, TypeError, ValueError, AssertionError):
        problems.add("schema", f"{path.name}: no usable `huggingface` features metadata")
    return layout


def check_texts(where: str, row: dict, problems: Problems, counts: Counter) -> None:
    """A row's pairs are there and not empty; its per-turn ratings, when it has them, are one
    per pair and 1-5 (or null: not rated); its kinds and answer types, when it has them, one per
    pair (the types those of docgen.verify)."""
    texts = row["texts"]
    if not texts:
        problems.add("texts", f"{where}: no question–answer pair")
    for j, turn in enumerate(texts or []):
        counts["pairs"] += 1
        for field in ("user", "assistant"):
            if not (turn.get(field) or "").strip():
                problems.add("texts", f"{where}: pair {j} has an empty {field}")
    for name in (n for n in row if n.endswith("_ratings")):
        ratings = row[name] or []
        if len(ratings) != len(texts or []) or any(
            r is not None and not 1 <= r <= 5 for r in ratings
        ):
            problems.add("ratings", f"{where}: {name} is not one 1-5 rating per pair: {ratings}")
    if "kinds" in row and len(row["kinds"] or []) != len(texts or []):
        problems.add("kinds", f"{where}: kinds is not one kind per pair: {row['kinds']}")
    for wrong in box_problems(row):
        problems.add("answer_boxes", f"{where}: {wrong}")
    types = row.get("answer_types", TYPES[:1] * len(texts or []))
    if len(types or []) != len(texts or []) or not set(types or []) <= set(TYPES):
        problems.add("answer_types", f"{where}: answer_types is not one of {', '.join(TYPES)} "
                     f"per pair: {types}")  # fmt: skip


def rows_of(path: Path, name: str, counts: Counter, batch_size: int):
    """(where, row) for every row of a shard, a batch at a time; counts the rows."""
    number = 0
    for batch in parquet_file(path).iter_batches(batch_size=batch_size):
        for row in batch.to_pylist():
            counts["rows"] += 1
            yield f"{name} row {number}", row
            number += 1


def check_pdf_rows(path: Path, problems: Problems, counts: Counter) -> None:
    """Rows of the `pdf` config: every PDF opens and has pages, every row has pairs."""
    import pymupdf

    for where, row in rows_of(path, f"pdf/{path.name}", counts, batch_size=16):
        try:
            with pymupdf.open(stream=row["pdf"] or b"", filetype="pdf") as doc:
                assert doc.page_count > 0, "no pages"
        except Exception as exc:  # noqa: BLE001 - any reader error is the finding
            problems.add("pdf", f"{where}: the PDF does not open ({exc})")
        check_texts(where, row, problems, counts)


def check_chat_rows(config: str):
    """Rows of a chat config: what a trainer would refuse
    (:func:`docgen.shard.chat.chat_problems`)."""

    def check(path: Path, problems: Problems, counts: Counter) -> None:
        columns = ["images", LAYOUTS[config][0]]
        for batch in parquet_file(path).iter_batches(batch_size=256, columns=columns):
            # The images are checked in the default config; here only how many there are.
            for row in batch.to_pylist():
                where = f"{config}/{path.name} row {counts['rows']}"
                counts["rows"] += 1
                counts["pairs"] += pairs_of(config, row)
                for problem in chat_problems(config, row):
                    problems.add(config, f"{where}: {problem}")

    return check


def check_rows(path: Path, problems: Problems, counts: Counter) -> None:
    from PIL import Image

    for where, row in rows_of(path, path.name, counts, batch_size=64):
        if not row["images"]:
            problems.add("images", f"{where}: no image")
        for j, image in enumerate(row["images"] or []):
            counts["images"] += 1
            try:
                with Image.open(io.BytesIO(image["bytes"] or b"")) as im:
                    im.load()
            except Exception as exc:  # noqa: BLE001 - any decoder error is the finding
                problems.add("images", f"{where}: image {j} does not decode ({exc})")
        check_texts(where, row, problems, counts)


def read_card(out: Path, problems: Problems) -> tuple[dict, str]:
    card = out / "README.md"
    if not card.is_file():
        problems.add("card", "README.md is missing")
        return {}, ""
    text = card.read_text("utf-8")
    parts = text.split("---", 2)
    if not text.startswith("---") or len(parts) < 3:
        problems.add("card", "README.md has no YAML header between --- lines")
        return {}, text
    try:
        return yaml.safe_load(parts[1]) or {}, parts[2]
    except yaml.YAMLError as exc:
        problems.add("card", f"README.md YAML header does not parse: {exc}")
        return {}, text


def check_card(
    out: Path, counts: dict[str, dict[str, Counter]], problems: Problems, columns: tuple
) -> None:
    """The card's configs, features and counts against what the shards hold (per config)."""
    meta, body = read_card(out, problems)
    if not meta:
        return
    infos = dataset_infos(meta)
    declared_configs = {c.get("config_name") for c in meta.get("configs") or []}
    for config in sorted(declared_configs - set(counts), key=str):
        problems.add("card", f"the card declares config {config} but OUT holds no shards of it")
    for config, splits in counts.items():
        if config not in declared_configs:
            problems.add("card", f"no `configs` entry for {config}: the Hub's viewer would guess")
        info = infos.get(config) or {}
        if info.get("features") != feature_yaml(columns[0], config, *columns[1:]):
            problems.add("card", f"{config}: dataset_info.features does not describe the shards")
        declared = {s.get("name"): s.get("num_examples") for s in info.get("splits") or []}
        for split in sorted(set(declared) | set(splits)):
            rows = splits.get(split, Counter())["rows"]
            if declared.get(split) != rows:
                problems.add(
                    "card", f"{config} {split}: card says {declared.get(split)} rows, data {rows}"
                )
    pairs = sum(c["pairs"] for c in counts.get("default", {}).values())
    m = PAIRS_LINE.search(body)
    if m is None:
        problems.add("card", "no `pairs kept` count in the card")
    elif int(m[1]) != pairs:
        problems.add("card", f"card says {m[1]} pairs, data has {pairs}")


def validate(out: str | Path, progress: bool = False) -> tuple[Problems, dict]:
    """Problems found in ``OUT`` (empty when valid) and the counts per split (``pdf:SPLIT`` for
    the `pdf` config's)."""
    from tqdm import tqdm

    out = location(out)
    problems = Problems()
    files = {c: sorted((out / d).glob("**/*.parquet")) for c, d in CONFIG_DIRS.items()}
    if not files["default"]:
        problems.add("names", f"no Parquet shards in {out / 'data'}")
    counts: dict[str, dict[str, Counter]] = {}
    # whether the shards carry the metadata, ratings, boxes and reasoning columns
    columns = (False, False, False, False)
    bar = tqdm(total=sum(map(len, files.values())), desc="validate", unit="shard",
               disable=not progress)  # fmt: skip
    for config, config_files in files.items():
        if config != "default" and not config_files:
            continue
        counts[config] = defaultdict(Counter)
        check = {"default": check_rows, "pdf": check_pdf_rows}.get(config)
        check = check or check_chat_rows(config)
        for split, shards in check_names(config_files, problems).items():
            for path in shards:
                try:
                    layout = check_schema(path, problems, config)
                    if layout is not None:  # the pdf config has no boxes nor reasoning
                        columns = layout if config != "pdf" else (*layout[:2], *columns[2:])
                        check(path, problems, counts[config][split])
                except Exception as exc:  # noqa: BLE001 - an unreadable shard is a finding too
                    problems.add("parquet", f"{path.name} does not read: {exc}")
                counts[config][split]["shards"] += 1
                bar.update()
    bar.close()
    for config in counts.keys() & LAYOUTS.keys():  # the same rows as the default config
        for split in sorted(counts[config].keys() | counts.get("default", {}).keys()):
            mine, default = counts[config][split], counts.get("default", {}).get(split, Counter())
            if (mine["rows"], mine["pairs"]) != (default["rows"], default["pairs"]):
                problems.add(config, f"{split}: {mine['rows']} rows, {mine['pairs']} pairs; the "
                             f"default config {default['rows']}, {default['pairs']}")  # fmt: skip
    check_card(out, counts, problems, columns)
    flat = {
        (split if config == "default" else f"{config}:{split}"): dict(c)
        for config, splits in counts.items()
        for split, c in splits.items()
    }
    return problems, flat
