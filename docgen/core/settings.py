"""The run config's sections, one dataclass per stage, each setting declared once: its type, its
default, what it takes (a range or choices: checked before any work, see
:mod:`docgen.core.config_check`) and a line of help. :mod:`docgen.core.config` puts them together
and loads them.

Over 300 lines on purpose: it is the config's schema, a line or three per setting; the sections
are read side by side (a stage's settings next to those of the stages it works with).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from docgen.core.config_check import (
    NOT_NEGATIVE,
    PERCENT,
    POSITIVE,
    SECONDS,
    SHARE,
    Between,
    Mapping,
    setting,
)

# The scales FineVision rates turns on (filter.rate): shard columns <scale>_ratings.
HUB_DATASET = "hf://datasets/"  # a Hub dataset named where a local folder could be
RATINGS = ("relevance", "visual_dependency", "image_correspondence", "formatting")


@dataclass
class ExtractConfig:
    dpi: int = setting(150, check=Between(36, 1200), help="Docmatix rendered at 150 dpi ...")
    max_image_side: int = setting(
        2940, check=Between(64, 20_000), help="... with the longest side capped at 2940 px"
    )
    image_format: str = setting(
        "png", check=("png", "jpeg", "webp"), help="png (lossless) | jpeg | webp"
    )
    image_quality: int = setting(90, check=Between(1, 100), help="jpeg / webp")
    colour: str = setting(
        "auto",
        check=("auto", "rgb", "gray"),
        help="auto: one channel for pages without colour | rgb | gray",
    )
    png_level: int = setting(
        2,
        check=Between(0, 9),
        help="deflate level (0-9): zlib-ng's 2 is fast and smaller than its 1 on pages",
    )
    tables: str = setting("pdfplumber", check=("pdfplumber", "pymupdf", "off"))
    ocr: str = setting(
        "auto",
        check=("auto", "force", "off"),
        help="auto: pages without a text layer | force: every page | off",
    )
    ocr_languages: list[str] = setting(
        factory=lambda: ["eng", "fra", "deu", "spa", "ara", "chi_sim", "jpn", "kor"]
    )
    ocr_dpi: int = setting(300, check=Between(72, 1200))
    docs_per_partition: int = setting(
        16, check=POSITIVE, help="at most; and at most partition_mb MB of input when set"
    )
    partition_mb: float | None = setting(None, check=Between(0, low_open=True))
    # -- hostile input: caps, and limits on the process that reads each document --
    max_file_mb: float = setting(200.0, check=Between(0, low_open=True))
    max_pages: int = setting(2000, check=POSITIVE)
    max_image_pixels: int = setting(
        100_000_000, check=POSITIVE, help="an embedded image larger than this: decompression bomb"
    )
    isolate: bool = setting(True, help="each document in a child process with the limits below")
    memory_mb: int = setting(
        2048,
        check=Between(256, zero_off=True),
        help="address-space ceiling of that process (0: none)",
    )
    page_timeout_s: float = setting(120.0, check=SECONDS)
    doc_timeout_s: float = setting(1800.0, check=SECONDS)


@dataclass
class GenerateConfig:
    backend: str = setting("rules", check=("rules", "openai", "vllm"))
    triage: bool = setting(
        True, help="skip blank, contents, index, reference, code and boilerplate pages"
    )
    # LLM backends: the model labels each page first (category, complexity 1-10, visual
    # content); no_content pages are skipped and the label decides visual questions
    triage_model: bool = setting(False)
    pairs_per_page: int | None = setting(
        None, check=POSITIVE, help="None: the backend's default (rules 6, LLMs 4)"
    )
    seed: int = setting(0)
    # -- LLM backends (openai, vllm) --
    model: str = setting(
        "", help="openai: default the server's first model; vllm: a model name or path"
    )
    prompts: str = setting("llm", help="folder under prompts/")
    # What the model sees of each page: its extracted text, its image, or both (for a VLM;
    # image+text is the recommended setting there).
    input: str = setting("text", check=("text", "image", "image+text"))
    # Page images are sent as extracted when they fit these (an A4 page at 150 dpi does: resizing
    # costs ~25 ms of CPU a page and, blurring the text, makes the PNG larger), else resized.
    image_max_side: int = setting(2048, check=Between(64, 20_000))
    image_max_pixels: int = setting(4_000_000, check=Between(4096))
    max_images_per_request: int = setting(
        4, check=Between(1, 64), help="pages per request when images are sent"
    )
    # Target share of each kind of question (prompts/<set>/kinds.yaml names the kinds and gives
    # the default shares); the prompt asks for that mix and the report compares.
    kind_shares: dict = setting(factory=dict)
    temperature: float = setting(0.7, check=Between(0, 2))
    top_p: float = setting(0.95, check=Between(0, 1, low_open=True))
    max_tokens: int = setting(2048, check=POSITIVE, help="completion tokens per request")
    max_prompt_tokens: int = setting(
        6000, check=Between(256), help="longer documents are cut into chunks of pages"
    )
    max_pairs_per_request: int = setting(
        24, check=POSITIVE, help="pairs a request asks for, at most"
    )
    max_pairs_per_reply: int = setting(
        100, check=POSITIVE, help="pairs read from one reply, at most (cause too_many_pairs)"
    )
    token_budget: int | None = setting(
        None, check=POSITIVE, help="stop cleanly once this many tokens were spent"
    )
    parts_per_task: int | None = setting(
        None, check=POSITIVE, help="None: enough partitions per task to keep the batch full"
    )
    # -- openai: any OpenAI-compatible server (vllm serve, TGI, SGLang, ...) --
    base_urls: list[str] = setting(factory=list, help="default $OPENAI_BASE_URL")
    api_key_env: str = setting(
        "OPENAI_API_KEY", help="the key is read from this variable, never stored"
    )
    structured_output: str = setting("json_schema", check=("json_schema", "json_object", "none"))
    # Requests in flight per base URL at most (vLLM batches 256 by default); fewer while the
    # server is slow to start answering or pushes back (timeouts, 429, 503): see backends/window.py
    concurrency: int = setting(256, check=Between(1, 100_000))
    stream: bool = setting(True, help="replies streamed: a silent server is told from a slow one")
    silence_timeout: float = setting(
        60.0, check=SECONDS, help="seconds without a byte of the reply: the request is cut"
    )
    # A request's deadline: request_timeout plus max_tokens at min_tokens_per_second (2,048
    # tokens: 120 s + 34 min), so a reply trickling out slower than that is cut.
    request_timeout: float = setting(120.0, check=SECONDS)
    min_tokens_per_second: float = setting(1.0, check=SECONDS)
    max_reply_kb: int = setting(
        1024, check=Between(1, 1_048_576), help="a longer reply is not read on (cause too_large)"
    )
    max_attempts: int = setting(
        5, check=Between(1, 100), help="on 429, 5xx, timeouts and connection errors"
    )
    backoff_base: float = setting(
        1.0, check=NOT_NEGATIVE, help="seconds; doubled per attempt, with jitter"
    )
    backoff_max: float = setting(60.0, check=NOT_NEGATIVE)
    # -- vllm: the offline engine, one per GPU worker --
    tensor_parallel_size: int = setting(1, check=POSITIVE)
    gpu_memory_utilization: float = setting(0.9, check=Between(0, 1, low_open=True))
    max_model_len: int | None = setting(None, check=POSITIVE)
    # any other argument of vllm.LLM, e.g. {enforce_eager: true, dtype: bfloat16, quantization:
    # awq, enable_chunked_prefill: false, max_num_batched_tokens: 8192, limit_mm_per_prompt: ...}
    engine_args: dict = setting(factory=dict)
    engine_python: str | None = setting(
        None, help="a Python with vLLM for the engine process; default ours"
    )
    # A seed on each request makes sampling repeatable; some engines (vLLM's CPU build with
    # chunked prefill) cannot take one.
    send_seed: bool = setting(True)
    # A thinking model (Qwen3, DeepSeek-R1 ...): its reasoning kept apart from its answer, from
    # the server's reasoning parser (vllm serve --reasoning-parser NAME: the JSON schema then
    # holds the answer only) or cut from <think>...</think> (a server without one: set
    # structured_output none, as a grammar would forbid the thinking)
    reasoning: bool = setting(False, help="a thinking model behind an OpenAI-compatible server")

    def cross_check(self) -> None:
        """Settings that only go together: the model-free backend cannot label pages or read
        their images."""
        if self.reasoning and self.backend != "openai":
            raise ValueError(
                "config generate.reasoning: a thinking model is served with `vllm serve "
                "--reasoning-parser NAME` and asked with backend openai (the vllm engine's "
                "grammar would forbid its reasoning)"
            )
        if self.backend == "rules" and self.triage_model:
            raise ValueError("generate.triage_model needs a model (backend openai or vllm)")
        if self.backend == "rules" and self.input != "text":
            raise ValueError(
                f"generate.input={self.input} needs a vision-language model (backend openai or "
                "vllm); the rules backend reads the text of the pages only"
            )


@dataclass
class FilterConfig:
    min_question_chars: int = setting(6, check=NOT_NEGATIVE)
    max_question_chars: int = setting(
        500, check=POSITIVE, help="the Idefics recipe drops turns over 500 characters"
    )
    max_answer_chars: int = setting(500, check=POSITIVE)
    require_grounded: bool = setting(True)
    require_anchors: bool = setting(
        True, help="multi_page and document questions name the page, figure or table they use"
    )
    fuzzy_threshold: float = setting(
        90.0, check=PERCENT, help="rapidfuzz partial_ratio of the answer's words to the pages"
    )
    min_token_coverage: float = setting(
        0.8, check=SHARE, help="long (abstractive) answers: share of words on the pages"
    )
    check_language: bool = setting(True)
    check_question: bool = setting(True, help="a question must end as one does in its language")
    language: str | None = setting(
        None, help="pairs expected in this language; default: each page's own"
    )
    near_duplicate_ratio: float = setting(
        90.0, check=PERCENT, help="same answer, questions this similar: one is dropped"
    )
    decontaminate: str | None = setting(
        None, help="evaluation questions (JSON / JSON lines / Parquet)"
    )
    decontam_ngram: int = setting(8, check=POSITIVE)
    decontam_threshold: float = setting(
        0.5, check=SHARE, help="share of a question's n-grams found in one eval question"
    )
    max_page_copies: int = setting(
        5, check=POSITIVE, help="near-duplicate pages across the dataset keeping their pairs"
    )
    page_similarity: float = setting(
        0.8, check=SHARE, help="Jaccard of word 3-grams for pages to be near-duplicates"
    )
    max_pair_copies: int = setting(
        3, check=POSITIVE, help="copies of a near-identical question+answer across the dataset"
    )
    pair_similarity: float = setting(
        0.9, check=SHARE, help="Jaccard of question and answer tokens for pairs"
    )
    judge: bool = setting(False, help="LLM-as-judge through the generate backend (openai or vllm)")
    judge_min_score: int = setting(
        4, check=Between(1, 5), help="judge scores 1-5; pairs below are dropped as judge_low_score"
    )
    # Most a kind of question may hold of a partition's kept pairs, e.g. {extractive: 0.4}: pairs
    # over it are dropped as kind_share:<kind> (which ones, by a seeded hash).
    max_kind_share: dict = setting(factory=dict, check=Mapping(Between(0, 1, low_open=True)))
    # Rated turns: each kept pair scored 1-5 on RATINGS by the generate backend (seeing the page
    # images when generate.input sends them); the scores become shard columns to filter by at
    # training time (FineVision found a mix filtered by its own ratings trained worse than one
    # kept whole): none drops a pair unless min_ratings names its scale. Pairs of the kinds read
    # off the image (`visual` ...) are then grounded by the rater rather than by the span check.
    rate: bool = setting(False)
    min_ratings: dict = setting(
        factory=dict,
        check=Mapping(Between(1, 5), keys=RATINGS, whole=True),
        help="the lowest score kept on a scale; {} keeps every rated pair",
    )
    translate_to: list[str] = setting(factory=list, help="e.g. [en, ar]: kept questions too")
    # A benchmark's images (a folder of image files or Parquet shards, or a Parquet file): pages
    # within image_match_bits of one (of 255) are dropped with their pairs
    decontaminate_images: str | None = setting(
        None, help="folder or Parquet file of images, or hf://datasets/OWNER/NAME"
    )
    image_match_bits: int = setting(
        40,
        check=Between(0, 255),
        help="a re-rendered, scaled, cropped page is within ~25; another of its template 70+",
    )
    # Hard negatives: kept questions asked of another document's page, answered "the document
    # does not say" (docgen/filter/unanswerable.py), this share of the pairs after
    unanswerable_share: float = setting(
        0.05, check=Between(0, 0.5), help="0 makes none; NVIDIA mixes 5-7%"
    )

    def cross_check(self) -> None:
        source = self.decontaminate_images
        if source and source.startswith(HUB_DATASET):
            if not re.fullmatch(r"[\w.-]+/[\w.-]+", source.removeprefix(HUB_DATASET)):
                raise ValueError(
                    f"config filter.decontaminate_images: {source} is not {HUB_DATASET}OWNER/NAME"
                )
        elif source and not os.path.exists(source):
            raise ValueError(
                f"config filter.decontaminate_images: {source} not found (a folder of images "
                f"or Parquet shards, a Parquet file, or a Hub dataset: {HUB_DATASET}OWNER/NAME)"
            )

    back_translation_ratio: float = setting(
        80.0, check=PERCENT, help="rapidfuzz ratio of back-translation to the original"
    )


@dataclass
class ShardConfig:
    max_pages_per_row: int = setting(4, check=POSITIVE, help="as in Docmatix")
    max_shard_mb: float = setting(500.0, check=Between(0, low_open=True))
    row_group_mb: float = setting(100.0, check=Between(0, low_open=True))
    # The Hub's licence id (cc-by-4.0, apache-2.0, ..., other); None: not set, and the card says
    # so. With `other`: its name and a link to its text.
    license: str | None = setting(None)
    license_name: str | None = setting(None)
    license_link: str | None = setting(None)
    name: str | None = setting(None, help="the dataset's title; None: OUT's folder name")
    test_fraction: float = setting(
        0.0,
        check=Between(0, 1, high_open=True),
        help="documents held out as a `test` split, chosen by a seeded hash",
    )
    metadata_columns: bool = setting(
        False, help="add doc_id, languages, page_numbers, generator per row"
    )
    split_seed: int = setting(0)
    pdf_config: bool = setting(
        False, help="also write a `pdf` config: each document's PDF file and its pairs"
    )
    # Also the same rows as chats for trainers: `messages` (TRL), `sharegpt` (LLaMA-Factory),
    # `grounded` (TRL's layout, each answer with its boxes as Qwen2-VL writes them)
    chat_configs: list[str] = setting(factory=list, check=("messages", "sharegpt", "grounded"))
    # Per-turn rating columns (relevance_ratings, ...); None: when the pairs were rated
    rating_columns: bool | None = setting(None)
    answer_boxes: bool = setting(
        False, help="add answer_located and answer_boxes per turn: where each answer is drawn"
    )

    reasoning_column: bool = setting(
        False, help="add `reasoning` per turn: a thinking model's trace before it (reasoning SFT)"
    )

    def cross_check(self) -> None:
        if "grounded" in self.chat_configs and not self.answer_boxes:
            raise ValueError(
                "config shard.chat_configs: grounded writes each answer's boxes: it needs "
                "shard.answer_boxes=true (or --answer-boxes)"
            )

    # Write shards on the Dask workers (a task per shard) rather than streaming them through this
    # process. None: on the workers when the cluster is an existing one (a scheduler address)
    # or WORK or OUT is a URL, so the driver never moves the images; in this process otherwise.
    on_workers: bool | None = setting(None)


@dataclass
class RunOptions:
    scheduler: str | None = setting(
        None, help='None: a LocalCluster of processes; "sync": in this process'
    )
    workers: int | None = setting(
        None, check=Between(1, 4096), help="LocalCluster size; default one per core"
    )
    progress: bool = setting(True)
    # Extract again the documents that failed for good last time (not a PDF, encrypted, ...);
    # failures that may pass (a killed process, a timeout) are retried by every rerun anyway.
    retry_failed: bool = setting(False)
    limit: int | None = setting(
        None, check=POSITIVE, help="only the first N documents found: a trial run"
    )
    dashboard: bool = setting(
        False, help="a LocalCluster serves Dask's dashboard (its address is printed)"
    )
