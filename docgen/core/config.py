"""Run configuration: one dataclass per stage, loaded from a YAML file or a built-in config
(``pipelines/*.yaml``: ``default``, ``openai``, ``vllm``, ``train``, and the GPU training
configs ``train-gpu``, ``train-lora``, ``train-fsdp``).

A run config names ``input``, ``work`` and ``out`` at its top level, then one section per stage
whose keys mirror that stage's CLI options. ``--set section.key=value`` overrides any of them;
values are parsed as YAML: ``--set extract.dpi=200`` gives an int, ``run.scheduler=null`` a None.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from docgen import shipped
from docgen.core.config_check import check_config
from docgen.core.train_config import EvalConfig, TrainConfig


@dataclass
class ExtractConfig:
    dpi: int = 150  # Docmatix rendered at 150 dpi ...
    max_image_side: int = 2940  # ... with the longest side capped at 2940 px
    image_format: str = "png"  # png (lossless) | jpeg | webp
    image_quality: int = 90  # jpeg / webp
    colour: str = "auto"  # auto: one channel for pages without colour | rgb | gray
    png_level: int = 2  # deflate level (0-9): zlib-ng's 2 is fast and smaller than its 1 on pages
    tables: str = "pdfplumber"  # pdfplumber | pymupdf | off
    ocr: str = "auto"  # auto: pages without a text layer | force: every page | off
    ocr_languages: list[str] = field(
        default_factory=lambda: ["eng", "fra", "deu", "spa", "ara", "chi_sim", "jpn", "kor"]
    )
    ocr_dpi: int = 300
    docs_per_partition: int = 16  # at most; and at most partition_mb MB of input when set
    partition_mb: float | None = None
    # -- hostile input: caps, and limits on the process that reads each document --
    max_file_mb: float = 200.0
    max_pages: int = 2000
    max_image_pixels: int = 100_000_000  # an embedded image larger than this: decompression bomb
    isolate: bool = True  # each document in a child process with the limits below
    memory_mb: int = 2048  # address-space ceiling of that process (0: none)
    page_timeout_s: float = 120.0
    doc_timeout_s: float = 1800.0


@dataclass
class GenerateConfig:
    backend: str = "rules"  # rules | openai | vllm
    triage: bool = True  # skip blank, contents, index, reference, code and boilerplate pages
    # LLM backends: the model labels each page first (category, complexity 1-10, visual
    # content); no_content pages are skipped and the label decides visual questions
    triage_model: bool = False
    pairs_per_page: int | None = None  # None: the backend's default (rules 6, LLMs 4)
    seed: int = 0
    # -- LLM backends (openai, vllm) --
    model: str = ""  # openai: default the server's first model; vllm: a model name or path
    prompts: str = "llm"  # folder under prompts/
    # What the model sees of each page: its extracted text, its image, or both (for a VLM;
    # image+text is the recommended setting there).
    input: str = "text"  # text | image | image+text
    # Page images are sent as extracted when they fit these (an A4 page at 150 dpi does: resizing
    # costs ~25 ms of CPU a page and, blurring the text, makes the PNG larger), else resized.
    image_max_side: int = 2048
    image_max_pixels: int = 4_000_000
    max_images_per_request: int = 4  # pages per request when images are sent
    # Target share of each kind of question (prompts/<set>/kinds.yaml names the kinds and gives
    # the default shares); the prompt asks for that mix and the report compares.
    kind_shares: dict = field(default_factory=dict)
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 2048  # completion tokens per request
    max_prompt_tokens: int = 6000  # longer documents are cut into chunks of pages
    max_pairs_per_request: int = 24  # pairs a request asks for, at most
    max_pairs_per_reply: int = 100  # pairs read from one reply, at most (cause too_many_pairs)
    token_budget: int | None = None  # stop cleanly once this many tokens were spent
    parts_per_task: int | None = None  # None: enough partitions per task to keep the batch full
    # -- openai: any OpenAI-compatible server (vllm serve, TGI, SGLang, ...) --
    base_urls: list[str] = field(default_factory=list)  # default $OPENAI_BASE_URL
    api_key_env: str = "OPENAI_API_KEY"  # the key is read from this variable, never stored
    structured_output: str = "json_schema"  # json_schema | json_object | none
    # Requests in flight per base URL at most (vLLM batches 256 by default); fewer while the
    # server is slow to start answering or pushes back (timeouts, 429, 503): see backends/window.py
    concurrency: int = 256
    stream: bool = True  # replies streamed: a silent server is told from a slow one
    silence_timeout: float = 60.0  # seconds without a byte of the reply: the request is cut
    # A request's deadline: request_timeout plus max_tokens at min_tokens_per_second (2,048
    # tokens: 120 s + 34 min), so a reply trickling out slower than that is cut.
    request_timeout: float = 120.0
    min_tokens_per_second: float = 1.0
    max_reply_kb: int = 1024  # a longer reply is not read on (cause too_large)
    max_attempts: int = 5  # on 429, 5xx, timeouts and connection errors
    backoff_base: float = 1.0  # seconds; doubled per attempt, with jitter
    backoff_max: float = 60.0
    # -- vllm: the offline engine, one per GPU worker --
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.9
    max_model_len: int | None = None
    # any other argument of vllm.LLM, e.g. {enforce_eager: true, dtype: bfloat16, quantization:
    # awq, enable_chunked_prefill: false, max_num_batched_tokens: 8192, limit_mm_per_prompt: ...}
    engine_args: dict = field(default_factory=dict)
    engine_python: str | None = None  # a Python with vLLM for the engine process; default ours
    # A seed on each request makes sampling repeatable; some engines (vLLM's CPU build with
    # chunked prefill) cannot take one.
    send_seed: bool = True


@dataclass
class FilterConfig:
    min_question_chars: int = 6
    max_question_chars: int = 500  # the Idefics recipe drops turns over 500 characters
    max_answer_chars: int = 500
    require_grounded: bool = True
    fuzzy_threshold: float = 90.0  # rapidfuzz partial_ratio of the answer's words to the pages
    min_token_coverage: float = 0.8  # long (abstractive) answers: share of words on the pages
    check_language: bool = True
    check_question: bool = True  # a question must end as one does in its language
    language: str | None = None  # pairs expected in this language; default: each page's own
    near_duplicate_ratio: float = 90.0  # same answer, questions this similar: one is dropped
    decontaminate: str | None = None  # evaluation questions (JSON / JSON lines / Parquet)
    decontam_ngram: int = 8
    decontam_threshold: float = 0.5  # share of a question's n-grams found in one eval question
    max_page_copies: int = 5  # near-duplicate pages across the dataset keeping their pairs
    page_similarity: float = 0.8  # Jaccard of word 3-grams for pages to be near-duplicates
    max_pair_copies: int = 3  # copies of a near-identical question+answer across the dataset
    pair_similarity: float = 0.9  # Jaccard of question and answer tokens for pairs
    judge: bool = False  # LLM-as-judge through the generate backend (openai or vllm)
    judge_min_score: int = 4  # judge scores 1-5; pairs below are dropped as judge_low_score
    # Rated turns: each kept pair scored 1-5 on RATINGS by the generate backend (seeing the page
    # images when generate.input sends them); the scores become shard columns, and pairs rated
    # below min_ratings are dropped. Pairs of kind `visual` (read off the image) are then judged
    # by the rater rather than by the span check.
    # Most a kind of question may hold of a partition's kept pairs, e.g. {extractive: 0.4}: pairs
    # over it are dropped as kind_share:<kind> (which ones, by a seeded hash).
    max_kind_share: dict = field(default_factory=dict)
    rate: bool = False
    min_ratings: dict = field(
        default_factory=lambda: {"relevance": 3, "image_correspondence": 4, "formatting": 3}
    )
    translate_to: list[str] = field(default_factory=list)  # e.g. [en, ar]: kept questions too
    back_translation_ratio: float = 80.0  # rapidfuzz ratio of back-translation to the original


@dataclass
class ShardConfig:
    max_pages_per_row: int = 4  # as in Docmatix
    max_shard_mb: float = 500.0
    row_group_mb: float = 100.0
    # The Hub's licence id (cc-by-4.0, apache-2.0, ..., other); None: not set, and the card says
    # so. With `other`: its name and a link to its text.
    license: str | None = None
    license_name: str | None = None
    license_link: str | None = None
    name: str | None = None  # the dataset's title; None: OUT's folder name
    test_fraction: float = 0.0  # documents held out as a `test` split, chosen by a seeded hash
    metadata_columns: bool = False  # add doc_id, languages, page_numbers, generator per row
    split_seed: int = 0
    pdf_config: bool = False  # also write a `pdf` config: each document's PDF file and its pairs
    # Also the same rows as chats for trainers: `messages` (TRL), `sharegpt` (LLaMA-Factory)
    chat_configs: list[str] = field(default_factory=list)
    # Per-turn rating columns (relevance_ratings, ...); None: when the pairs were rated
    rating_columns: bool | None = None
    # Write shards on the Dask workers (a task per shard) rather than streaming them through this
    # process. None: on the workers when the cluster is an existing one (a scheduler address)
    # or WORK or OUT is a URL, so the driver never moves the images; in this process otherwise.
    on_workers: bool | None = None


@dataclass
class RunOptions:
    scheduler: str | None = None  # None: a LocalCluster of processes; "sync": in this process
    workers: int | None = None  # LocalCluster size; default one per core
    progress: bool = True
    # Extract again the documents that failed for good last time (not a PDF, encrypted, ...);
    # failures that may pass (a killed process, a timeout) are retried by every rerun anyway.
    retry_failed: bool = False
    limit: int | None = None  # only the first N documents found: a trial run
    dashboard: bool = False  # a LocalCluster serves Dask's dashboard (its address is printed)


@dataclass
class RunConfig:
    input: list[str] = field(default_factory=list)
    work: str = "data/work"
    out: str = "data/out"
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    generate: GenerateConfig = field(default_factory=GenerateConfig)
    filter: FilterConfig = field(default_factory=FilterConfig)
    shard: ShardConfig = field(default_factory=ShardConfig)
    run: RunOptions = field(default_factory=RunOptions)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def to_dict(self) -> dict:
        return asdict(self)


def build(cls, values: dict, where: str = ""):
    """A dataclass from a dict, recursing into nested dataclasses; unknown keys are an error."""
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(
            f"unknown config key(s) {', '.join(where + k for k in unknown)}; "
            f"known: {', '.join(sorted(known))}"
        )
    kwargs = {}
    for name, value in values.items():
        default = getattr(cls(), name)
        if dataclasses.is_dataclass(default):
            if value is not None and not isinstance(value, dict):
                raise ValueError(f"config {where}{name}: a section of keys, not {value!r}")
            kwargs[name] = build(type(default), value or {}, f"{where}{name}.")
        elif isinstance(default, list) and isinstance(value, str):
            kwargs[name] = [value]
        else:
            kwargs[name] = value
    return cls(**kwargs)


def apply_override(data: dict, assignment: str) -> None:
    """Apply one ``a.b=value`` to a nested dict."""
    key, sep, raw = assignment.partition("=")
    if not sep or not key:
        raise ValueError(f"--set expects key=value, got {assignment!r}")
    *parents, leaf = key.strip().split(".")
    node = data
    for p in parents:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ValueError(f"--set {key}: {p} is not a section")
    node[leaf] = read_yaml(raw, f"--set {key.strip()}")


def read_yaml(text: str, where: str):
    """``text`` as YAML, or a one-line error naming ``where`` and the line it stumbled on."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ValueError(f"{where}: not valid YAML ({problem}{at})") from None


