"""The dataset card's prose: title, licence, how it was made, source documents, limitations,
loading, the chat configs and citation (the YAML header and the row layout:
``docgen.shard.card``)."""

from __future__ import annotations

import re
from pathlib import Path

from docgen import __version__
from docgen.core.config import ShardConfig

# The Hub's size buckets, by rows.
SIZES = [
    (1e3, "n<1K"),
    (1e4, "1K<n<10K"),
    (1e5, "10K<n<100K"),
    (1e6, "100K<n<1M"),
    (1e7, "1M<n<10M"),
    (1e8, "10M<n<100M"),
    (1e9, "100M<n<1B"),
]
LOCAL_LOAD = 'ds = load_dataset("parquet", data_files="data/train-*.parquet", split="train")'


def title(cfg, out) -> str:
    """``shard.name``, or the output folder's name."""
    return cfg.name or Path(str(out).rstrip("/")).name or "docgen-dataset"


def size_category(rows: int) -> str:
    return next((name for bound, name in SIZES if rows < bound), "n>1B")


def licence_fields(cfg) -> dict:
    """The header's licence: the config's, or `unknown` (and the card says it is not set)."""
    fields = {"license": cfg.license or "unknown"}
    if cfg.license_name:
        fields["license_name"] = cfg.license_name
    if cfg.license_link:
        fields["license_link"] = cfg.license_link
    return fields


def licence_lines(cfg) -> list[str]:
    if not cfg.license:
        return [
            "## Licence",
            "",
            "**Licence not set.** The pairs were made from documents whose licences docgen "
            "does not know. Before publishing, set `shard.license` (a Hub licence id such as "
            "`cc-by-4.0`; `other` with `shard.license_name` and `shard.license_link`) to "
            "terms the source documents allow.",
            "",
        ]
    named = cfg.license_name or cfg.license
    link = f" ([text]({cfg.license_link}))" if cfg.license_link else ""
    missing = (
        " `shard.license_name` and `shard.license_link` are not set: say which licence."
        if cfg.license == "other" and not (cfg.license_name and cfg.license_link)
        else ""
    )
    return [
        "## Licence",
        "",
        f"Released under `{named}`{link}, as set by the dataset's maker; the source "
        f"documents' own terms apply to the page images.{missing}",
        "",
    ]


def made_lines(manifest: dict, generator: str, dropped: dict, kept: int) -> list[str]:
    """How it was made: docgen's version, the generator, the filters and what each dropped."""
    drops = ", ".join(f"{k} {v}" for k, v in sorted(dropped.items(), key=lambda kv: -kv[1]))
    return [
        "## How it was made",
        "",
        f"Made with docgen {__version__}.",
        "",
        f"- Generator: {generator}",
        "- Filters: empty or unreadable text, code and markup debris, leaked Q/A markers, "
        "refusals and 'unanswerable' (8 languages), length bounds (500 characters per turn), "
        "questions that give their answer away or copy a line of the page, question language, "
        "answers grounded in the cited pages (spans, fuzzy spans, numbers and dates as values), "
        "exact and near-duplicate questions within a document, near-duplicate pairs and "
        "boilerplate pages across the dataset (MinHash-LSH), decontamination against an "
        "evaluation set when one is given, and an LLM judge when enabled. Translated questions, "
        "if any, keep the page's answer and say so in `source` (`translated-from:LANG`).",
        f"- Kept {kept} pairs; dropped by reason: {drops or 'none'}.",
        "",
    ]


def source_lines(extract: dict, languages: dict) -> list[str]:
    """What the pairs were made from (counts only: never the files' paths)."""
    langs = ", ".join(f"{k} {v}" for k, v in languages.items()) or "none"
    ocr = extract.get("ocr_pages", 0)
    return [
        "## Source documents",
        "",
        f"{extract.get('documents', 0)} PDF documents ({extract.get('pages', 0)} pages) supplied "
        f"by the dataset's maker; {extract.get('failed_documents', 0)} more could not be read "
        f"and are left out. Pages per language: {langs}."
        + (f" {ocr} pages had no text layer and were read by OCR (Tesseract)." if ocr else ""),
        "",
    ]


LIMITATIONS = [
    "## Limitations and biases",
    "",
    "- The questions and answers are synthetic: written by a model or by rules from the "
    "documents' text, then checked against it automatically. Some pairs are still wrong, "
    "trivial or oddly phrased; no person read them all.",
    "- Answers are checked against the page text (or OCR), so a page read badly yields pairs "
    "about what was read, not what is printed. Answers read off a chart or image are checked "
    "only by a rater model, when one was used.",
    "- The dataset reflects its source documents: their languages, topics, layouts and any "
    "personal data they hold, and the biases of the model that wrote the pairs.",
    "",
]


