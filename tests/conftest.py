import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from docgen.samples import make_corpus  # noqa: E402


@pytest.fixture(scope="session")
def samples(tmp_path_factory) -> Path:
    """The default sample corpus (48 documents, 8 languages), made once per test session."""
    out = tmp_path_factory.mktemp("samples")
    make_corpus(out, progress=False)
    return out


class Run:
    """A run of the pipeline into a temporary folder: its config, manifest, WORK and OUT."""

    def __init__(self, cfg, manifest: dict):
        self.cfg, self.manifest = cfg, manifest
        self.work, self.out = Path(cfg.work), Path(cfg.out)


@pytest.fixture(scope="session")
def pipeline_run(samples, tmp_path_factory):
    """``pipeline_run(*sets, config="default", input=samples)``: the pipeline run over ``input``
    (the sample corpus by default) into a temporary folder, in this process unless ``sets`` says
    otherwise (``run.scheduler=sync``, no bars), with ``sets`` (``key=value``) on top. The same
    arguments give the same run, made once per session: tests that read its output share it."""
    from docgen.core.config import load_config
    from docgen.run.pipeline import run_pipeline

    made: dict[tuple, Run] = {}

    def run(*sets: str, config: str = "default", input=None) -> Run:
        key = (config, str(input or samples), sets)
        if key not in made:
            root = tmp_path_factory.mktemp(config)
            cfg = load_config(config, [f"input={input or samples}", f"work={root / 'work'}",
                                       f"out={root / 'out'}", "run.scheduler=sync",
                                       "run.progress=false", *sets])  # fmt: skip
            made[key] = Run(cfg, run_pipeline(cfg))
        return made[key]

    return run


@pytest.fixture(scope="session")
def train_shards(pipeline_run) -> Path:
    """The sample corpus as shards with a test split and per-row languages (for the trainer's
    test modules: test_train's `shards`)."""
    return pipeline_run("shard.test_fraction=0.25", config="train").out


@pytest.fixture(scope="session")
def tiny_base(train_shards, tmp_path_factory) -> Path:
    """A tiny base model (tokenizer trained on the shards), built once and copied per run."""
    from test_train import small

    from docgen.train.data import split_files
    from docgen.train.model import load_base

    out = tmp_path_factory.mktemp("tiny")
    load_base("tiny", split_files(train_shards, "train"), out, small())
    return out / "base"


@pytest.fixture
def few_samples(samples, tmp_path) -> Path:
    """A folder with three sample PDFs (one of them multi-page)."""
    folder = tmp_path / "pdfs"
    folder.mkdir()
    for name in ("0000-invoice-en.pdf", "0027-report-ar.pdf", "0044-form-ko.pdf"):
        shutil.copy(samples / name, folder / name)
    return folder


@pytest.fixture(scope="session")
def s3_bucket():
    """A real S3 server (moto's, on 127.0.0.1) with an empty bucket; yields its ``s3://`` URL.

    The endpoint and keys are set the way a user sets them, in the environment, so Dask worker
    processes started after this find the server through fsspec's own configuration."""
    import fsspec
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ACCESS_KEY_ID": "docgen",
        "AWS_SECRET_ACCESS_KEY": "docgen",
        "AWS_DEFAULT_REGION": "us-east-1",
        "FSSPEC_S3_ENDPOINT_URL": f"http://{host}:{port}",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    fsspec.config.conf.setdefault("s3", {})["endpoint_url"] = env["FSSPEC_S3_ENDPOINT_URL"]
    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    fs.mkdir("docgen-test")
    yield "s3://docgen-test"
    fsspec.config.conf["s3"].pop("endpoint_url", None)
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    server.stop()


FAKE_LLM = Path(__file__).parent / "fake_llm.py"


