"""``docgen push`` through the real huggingface_hub client, intercepted at the HfApi boundary."""

import hashlib
import shutil

import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
from huggingface_hub.errors import RepositoryNotFoundError
from huggingface_hub.hf_api import RepoFile
from test_validate import good_out  # noqa: F401 - the shared sharded output

from docgen.cli import main

TOKEN = "hf_test_0123456789abcdefSECRET"


class FakeHub:
    """What the Hub would hold; every call recorded. ``fail_on`` makes that commit fail.

    It stands in for the network methods of a real ``HfApi``: the client builds the commit
    operations and the code under test drives it exactly as it would drive the Hub."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.exists = False
        self.calls: list[tuple] = []
        self.commits: list[list[str]] = []
        self.fail_on: int | None = None

    def create_repo(self, api, repo_id, *, repo_type=None, private=None, exist_ok=False, **kw):
        self.calls.append(("create_repo", repo_id, repo_type, private, exist_ok))
        self.exists = True

    def list_repo_tree(self, api, repo_id, path_in_repo=None, *, recursive=False, repo_type=None,
                       **kw):  # fmt: skip
        self.calls.append(("list_repo_tree", repo_id, repo_type, recursive))
        if not self.exists:
            raise not_found()
        for path, data in sorted(self.files.items()):
            entry = {"path": path, "size": len(data), "type": "file",
                     "oid": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()}  # fmt: skip
            if path.endswith(".parquet"):
                entry["lfs"] = {"size": len(data), "oid": hashlib.sha256(data).hexdigest(),
                                "pointerSize": 134}  # fmt: skip
            yield RepoFile(**entry)

    def create_commit(self, api, repo_id, operations, *, commit_message, repo_type=None, **kw):
        operations = list(operations)
        self.calls.append(("create_commit", repo_id, repo_type, commit_message))
        if self.fail_on is not None and len(self.commits) + 1 == self.fail_on:
            self.fail_on = None
            raise ConnectionError("connection reset by peer")
        names = []
        for op in operations:
            if isinstance(op, CommitOperationAdd):
                with open(op.path_or_fileobj, "rb") as f:
                    self.files[op.path_in_repo] = f.read()
                names.append(op.path_in_repo)
            elif isinstance(op, CommitOperationDelete):
                del self.files[op.path_in_repo]
                names.append(f"-{op.path_in_repo}")
        self.commits.append(names)


def not_found() -> RepositoryNotFoundError:
    """The error huggingface_hub raises for a repo that does not exist (it wants a response)."""

    class Response:
        status_code = 404
        headers: dict = {}
        url = "https://hub.invalid/api/datasets/me/docs/tree/main"
        request = None

    return RepositoryNotFoundError("Repository Not Found", response=Response())


@pytest.fixture
def hub(monkeypatch):
    fake = FakeHub()
    for name in ("create_repo", "list_repo_tree", "create_commit"):
        method = getattr(fake, name)
        monkeypatch.setattr(HfApi, name, lambda api, *a, _m=method, **k: _m(api, *a, **k))
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    return fake


def local(out):
    files = {f"data/{p.name}": p.read_bytes() for p in sorted((out / "data").glob("*.parquet"))}
    return files | {"README.md": (out / "README.md").read_bytes()}


def test_push_in_batches_then_nothing_to_do(good_out, hub, capsys, caplog):  # noqa: F811
    shards = sorted(p.name for p in (good_out / "data").glob("*.parquet"))
    assert len(shards) >= 2
    code = main(["push", str(good_out), "--repo", "me/docs", "--private",
                 "--files-per-commit", "1"])  # fmt: skip
    assert code == 0
    assert hub.calls[0] == ("create_repo", "me/docs", "dataset", True, True)
    assert hub.commits == [[f"data/{n}"] for n in shards] + [["README.md"]]  # card last
    assert hub.files == local(good_out)
    first = capsys.readouterr()
    hub.calls.clear()
    assert main(["push", str(good_out), "--repo", "me/docs"]) == 0
    assert [c[0] for c in hub.calls] == ["create_repo", "list_repo_tree"]  # nothing re-sent
    second = capsys.readouterr()
    assert "already there" in second.out
    for text in (first.out, first.err, second.out, second.err, caplog.text):
        assert TOKEN not in text


def test_an_interrupted_push_resumes_where_it_stopped(good_out, hub, capsys):  # noqa: F811
    shards = sorted(p.name for p in (good_out / "data").glob("*.parquet"))
    hub.fail_on = 2
    code = main(["push", str(good_out), "--repo", "me/docs", "--files-per-commit", "1"])
    assert code == 2
    err = capsys.readouterr().err
    assert "push stopped at commit 2" in err and "1 commit(s) landed" in err
    assert TOKEN not in err
    assert hub.commits == [[f"data/{shards[0]}"]]
    assert main(["push", str(good_out), "--repo", "me/docs", "--files-per-commit", "1"]) == 0
    assert hub.commits[1:] == [[f"data/{n}"] for n in shards[1:]] + [["README.md"]]
    assert hub.files == local(good_out)


def test_dry_run_changes_nothing_and_stale_shards_are_removed(good_out, hub, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "out"
    shutil.copytree(good_out, out)
    hub.exists = True
    hub.files = {"data/train-00000-of-00009.parquet": b"old", "notes.txt": b"keep me"}
    assert main(["push", str(out), "--repo", "me/docs", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "delete  data/train-00000-of-00009.parquet" in printed
    assert "upload  README.md" in printed and "0 already on the Hub" in printed
    assert not hub.commits and not any(c[0] == "create_repo" for c in hub.calls)
    assert main(["push", str(out), "--repo", "me/docs", "--files-per-commit", "50"]) == 0
    assert len(hub.commits) == 2 and hub.commits[-1] == [
        "README.md", "-data/train-00000-of-00009.parquet"]  # fmt: skip
    assert hub.files == local(out) | {"notes.txt": b"keep me"}


def test_an_invalid_output_is_not_pushed(good_out, hub, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "out"
    shutil.copytree(good_out, out)
    sorted((out / "data").glob("*.parquet"))[0].unlink()
    assert main(["push", str(out), "--repo", "me/docs"]) == 1
    assert "not valid; not pushing" in capsys.readouterr().err
    assert not hub.calls


def test_dry_run_against_a_repo_that_does_not_exist_yet(good_out, hub, capsys):  # noqa: F811
    assert main(["push", str(good_out), "--repo", "me/new", "--dry-run"]) == 0
    n = len(list((good_out / "data").glob("*.parquet"))) + 1
    assert f"dry run: {n} file(s) to upload" in capsys.readouterr().out
    assert [c[0] for c in hub.calls] == ["list_repo_tree"] and not hub.exists


def test_shards_are_hashed_once_not_on_every_push(good_out, hub, tmp_path, monkeypatch):  # noqa: F811
    import docgen.shard.push

    out = tmp_path / "out"
    shutil.copytree(good_out, out)
    hashed = []
    real = docgen.shard.push.sha256_of
    monkeypatch.setattr(docgen.shard.push, "sha256_of", lambda p: hashed.append(p.name) or real(p))
    n = len(list((out / "data").glob("*.parquet")))
    assert main(["push", str(out), "--repo", "me/docs"]) == 0
    assert main(["push", str(out), "--repo", "me/docs"]) == 0
    assert hashed == []  # the uploads' own hashes were kept
    (out / ".push-hashes.json").unlink()
    assert main(["push", str(out), "--repo", "me/docs"]) == 0
    assert len(hashed) == n  # cache gone: each shard read once to compare with the Hub...
    assert main(["push", str(out), "--repo", "me/docs"]) == 0
    assert len(hashed) == n  # ...and not again
    shard = sorted((out / "data").glob("*.parquet"))[0]
    shard.write_bytes(shard.read_bytes())  # rewritten: same bytes, new mtime
    assert main(["push", str(out), "--repo", "me/docs"]) == 0
    assert hashed[n:] == [shard.name] and len(hub.commits) == 2  # the first push's only
    assert ".push-hashes.json" not in "".join(hub.files)


def test_the_pdf_config_is_pushed_and_removed_when_dropped(good_out, hub, tmp_path):  # noqa: F811
    work, out = good_out.parent / "work", tmp_path / "out"
    common = ["shard", "--work", str(work), "--out", str(out), "--max-shard-size", "0.2MB",
              "--scheduler", "sync"]  # fmt: skip
    assert main([*common, "--pdf-config"]) == 0
    pdfs = sorted(f"pdf/{p.name}" for p in (out / "pdf").glob("*.parquet"))
    assert pdfs and main(["push", str(out), "--repo", "me/docs", "--files-per-commit", "100"]) == 0
    assert hub.commits[0][-len(pdfs) :] == pdfs and hub.commits[-1] == ["README.md"]
    assert hub.files == local(out) | {p: (out / p).read_bytes() for p in pdfs}
    assert main(common) == 0  # without the pdf config
    assert main(["push", str(out), "--repo", "me/docs"]) == 0
    assert hub.commits[-1] == ["README.md", *(f"-{p}" for p in pdfs)]
    assert hub.files == local(out)


def test_the_chat_configs_and_their_dataset_info_are_pushed_and_removed(good_out, hub, tmp_path):  # noqa: F811
    work, out = good_out.parent / "work", tmp_path / "out"
    common = ["shard", "--work", str(work), "--out", str(out), "--scheduler", "sync"]
    assert main([*common, "--chat-configs", "messages,sharegpt"]) == 0
    chats = sorted(p.relative_to(out).as_posix() for folder in ("messages", "sharegpt")
                   for p in (out / folder).glob("**/*.parquet"))  # fmt: skip
    assert any(p.startswith("sharegpt/train/") for p in chats)
    assert main(["push", str(out), "--repo", "me/docs"]) == 0
    extra = {p: (out / p).read_bytes() for p in [*chats, "dataset_info.json"]}
    assert hub.files == local(out) | extra
    assert main(common) == 0  # without them
    assert main(["push", str(out), "--repo", "me/docs"]) == 0
    assert hub.files == local(out)


def push_against(endpoint: str, out, *more: str):
    """`docgen push` in a process of its own, its Hub at ``endpoint`` (a local server)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "HF_ENDPOINT": endpoint, "HF_TOKEN": TOKEN}
    env.pop("HF_HUB_OFFLINE", None)
    argv = [sys.executable, "-m", "docgen.cli", "push", str(out), "--repo", "me/data", *more]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)


