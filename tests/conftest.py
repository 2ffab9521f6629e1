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