class Server:
    """tests/fake_llm.py in a subprocess on 127.0.0.1."""

    def __init__(self, *args: str):
        self.proc = subprocess.Popen(
            [sys.executable, str(FAKE_LLM), "--port", "0", *args],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()
        assert line.startswith("PORT "), line
        self.url = f"http://127.0.0.1:{int(line.split()[1])}/v1"

    def stats(self) -> dict:
        with urllib.request.urlopen(self.url.replace("/v1", "/stats"), timeout=5) as r:
            return json.load(r)

    @property
    def requests(self) -> int:
        return self.stats().get("chat_requests", 0)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def server_factory():
    servers = []

    def start(*args):
        servers.append(Server(*args))
        return servers[-1]

    yield start
    for s in servers:
        s.stop()


# -- real vLLM (its CPU build here), from the venv `make vllm` builds --------------------------

ROOT = Path(__file__).resolve().parents[1]
VLLM_PYTHON = os.environ.get("DOCGEN_VLLM_PYTHON") or str(ROOT / ".venv-vllm" / "bin" / "python")
# What vLLM's CPU build needs here: no Hub, a small KV cache, and no chunked prefill (its engine
# fails seeded requests whose prompt is prefilled in chunks). Eager mode: torch.compile took ~50 s
# of each server's or engine's ~75 s start (its cache does not load back), for ~7% more tokens a
# second on SmolLM2 — the tests start many engines and generate little.
VLLM_ENV = {"HF_HUB_OFFLINE": "1", "VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_LOGGING_LEVEL": "WARNING"}
VLLM_MAX_LEN = 8192
# A random model writes JSON whitespace for ever if its grammar lets it: not here.
NO_WHITESPACE = {"backend": "xgrammar", "disable_any_whitespace": True}
VLLM_ENGINE_ARGS = {"enable_chunked_prefill": False, "max_num_batched_tokens": VLLM_MAX_LEN,
                    "max_model_len": VLLM_MAX_LEN, "dtype": "float32", "enforce_eager": True,
                    "structured_outputs_config": NO_WHITESPACE}  # fmt: skip


@pytest.fixture(scope="session")
def vllm_python() -> str:
    """A Python with vLLM; its variables set here, so engine processes started later get them."""
    if not Path(VLLM_PYTHON).exists():
        pytest.skip("no vLLM venv: `make vllm` builds .venv-vllm (or set DOCGEN_VLLM_PYTHON)")
    os.environ.update(VLLM_ENV)
    return VLLM_PYTHON


def sample_texts(samples, folder: Path) -> Path:
    """The sample corpus's page texts in one file, for the tiny models' tokenizers."""
    import pymupdf

    texts = []
    for pdf in sorted(samples.glob("*.pdf")):
        with pymupdf.open(pdf) as doc:
            texts += [page.get_text() for page in doc]
    (folder / "texts.txt").write_text("\n\f\n".join(texts), "utf-8")
    return folder / "texts.txt"


def build_tiny(script: str, vllm_python, samples, folder: Path, *args: str) -> Path:
    model = folder / "model"
    texts = sample_texts(samples, folder)
    command = [vllm_python, str(ROOT / "tests" / script), str(model), str(texts), *args]
    subprocess.run(command, check=True, capture_output=True)
    return model


@pytest.fixture(scope="session")
def tiny_llm(vllm_python, samples, tmp_path_factory) -> Path:
    """A tiny random Qwen2 chat model (tests/tiny_llm.py) with a tokenizer trained on the sample
    corpus's text."""
    return build_tiny("tiny_llm.py", vllm_python, samples, tmp_path_factory.mktemp("tiny-llm"))


@pytest.fixture(scope="session")
def tiny_vlm(vllm_python, samples, tmp_path_factory) -> Path:
    """A tiny random Idefics3 vision-language model (tests/tiny_vlm.py)."""
    return build_tiny("tiny_vlm.py", vllm_python, samples, tmp_path_factory.mktemp("tiny-vlm"))


SERVERS: set[int] = set()  # `vllm serve` processes the fixture started (they keep their engine)


def engine_processes() -> list[str]:
    """vLLM engine processes on this machine (docgen's engine hosts and vLLM's engine cores),
    but those of the test servers."""
    import psutil

    skip = set()
    for pid in SERVERS:
        if psutil.pid_exists(pid):
            root = psutil.Process(pid)
            skip |= {root.pid} | {p.pid for p in root.children(recursive=True)}
    found = []
    for p in psutil.process_iter(["pid", "name", "cmdline", "status"]):
        if p.info["status"] == psutil.STATUS_ZOMBIE:  # gone, but for its parent's wait
            continue
        text = " ".join(p.info["cmdline"] or []) + " " + (p.info["name"] or "")
        if p.info["pid"] not in skip and ("vllm_host" in text or "EngineCore" in text):
            found.append(f"{p.info['pid']} {text.strip()[:120]}")
    return found


def serve(model: Path, vllm_python, folder: Path, *extra: str, name: str = "tiny"):
    """`vllm serve` (vLLM's OpenAI-compatible server) with ``model`` as ``name``, on 127.0.0.1;
    yields ``(base_url, pid)`` once it answers, and stops it after. The servers' fixtures are
    module-scoped (each is used by one module): an idle vLLM CPU server keeps a core busy, which
    slowed every test after it while it waited for the session's end."""
    import signal
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = folder / "server.log"
    command = [vllm_python, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model),
               "--served-model-name", name, "--host", "127.0.0.1", "--port", str(port),
               "--no-enable-chunked-prefill", "--max-num-batched-tokens", str(VLLM_MAX_LEN),
               "--max-model-len", str(VLLM_MAX_LEN), "--dtype", "float32", "--enforce-eager",
               "--structured-outputs-config", json.dumps(NO_WHITESPACE), *extra]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
    SERVERS.add(proc.pid)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 420
    while True:
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text("utf-8", "replace")[-3000:]
                pytest.fail(f"vllm serve did not start:\n{tail}", pytrace=False)
            time.sleep(1)
    yield url, proc.pid
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="module")
def vllm_server(tiny_llm, vllm_python, tmp_path_factory):
    """`vllm serve` with the tiny chat model; yields ``(base_url, pid)``."""
    yield from serve(tiny_llm, vllm_python, tmp_path_factory.mktemp("vllm-serve"))