def loading_lines(repo: str | None, ratings: bool = False) -> list[str]:
    load = f'ds = load_dataset("{repo}", split="train")' if repo else LOCAL_LOAD
    # Ratings are columns to filter by when training, not gates applied when the data was made.
    rated = [
        "# Rows whose every turn is rated 3 or more for relevance (an unrated turn passes);",
        "# `docgen train --min-ratings relevance=3` leaves out the turns themselves.",
        'ds = ds.filter(lambda r: all((x or 5) >= 3 for x in r["relevance_ratings"]))',
    ]
    return [
        "## Loading",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        load,
        'row = ds[0]  # row["images"]: list of PIL images; row["texts"]: list of dicts',
        *(rated if ratings else []),
        "```",
        "",
    ]


def citation_lines(name: str, repo: str | None) -> list[str]:
    key = re.sub(r"\W+", "_", name).strip("_").lower() or "docgen_dataset"
    where = f"https://huggingface.co/datasets/{repo}" if repo else "a local copy"
    return [
        "## Citation",
        "",
        "```bibtex",
        f"@misc{{{key},",
        f"  title = {{{name}}},",
        f"  note = {{Document-VQA pairs made with docgen {__version__}}},",
        f"  howpublished = {{{where}}}",
        "}",
        "```",
        "",
        "The recipe follows Docmatix (Laurençon et al., 2024, *Building and better "
        "understanding vision-language models: insights and future directions*).",
        "",
    ]


def on_the_hub(text: str, repo: str) -> str:
    """A card written before the push, naming the Hub repo where it loads from now."""
    text = text.replace(LOCAL_LOAD, f'ds = load_dataset("{repo}", split="train")')
    text = text.replace("load_dataset(REPO,", f'load_dataset("{repo}",')
    return re.sub(
        r"howpublished = \{a local copy\}",
        f"howpublished = {{https://huggingface.co/datasets/{repo}}}",
        text,
    )


def splits_of(result: dict) -> dict:
    """Split name -> rows and bytes, train first (an empty dataset still declares train)."""
    whole = {"rows": result["rows"], "bytes": result.get("bytes", 0)}
    splits = result.get("splits") or {"train": whole}
    return dict(sorted(splits.items(), key=lambda kv: (kv[0] != "train", kv[0])))


def chat_lines(result: dict, cfg: ShardConfig) -> list[str]:
    """How to train on the chat configs."""
    lines = []
    if "messages" in cfg.chat_configs:
        lines += [
            "## The `messages` config",
            "",
            f"The same {result['messages']['rows']} rows in TRL's conversational vision layout "
            '(`images` + `messages`; one `{"type": "image"}` part per page heading the first '
            "user turn), for `SFTTrainer` or a processor's chat template:",
            "",
            "```python",
            'train = load_dataset(REPO, "messages", split="train")',
            "trainer = SFTTrainer(model=model, processing_class=processor, train_dataset=train)",
            "```",
            "",
        ]
    if "grounded" in cfg.chat_configs:
        lines += [
            "## The `grounded` config",
            "",
            f"The same {result['grounded']['rows']} rows in the `messages` layout, each answer "
            "followed by where it is on the page as Qwen2-VL writes a box: "
            "`<|box_start|>(x0,y0),(x1,y1)<|box_end|>`, in thousandths of the image (a box on "
            "another image than the row's first named before it: "
            "`<|object_ref_start|>image 2<|object_ref_end|>`); an answer not found on its page "
            "(read off a chart) has none. `answer_boxes` holds the same boxes as numbers.",
            "",
        ]
    if "sharegpt" in cfg.chat_configs:
        splits = ", ".join(f"`docgen_{s}`" for s in splits_of(result["sharegpt"]))
        lines += [
            "## The `sharegpt` config",
            "",
            f"The same {result['sharegpt']['rows']} rows in LLaMA-Factory's ShareGPT layout "
            "(`images` + `conversations`, an `<image>` tag per page in the first human turn), "
            "a folder per split under `sharegpt/`. `dataset_info.json` declares the splits as "
            f"{splits}: with this folder as `dataset_dir`, train with `dataset: docgen_train`.",
            "",
        ]
    return lines
