"""The dataset card (``OUT/README.md``): the YAML header the Hub reads, then stats, recipe."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import yaml

from docgen.core.config import ShardConfig
from docgen.shard.card_sections import (
    LIMITATIONS,
    chat_lines,
    citation_lines,
    licence_fields,
    licence_lines,
    loading_lines,
    made_lines,
    size_category,
    source_lines,
    splits_of,
    title,
)
from docgen.shard.chat import LAYOUTS
from docgen.shard.schema import shard_name

FEATURE_YAML = [
    {"name": "images", "list": "image"},
    {
        "name": "texts",
        "list": [
            {"name": "user", "dtype": "string"},
            {"name": "assistant", "dtype": "string"},
            {"name": "source", "dtype": "string"},
        ],
    },
]


META_YAML = [
    {"name": "doc_id", "dtype": "string"},
    {"name": "languages", "list": "string"},
    {"name": "page_numbers", "list": "int32"},
    {"name": "generator", "dtype": "string"},
    {"name": "kinds", "list": "string"},
    {"name": "answer_types", "list": "string"},
]


PDF_YAML = [{"name": "pdf", "dtype": "binary"}, FEATURE_YAML[1]]


META_LINES = [
    "| `doc_id` | content hash of the source PDF |",
    "| `languages` | languages of the row's pages |",
    "| `page_numbers` | the row's pages in the source PDF (1-based) |",
    "| `generator` | backend:model that wrote the pairs |",
    "| `kinds` | the kind of question of each turn (extractive, numeric, table, ...) |",
    "| `answer_types` | each turn's answer as `docgen.verify` types it (text, number, date, "
    "yes_no, list, box): check a model's answer by it |",
]


RATING_YAML = [
    {"name": f"{scale}_ratings", "list": "int8"}
    for scale in ("relevance", "visual_dependency", "image_correspondence", "formatting")
]


RATING_LINES = [
    "| `relevance_ratings` | per turn, 1-5: a question a reader would sensibly ask |",
    "| `visual_dependency_ratings` | per turn, 1-5: how much answering needs the page image |",
    "| `image_correspondence_ratings` | per turn, 1-5: the answer is right for the page |",
    "| `formatting_ratings` | per turn, 1-5: clean, complete, concise |",
]


BOX_YAML = [
    {"name": "answer_located", "list": "string"},
    {"name": "answer_boxes", "list": {"list": [
        {"name": "image", "dtype": "int32"}, {"name": "page", "dtype": "int32"},
        {"name": "box", "list": "int32"}, {"name": "box_1000", "list": "int32"}]}},
]  # fmt: skip


BOX_LINES = [
    "| `answer_located` | per turn: how its answer was found on its pages: `exact`, `fuzzy` "
    "(OCR), `not_found` (read off a chart or figure, or not on the page) |",
    "| `answer_boxes` | per turn: one box per line of the answer, `{image, page, box, "
    "box_1000}`: the row's image it is on (0-based), the page number, `[x0, y0, x1, y1]` in the "
    "image's pixels and in 0-1000 |",
]


REASONING_YAML = [{"name": "reasoning", "list": "string"}]
REASONING_LINES = [
    "| `reasoning` | per turn: the thinking model's reasoning before it wrote the turn's pair "
    "(null where there was none), for reasoning fine-tuning |",
]


def feature_yaml(
    metadata_columns: bool,
    config: str = "default",
    ratings: bool = False,
    boxes: bool = False,
    reasoning: bool = False,
) -> list[dict]:
    if config in LAYOUTS:
        base = [FEATURE_YAML[0], LAYOUTS[config][3]]
    else:
        base = FEATURE_YAML if config == "default" else PDF_YAML
    # A copy: YAML would write the entries shared between configs as anchors and aliases.
    boxes = BOX_YAML if boxes and config != "pdf" else []
    traces = REASONING_YAML if reasoning and config != "pdf" else []
    return copy.deepcopy(
        base
        + (META_YAML if metadata_columns else [])
        + (RATING_YAML if ratings else [])
        + boxes
        + traces
    )


TASKS = ["visual-question-answering", "document-question-answering"]


def header(result: dict, cfg: ShardConfig, name: str) -> dict:
    configs = {"default": ("data", result)}
    if "pdf" in result:
        configs["pdf"] = ("pdf", result["pdf"])
    for name in cfg.chat_configs:
        configs[name] = (name, result[name])
    infos = [
        {
            "config_name": name,
            "features": feature_yaml(
                cfg.metadata_columns,
                name,
                bool(cfg.rating_columns),
                cfg.answer_boxes,
                cfg.reasoning_column,
            ),
            "splits": [
                {"name": split, "num_bytes": s["bytes"], "num_examples": s["rows"]}
                for split, s in splits_of(counts).items()
            ],
            # What the Hub shows as the dataset's size: the bytes of its Parquet files.
            "download_size": sum(s["bytes"] for s in splits_of(counts).values()),
            "dataset_size": sum(s["bytes"] for s in splits_of(counts).values()),
        }
        for name, (_, counts) in configs.items()
    ]
    return {
        **licence_fields(cfg),
        "language": sorted(k for k in result["languages"] if k != "und"),
        "size_categories": [size_category(result["rows"])],
        "task_categories": TASKS,
        "task_ids": TASKS,
        "tags": ["document-vqa", "synthetic", "docgen"],
        "pretty_name": name,
        "configs": [
            {
                "config_name": name,
                **({"default": True} if name == "default" and len(configs) > 1 else {}),
                "data_files": [
                    {"split": split, "path": f"{folder}/{shard_name(name, split)}"}
                    for split in splits_of(counts)
                ],
            }
            for name, (folder, counts) in configs.items()
        ],
        # One config: a mapping; several: a list with config_name, as the Hub writes them.
        "dataset_info": infos if len(infos) > 1 else without_name(infos[0]),
    }


def without_name(info: dict) -> dict:
    return {k: v for k, v in info.items() if k != "config_name"}


def dataset_infos(meta: dict) -> dict[str, dict]:
    """The card's dataset_info per config name (a single mapping is the default config)."""
    info = meta.get("dataset_info") or {}
    if isinstance(info, dict):
        return {"default": info}
    return {i.get("config_name", "default"): i for i in info if isinstance(i, dict)}