@pytest.fixture(scope="module")
def thinking_server(vllm_python, samples, tmp_path_factory):
    """`vllm serve --reasoning-parser deepseek_r1` with a tiny chat model whose vocabulary holds
    <think> and </think>: its noise is all reasoning, never finished."""
    folder = tmp_path_factory.mktemp("thinking")
    model = build_tiny("tiny_llm.py", vllm_python, samples, folder, "--think")
    yield from serve(model, vllm_python, folder, "--reasoning-parser", "deepseek_r1")


@pytest.fixture(scope="module")
def vlm_server(tiny_vlm, vllm_python, tmp_path_factory):
    """`vllm serve` with the tiny vision-language model, four images a prompt at most."""
    yield from serve(tiny_vlm, vllm_python, tmp_path_factory.mktemp("vlm-serve"),
                     "--limit-mm-per-prompt", json.dumps({"image": 4}))  # fmt: skip


# -- a real instruction-tuned model: SmolLM2-135M-Instruct (tests/real_llm.py; `make` builds it) --
REAL_LLM = os.environ.get("DOCGEN_REAL_LLM") or str(ROOT / "data" / "models" / "smollm2")


@pytest.fixture(scope="module")
def real_llm_server(vllm_python, tmp_path_factory):
    """`vllm serve` with SmolLM2-135M-Instruct as "smollm2"; yields ``(base_url, pid)``."""
    if not (Path(REAL_LLM) / "config.json").exists():
        pytest.skip("no real model: `make test` builds data/models/smollm2 (tests/real_llm.py)")
    folder = tmp_path_factory.mktemp("real-llm-serve")
    yield from serve(Path(REAL_LLM), vllm_python, folder, name="smollm2")