BUILTIN = shipped("pipelines")  # run configs shipped with docgen


def builtin_configs() -> list[str]:
    return sorted(p.stem for p in BUILTIN.glob("*.yaml"))


def config_path(name: str | Path) -> Path:
    """A run config file: ``name`` when it is a file, else the built-in config it names
    (``openai``, or the old ``pipelines/openai.yaml``)."""
    path = Path(name)
    if path.is_file():
        return path
    if (
        path.suffix in ("", ".yaml")
        and path.parent.name in ("", "pipelines")
        and (BUILTIN / f"{path.stem}.yaml").is_file()
    ):
        return BUILTIN / f"{path.stem}.yaml"
    raise ValueError(
        f"no run config {str(name)!r}: give a YAML file or a built-in config "
        f"({', '.join(builtin_configs())})"
    )


def local(path: str) -> bool:
    return "://" not in path or path.startswith("file://")


def absolute(path: str) -> str:
    path = path[len("file://") :] if path.startswith("file://") else path
    return os.path.abspath(os.path.expanduser(path))


def settle_paths(cfg: RunConfig) -> RunConfig:
    """Make every local path a worker reads absolute, here where it was meant: a Dask worker runs
    in a folder of its own (a `dask worker` started elsewhere, a cluster node), where a relative
    WORK would be another folder. URLs stay as they are."""
    cfg.input = [absolute(p) if local(p) else p for p in cfg.input]
    cfg.work, cfg.out = (absolute(p) if local(p) else p for p in (cfg.work, cfg.out))
    g = cfg.generate
    if "/" in g.prompts:  # a path; a bare name is a prompt set shipped with docgen
        g.prompts = absolute(g.prompts)
    if g.engine_python and "/" in g.engine_python:  # else a command found on each worker's PATH
        g.engine_python = absolute(g.engine_python)
    e = cfg.eval
    if e.engine_python and "/" in e.engine_python:
        e.engine_python = absolute(e.engine_python)
    if g.backend == "vllm" and g.model and os.path.exists(g.model):  # a folder the engine loads
        g.model = absolute(g.model)  # (for a server, the model is the name it serves)
    if cfg.filter.decontaminate and local(cfg.filter.decontaminate):
        cfg.filter.decontaminate = absolute(cfg.filter.decontaminate)
    return cfg


def load_config(path: str | Path | None = None, overrides: list[str] = ()) -> RunConfig:
    """Read a YAML run config (a file or a built-in config's name; none: the defaults) and
    apply ``--set`` overrides."""
    data = {}
    if path is not None:
        path = config_path(path)
        data = read_yaml(path.read_text("utf-8"), str(path)) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: a run config is a mapping of sections")
    for assignment in overrides:
        apply_override(data, assignment)
    cfg = build(RunConfig, data)
    check_config(cfg)
    return cfg
