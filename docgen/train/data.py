"""Shards to training batches: a seeded stream of rows, chats with loss on answers only, batches.

A row (one document: up to four page images and its question/answer pairs) becomes one chat in
the Idefics3 layout::

    <bos>User:<image tokens>Q1<end_of_utterance>\\nAssistant: A1<end_of_utterance>\\nUser: Q2...

Only the answers (with the ``<end_of_utterance>`` that ends them, so the model learns to stop)
carry labels; everything else is -100. Pieces are tokenised one by one, so the boundary between
prompt and answer is exact, and generation at evaluation sees the very same prompt tokens.

Rows are read one Parquet row group at a time, in an order fixed by the seed and the epoch, and
arranged in windows; a batch is named by (window, index in window), which is all a checkpoint
needs to restart the stream exactly where it stopped.
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from docgen.core.storage import location
from docgen.core.workdir import parquet_file
from docgen.shard.chat import with_boxes

IGNORE = -100  # label of tokens that carry no loss


def split_files(data: str | Path, split: str) -> list[Path]:
    """The Parquet shards of one split of a ``docgen shard`` output (or a folder of shards), in a
    local folder or at an fsspec URL."""
    root = location(data)
    folder = root / "data" if (root / "data").is_dir() else root
    files = sorted(folder.glob(f"{split}-*.parquet"))
    if not files:
        found = sorted({p.name.split("-")[0] for p in folder.glob("*.parquet")})
        raise FileNotFoundError(
            f"no {split!r} shards in {folder} (splits found: {', '.join(found) or 'none'})"
        )
    return files


def row_stream(files: list[Path], seed: int, columns=("images", "texts")) -> Iterator[dict]:
    """Rows forever, epoch after epoch: row groups in a seeded order, rows shuffled within one.
    Only one row group is in memory at a time."""
    units = [(f, g) for f in files for g in range(parquet_file(f).num_row_groups)]
    epoch = 0
    while True:
        rng = random.Random(f"{seed}:{epoch}")
        order = units[:]
        rng.shuffle(order)
        for path, group in order:
            table = parquet_file(path).read_row_group(group, columns=list(columns))
            rows = list(range(table.num_rows))
            rng.shuffle(rows)
            for i in rows:
                yield table.slice(i, 1).to_pylist()[0]
        epoch += 1


@dataclass
class Chat:
    """One encoded training example."""

    input_ids: list[int]
    labels: list[int]
    pixel_values: object  # float tensor (tiles, 3, side, side)

    def __len__(self) -> int:
        return len(self.input_ids)


def open_images(row: dict) -> list:
    from PIL import Image

    return [Image.open(io.BytesIO(im["bytes"])).convert("RGB") for im in row["images"]]


class Encoder:
    """Turns rows into token ids, labels and pixel values with a model's processor."""

    def __init__(self, processor, max_length: int, max_image_side=None, image_splitting=True):
        self.processor, self.tok = processor, processor.tokenizer
        self.max_length = max_length
        self.image_kwargs = {"do_image_splitting": image_splitting, "return_tensors": "pt"}
        if max_image_side:
            self.image_kwargs["size"] = {"longest_edge": max_image_side}
        self.bos = self.tok.bos_token or ""
        self.eou = processor.end_of_utterance_token

    def ids(self, text: str) -> list[int]:
        return self.tok(text, add_special_tokens=False)["input_ids"]

    def images(self, images: list):
        """Pixel values (tiles, 3, side, side) and the image text the processor would write."""
        out = self.processor.image_processor(
            images=[images], return_row_col_info=True, **self.image_kwargs
        )
        text = "".join(
            image_prompt(self.processor, r, c) for r, c in zip(out["rows"][0], out["cols"][0])
        )
        return out["pixel_values"][0], text

    def prompt(self, image_text: str, question: str) -> str:
        return f"{self.bos}User:{image_text}{question}{self.eou}\nAssistant:"

    def chat(self, row: dict) -> Chat | None:
        """The row as one chat; turns past ``max_length`` are left out, and a row whose first
        turn does not fit gives None."""
        pixels, image_text = self.images(open_images(row))
        input_ids: list[int] = []
        labels: list[int] = []
        for turn, pair in enumerate(row["texts"]):
            head = (
                self.prompt(image_text, pair["user"])
                if turn == 0
                else (f"\nUser: {pair['user']}{self.eou}\nAssistant:")
            )
            q, a = self.ids(head), self.ids(f" {pair['assistant'].strip()}{self.eou}")
            if len(input_ids) + len(q) + len(a) > self.max_length:
                break
            input_ids += q + a
            labels += [IGNORE] * len(q) + a
        if not input_ids:
            return None
        return Chat(input_ids, labels, pixels)