def write_card(out: Path, result: dict, manifest: dict, cfg: ShardConfig,
               example: dict | None) -> None:  # fmt: skip
    """OUT/README.md: the header the Hub reads, then what a reader needs to use the data well."""
    stages = manifest.get("stages", {})
    extract, generate, filt = (stages.get(s, {}) for s in ("extract", "generate", "filter"))
    gen_cfg = manifest.get("config", {}).get("generate", {})
    name = title(cfg, out)
    lines = [
        "---",
        yaml.safe_dump(header(result, cfg, name), sort_keys=False, allow_unicode=True).strip(),
        "---",
        "",
        f"# {name}",
        "",
        "Document visual question answering pairs generated from PDFs by docgen, in the layout of "
        "Docmatix and The Cauldron: one row per document (up to "
        f"{cfg.max_pages_per_row} pages), its page images and its question–answer pairs.",
        "",
        *([] if cfg.license else ["**Licence not set**: see [Licence](#licence).", ""]),
        "## Statistics",
        "",
        "| | count |",
        "|---|---|",
        f"| documents | {extract.get('documents', 0)} |",
        f"| pages | {extract.get('pages', 0)} |",
        f"| pairs generated | {generate.get('pairs', 0)} |",
        f"| pairs kept | {result['pairs']} |",
        f"| rows | {result['rows']} |",
        f"| shards | {len(result['shards'])} |",
        "",
        *made_lines(manifest, generator_line(gen_cfg), filt.get("dropped", {}), result["pairs"]),
        *source_lines(extract, result["languages"]),
        "## Row layout",
        "",
        "| column | type |",
        "|---|---|",
        "| `images` | list of images (`struct<bytes: binary, path: string>`) |",
        "| `texts` | list of `{user, assistant, source}` |",
        *(META_LINES if cfg.metadata_columns else []),
        *(RATING_LINES if cfg.rating_columns else []),
        *(BOX_LINES if cfg.answer_boxes else []),
        *(REASONING_LINES if cfg.reasoning_column else []),
        "",
        *loading_lines(None, bool(cfg.rating_columns)),
    ]
    if "pdf" in result:
        lines += [
            "## The `pdf` config",
            "",
            f"{result['pdf']['rows']} rows under `pdf/`, one per document: `pdf` holds the PDF "
            "file as it was read (binary) and `texts` all of the document's pairs. From the Hub: "
            '`load_dataset(REPO, "pdf", split="train")`.',
            "",
        ]
    lines += chat_lines(result, cfg)
    if example:
        lines += ["## Example pair", "", "```json",
                  json.dumps(example, ensure_ascii=False, indent=2), "```", ""]  # fmt: skip
    lines += [*licence_lines(cfg), *LIMITATIONS, *citation_lines(name, None)]
    (out / "README.md").write_text("\n".join(lines), "utf-8")


def generator_line(gen_cfg: dict) -> str:
    """How pairs were made: the backend, and for LLMs the model and prompt set (never URLs/keys)."""
    backend = gen_cfg.get("backend", "rules")
    per_page = gen_cfg.get("pairs_per_page") or (6 if backend == "rules" else 4)
    if backend == "rules":
        return f"the model-free `rules` backend, up to {per_page} pairs per page."
    return (
        f"the `{backend}` backend with model `{gen_cfg.get('model') or 'the server default'}`, "
        f"prompts `prompts/{gen_cfg.get('prompts', 'llm')}` (a role variant per document), "
        f"about {per_page} pairs per page, temperature {gen_cfg.get('temperature')}."
    )