def test_a_hub_that_refuses_or_cannot_be_reached_is_one_line(good_out, tmp_path):  # noqa: F811
    import http.server
    import socket
    import threading

    class Refuses(http.server.BaseHTTPRequestHandler):
        def answer(self):  # the Hub's 401, quoting the header it was sent
            body = f'{{"error": "Invalid token {self.headers.get("authorization")}"}}'.encode()
            self.send_response(401)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_HEAD = answer

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuses)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        for more in ([], ["--dry-run"]):
            done = push_against(url, good_out, *more)
            assert done.returncode == 2 and done.stdout == ""
            assert done.stderr.startswith(
                "docgen push: error: the Hub refused the token (HTTP 401)"
            )
            assert done.stderr.count("\n") == 1 and TOKEN not in done.stderr
            assert "[token]" in done.stderr  # the quoted header, with the token taken out
    finally:
        server.shutdown()

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    done = push_against(closed, good_out, "--dry-run")
    assert done.returncode == 2 and done.stderr.startswith(
        "docgen push: error: cannot reach the Hub"
    )
    assert done.stderr.count("\n") == 1

    missing = push_against(closed, tmp_path / "nothing-here", "--dry-run")  # OUT first, Hub after
    assert missing.stderr == (f"docgen push: error: {tmp_path / 'nothing-here'}: no such folder "
                              "(write it with `docgen run` or `docgen shard`)\n")  # fmt: skip