def rating_columns(files: list[Path], min_ratings: dict | None) -> list[str]:
    """The rating columns ``min_ratings`` reads; one line when the shards have none."""
    if not min_ratings:
        return []
    names = [f"{scale}_ratings" for scale in min_ratings]
    there = set(parquet_file(files[0]).schema_arrow.names)
    if missing := [n for n in names if n not in there]:
        raise ValueError(
            f"train.min_ratings reads {', '.join(missing)}, which {files[0]} has not: make the "
            "shards with filter.rate=true, or train without min_ratings"
        )
    return names


def rated(row: dict, min_ratings: dict | None) -> dict:
    """``row`` with its turns rated below ``min_ratings`` left out (an unrated turn stays)."""
    if not min_ratings:
        return row
    keep = [all((row[f"{s}_ratings"][t] or least) >= least for s, least in min_ratings.items())
            for t in range(len(row["texts"]))]  # fmt: skip
    turns = {"texts"} | ({"answer_boxes"} & set(row))  # the columns with one entry a turn
    return {**row, **{c: [v for v, k in zip(row[c], keep) if k] for c in turns}}


def box_column(files: list[Path], answer_boxes: bool) -> list[str]:
    """The answer_boxes column when training with boxes; one line when the shards have none."""
    if not answer_boxes:
        return []
    if "answer_boxes" not in parquet_file(files[0]).schema_arrow.names:
        raise ValueError(
            f"train.answer_boxes reads answer_boxes, which {files[0]} has not: make the shards "
            "with shard.answer_boxes=true (docgen shard --answer-boxes), or train without it"
        )
    return ["answer_boxes"]


def boxed(row: dict) -> dict:
    """``row`` with each answer followed by its boxes in Qwen2-VL's grounding tokens (as the
    `grounded` chat config writes them); a row without the column is left as it is."""
    if "answer_boxes" not in row:
        return row
    texts = [{**t, "assistant": with_boxes(t["assistant"], b)}
             for t, b in zip(row["texts"], row["answer_boxes"])]  # fmt: skip
    return {**row, "texts": texts}


def image_prompt(processor, rows: int, cols: int) -> str:
    """The tokens standing for one image: a block per tile, then the global image (Idefics3)."""
    fake, image = processor.fake_image_token, processor.image_token
    # Idefics3's processor calls it global_image_tag, SmolVLM's global_image_token
    glob = getattr(processor, "global_image_tag", None) or processor.global_image_token
    block = image * processor.image_seq_len
    text = ""
    if rows or cols:
        for r in range(rows):
            text += "".join(f"{fake}<row_{r + 1}_col_{c + 1}>{block}" for c in range(cols)) + "\n"
        text += "\n"
    return text + f"{fake}{glob}{block}{fake}"


def batches(
    files: list[Path],
    encoder: Encoder,
    mode: str,
    batch_size: int,
    window: int,
    seed: int,
    start: tuple[int, int] = (0, 0),
    rank: int = 0,
    world: int = 1,
    min_ratings: dict | None = None,
    answer_boxes: bool = False,
) -> Iterator[tuple[tuple[int, int], dict]]:
    """``((window, index), batch)`` forever, beginning at ``start``.

    pad: ``batch_size`` chats in stream order, padded. bucket: a window of chats sorted by length,
    cut into batches, served in a seeded order (less padding). pack: a window of chats packed into
    sequences of at most ``max_length`` (first fit, longest first), ``batch_size`` sequences a
    batch; position ids restart for every chat, so attention stays within it. Windows are dealt
    round-robin to the ``world`` processes. Turns rated below ``min_ratings`` are left out;
    with ``answer_boxes`` each answer is followed by its boxes (:func:`boxed`).
    """
    if mode not in ("pad", "pack", "bucket"):
        raise ValueError(f"train.batching must be pad, pack or bucket, not {mode!r}")
    size = batch_size if mode == "pad" else max(window, batch_size)
    total = sum(parquet_file(f).metadata.num_rows for f in files)
    if not total:
        raise ValueError(f"no rows in {', '.join(map(str, files))}")
    columns = ["images", "texts"] + rating_columns(files, min_ratings)
    columns += box_column(files, answer_boxes)
    rows = (boxed(rated(row, min_ratings)) for row in row_stream(files, seed, columns))
    w, misfits = 0, 0
    while True:
        group = [next(rows) for _ in range(size)]
        if w % world == rank and w >= start[0]:
            chats = [c for c in map(encoder.chat, group) if c is not None]
            misfits = 0 if chats else misfits + len(group)
            if misfits > total:  # a whole epoch and not one row fits
                why = " with a turn rated at least train.min_ratings" if min_ratings else ""
                raise ValueError(f"no row fits in train.max_length={encoder.max_length}{why}")
            for i, batch in enumerate(arrange(chats, mode, batch_size, encoder, f"{seed}:{w}")):
                if (w, i) >= start:
                    yield (w, i), batch
        w += 1


