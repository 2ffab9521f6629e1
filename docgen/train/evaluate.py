"""``docgen eval``: answer the held-out questions with a trained model and score them (ANLS).

Each question is asked alone, with its document's page images, in the layout the trainer uses;
answers are generated greedily until ``<end_of_utterance>``, by vLLM's offline engine when it is
installed (:mod:`docgen.train.vllm_answers`: all questions of a batch at once), by transformers
otherwise (``eval.engine``). Every prediction is written to a JSON-lines file beside the scores,
overall, per language and per kind of question.
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from docgen.core.text import detect_language
from docgen.core.train_config import EvalConfig
from docgen.core.workdir import parquet_file
from docgen.train.anls import anls, exact_match, typed_match
from docgen.train.data import Encoder, open_images, split_files
from docgen.verify import answer_type, boxes_iou, grounding


def questions(files: list[Path], limit: int | None) -> Iterator[dict]:
    """Rows' questions in file order, each with its row's images and the answers given to the
    same question on the same document (several gold answers when it was asked twice)."""
    n = 0
    for path in files:
        pf = parquet_file(path)
        names = ("images", "texts", "languages", "kinds", "answer_boxes")
        columns = [c for c in names if c in pf.schema_arrow.names]
        for g in range(pf.num_row_groups):
            for row in pf.read_row_group(g, columns=columns).to_pylist():
                golds, kinds, given = defaultdict(list), {}, row.get("kinds") or []
                boxes, located = defaultdict(list), row.get("answer_boxes")
                for i, t in enumerate(row["texts"]):
                    golds[t["user"]].append(t["assistant"])
                    kinds.setdefault(t["user"], given[i] if i < len(given) else None)
                    if located is not None:  # shards made with shard.answer_boxes
                        boxes[t["user"]].append([(b["image"], tuple(b["box_1000"]))
                                                 for b in located[i] or []])  # fmt: skip
                langs = row.get("languages") or []
                for q, answers in golds.items():
                    if limit is not None and n >= limit:
                        return
                    n += 1
                    lang = langs[0] if len(langs) == 1 else detect_language(q)[0]
                    yield {"row": row, "question": q, "answers": answers, "language": lang,
                           "kind": kinds[q], "boxes": boxes.get(q)}  # fmt: skip


class TransformersAnswers:
    """Greedy answers from transformers' ``generate``, ``cfg.batch_size`` questions at a time
    (prompts left-padded)."""

    def __init__(self, model_dir: str, processor, cfg: EvalConfig):
        import torch
        from transformers import AutoModelForImageTextToText

        dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
        self.model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=dtype).eval()
        if torch.cuda.is_available():
            self.model.to("cuda")
        self.encoder = Encoder(processor, max_length=1 << 30)
        self.max_new_tokens = cfg.max_new_tokens

    def __call__(self, items: list[dict]) -> list[str]:
        import torch

        from docgen.train.data import stack_images

        encoder, model = self.encoder, self.model
        prompts, pixels, done = [], [], {}
        for item in items:
            row = item["row"]  # questions of one document share its images: processed once
            if id(row) not in done:
                done[id(row)] = encoder.images(open_images(row))
            pix, image_text = done[id(row)]
            prompts.append(encoder.ids(encoder.prompt(image_text, item["question"])))
            pixels.append([pix])
        n = max(map(len, prompts))
        pad = encoder.tok.pad_token_id
        ids = torch.tensor([[pad] * (n - len(p)) + p for p in prompts])
        mask = torch.tensor([[0] * (n - len(p)) + [1] * len(p) for p in prompts])
        device = next(model.parameters()).device
        with torch.no_grad():
            out = model.generate(
                input_ids=ids.to(device),
                attention_mask=mask.to(device),
                pixel_values=stack_images(pixels).to(device, next(model.parameters()).dtype),
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                eos_token_id=encoder.tok.convert_tokens_to_ids(encoder.eou),
                pad_token_id=pad,
            )
        tok = encoder.tok
        return [tok.decode(o[n:], skip_special_tokens=True).strip() for o in out.cpu().tolist()]

    def close(self) -> None:
        pass


def in_batches(items: Iterator[dict], size: int) -> Iterator[list[dict]]:
    while batch := list(itertools.islice(items, size)):
        yield batch


def most_images(files: list[Path]) -> int:
    """The most page images a row of ``files`` holds (what vLLM must be told to expect)."""
    import pyarrow.compute as pc

    most = 0
    for path in files:
        pf = parquet_file(path)
        for g in range(pf.num_row_groups):
            column = pf.read_row_group(g, columns=["images"]).column("images")
            most = max(most, pc.max(pc.list_value_length(column)).as_py() or 0)
    return most


# What the scores are also given per: the page's language, the answer's type (docgen.verify), and
# the kind of question (shards with metadata columns).
GROUPS = ("language", "answer_type", "kind")


def evaluate(
    data: str, model_dir: str, cfg: EvalConfig, out: str | None = None, progress: bool = True
) -> dict:
    """Scores of ``model_dir`` on the ``cfg.split`` shards of ``data``; predictions go to
    ``out`` (default MODEL_DIR/eval-SPLIT.jsonl) and the scores beside it (.json)."""
    from tqdm import tqdm
    from transformers import AutoProcessor
    from transformers.utils import logging

    from docgen.train.vllm_answers import BATCH, VLLMAnswers, wanted

    logging.disable_progress_bar()
    files = split_files(data, cfg.split)
    processor = AutoProcessor.from_pretrained(model_dir)
    if wanted(cfg):
        answer, size = VLLMAnswers(model_dir, processor, cfg, most_images(files)), BATCH
    else:
        answer, size = TransformersAnswers(model_dir, processor, cfg), cfg.batch_size
    path = Path(out) if out else Path(model_dir) / f"eval-{cfg.split}.jsonl"
    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0.0, 0, 0.0])
    bar = tqdm(disable=not progress, unit="q", desc="eval")
    try:
        with path.open("w", encoding="utf-8") as f:
            for batch in in_batches(questions(files, cfg.limit), size):
                for it, pred in zip(batch, answer(batch)):
                    # A model trained with answer boxes writes them after its answer: the text
                    # is scored as text, the boxes by IoU with the answer's own.
                    text, predicted = grounding(pred)
                    score = anls(text, it["answers"], cfg.anls_threshold)
                    exact = exact_match(text, it["answers"])
                    typed = typed_match(text, it["answers"], it["language"])
                    kind = answer_type(it["answers"][0], it["language"])
                    located = [b for b in it["boxes"] or [] if b]
                    box = max((boxes_iou(predicted, b) for b in located), default=None)
                    keys = ["all", ("language", it["language"]), ("answer_type", kind)]
                    for key in keys + ([("kind", it["kind"])] if it["kind"] else []):
                        totals[key][0] += 1
                        totals[key][1] += score
                        totals[key][2] += exact
                        totals[key][3] += typed
                        if box is not None:
                            totals[key][4] += 1
                            totals[key][5] += box
                    record = {
                        "source": it["row"]["texts"][0]["source"],
                        "language": it["language"],
                        "kind": it["kind"],
                        "question": it["question"],
                        "answers": it["answers"],
                        "prediction": pred,
                        "anls": round(score, 4),
                        "exact_match": exact,
                        "answer_type": kind,
                        "typed_match": typed,
                        **({"box_iou": round(box, 4)} if box is not None else {}),
                    }
                    f.write(json.dumps(record, ensure_ascii=False) + "\n")
                bar.update(len(batch))
    finally:
        answer.close()
    bar.close()

    def summary(n, s, e, t, located, box):
        # box_iou: over the questions whose answer was located on its page (shard.answer_boxes)
        return {
            "questions": n,
            "anls": round(s / n, 4) if n else 0.0,
            "exact_match": round(e / n, 4) if n else 0.0,
            "typed_match": round(t / n, 4) if n else 0.0,
            **({"located": located, "box_iou": round(box / located, 4)} if located else {}),
        }

    report = summary(*totals.pop("all", [0, 0.0, 0.0, 0.0, 0, 0.0]))
    for group in GROUPS:  # kinds: shards with metadata columns
        report[f"per_{group}"] = {
            name: summary(*v) for (of, name), v in sorted(totals.items()) if of == group
        }
    report["predictions"] = str(path)
    path.with_suffix(".json").write_text(json.dumps(report, indent=2), "utf-8")
    return report