def arrange(chats: list[Chat], mode: str, batch_size: int, encoder: Encoder, seed: str):
    if mode == "pad":
        return [pad_batch(chats, encoder.tok.pad_token_id)] if chats else []
    if mode == "bucket":
        chats = sorted(chats, key=len)
        groups = [chats[i : i + batch_size] for i in range(0, len(chats), batch_size)]
        random.Random(seed).shuffle(groups)
        return [pad_batch(g, encoder.tok.pad_token_id) for g in groups]
    bins: list[list[Chat]] = []
    for chat in sorted(chats, key=len, reverse=True):
        for b in bins:
            if sum(map(len, b)) + len(chat) <= encoder.max_length:
                b.append(chat)
                break
        else:
            bins.append([chat])
    return [
        pack_batch(bins[i : i + batch_size], encoder.tok.pad_token_id)
        for i in range(0, len(bins), batch_size)
    ]


def stack_images(per_sequence: list[list]):
    """(sequences, most images, 3, side, side), zero-filled: the model drops all-zero images."""
    import torch

    counts = [sum(p.shape[0] for p in ps) for ps in per_sequence]
    first = per_sequence[0][0]
    out = torch.zeros(len(per_sequence), max(counts), *first.shape[1:], dtype=first.dtype)
    for i, ps in enumerate(per_sequence):
        if ps:
            out[i, : counts[i]] = torch.cat(ps)
    return out


def pad_batch(chats: list[Chat], pad_id: int) -> dict:
    import torch

    n = max(map(len, chats))
    ids = torch.full((len(chats), n), pad_id, dtype=torch.long)
    labels = torch.full((len(chats), n), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(chats), n), dtype=torch.long)
    for i, c in enumerate(chats):
        ids[i, : len(c)] = torch.tensor(c.input_ids)
        labels[i, : len(c)] = torch.tensor(c.labels)
        mask[i, : len(c)] = 1
    pixels = stack_images([[c.pixel_values] for c in chats])
    return {
        "input_ids": ids,
        "labels": labels,
        "attention_mask": mask,
        "pixel_values": pixels,
        "chats": len(chats),
        "tokens": sum(map(len, chats)),
    }


def pack_batch(bins: list[list[Chat]], pad_id: int) -> dict:
    import torch

    n = max(sum(map(len, b)) for b in bins)
    ids = torch.full((len(bins), n), pad_id, dtype=torch.long)
    labels = torch.full((len(bins), n), IGNORE, dtype=torch.long)
    positions = torch.zeros((len(bins), n), dtype=torch.long)
    for i, b in enumerate(bins):
        at = 0
        for c in b:
            ids[i, at : at + len(c)] = torch.tensor(c.input_ids)
            labels[i, at : at + len(c)] = torch.tensor(c.labels)
            positions[i, at : at + len(c)] = torch.arange(len(c))
            at += len(c)
        positions[i, at:] = torch.arange(n - at)  # padding: a block of its own
    pixels = stack_images([[c.pixel_values for c in b] for b in bins])
    # No attention mask: transformers reads the restarting position ids as packed sequences
    # and keeps attention within each chat.
    return {
        "input_ids": ids,
        "labels": labels,
        "position_ids": positions,
        "pixel_values": pixels,
        "chats": sum(map(len, bins)),
        "tokens": sum(len(c) for b in bins for c in b),
    }
