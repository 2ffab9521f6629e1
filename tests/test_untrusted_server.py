"""A server that says no, or says too much: a refused key or a model it does not serve stops the
run in one line before any document is sent; a key revoked mid-run stops the stage at once; a
reply that quotes the key, one of 5 MB and one of 2,000 pairs are each bounded, and the key
reaches no file and no screen."""

import json
import re
from pathlib import Path

import pytest

from docgen.cli import main

SECRET = "sk-docgen-test-0123456789abcdef"


def run(few_samples, tmp_path, url, *sets) -> int:
    argv = ["run", "openai", "--input", str(few_samples), "--work", str(tmp_path / "work"),
            "--out", str(tmp_path / "out"), "--base-url", url, "--scheduler", "sync",
            "--set", "run.progress=false", "--set", "filter.check_language=false",
            "--set", "generate.request_timeout=5", "--set", "generate.max_attempts=2"]  # fmt: skip
    for s in sets:
        argv += ["--set", s]
    return main(argv)


def files_holding(root: Path, secret: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


@pytest.fixture
def secret_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)


def test_a_refused_key_stops_before_any_request(few_samples, tmp_path, server_factory, capsys,
                                                secret_key):  # fmt: skip
    server = server_factory("--api-key", "sk-the-right-one-000000")
    assert run(few_samples, tmp_path, server.url) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the server refused the API key (HTTP 401" in err
    assert "$OPENAI_API_KEY" in err and SECRET not in err
    assert server.requests == 0


def test_a_model_the_server_does_not_serve(few_samples, tmp_path, server_factory, capsys):
    server = server_factory()
    assert run(few_samples, tmp_path, server.url, "generate.model=nope") == 2
    err = capsys.readouterr().err
    assert err.endswith(f"{server.url} does not serve model 'nope'; it serves: fake-docqa\n")
    assert server.requests == 0


def test_a_key_revoked_mid_run_stops_the_stage_at_once(few_samples, tmp_path, server_factory,
                                                       capsys, secret_key):  # fmt: skip
    server = server_factory("--fault-rate", "1", "--faults", "401")
    stop = "generate stopped at the server's answer: fatal: the server refused the API key"
    assert run(few_samples, tmp_path, server.url) == 1
    assert re.search(stop, capsys.readouterr().err)
    assert server.requests == 1  # one refusal, and nothing more asked of that server
    assert not files_holding(tmp_path, SECRET)  # the 401's text quoted the key
    assert SECRET not in capsys.readouterr().err


def test_a_model_gone_mid_run_stops_the_stage_at_the_first_answer(
    few_samples, tmp_path, server_factory, capsys
):
    server = server_factory("--fault-rate", "1", "--faults", "404")
    stop = "generate stopped at the server's answer: fatal: the server has no such model"
    assert run(few_samples, tmp_path, server.url) == 1
    assert re.search(stop, capsys.readouterr().err)
    assert server.requests == 1


def test_replies_that_quote_the_key_or_are_too_large_are_bounded(
    few_samples, tmp_path, server_factory, secret_key, capsys
):
    from docgen.core.workdir import WorkDir

    def run_with(fault: str):
        server = server_factory("--fault-rate", "1", "--faults", fault)
        code = run(
            few_samples,
            tmp_path / fault,
            server.url,
            "generate.max_reply_kb=256",
            "generate.max_pairs_per_reply=24",
        )
        wd = WorkDir(tmp_path / fault / "work")
        return code, wd.read_errors().to_pylist(), wd.manifest()["stages"].get("generate", {})

    assert run_with("echo_key")[0] == 1  # malformed, all of them
    assert re.search("failed for every document", capsys.readouterr().err)
    echoed = WorkDir(tmp_path / "echo_key" / "work").read_errors().to_pylist()
    assert echoed and all("You sent Bearer [API key]" in row["error"] for row in echoed)

    assert run_with("huge")[0] == 1  # not read past 256 KB
    err = capsys.readouterr().err
    assert re.search(r"too_large 3\); first error: too_large: reply over \S+ \(256\)", err)

    code, errors, stats = run_with("many_pairs")
    # Its pairs are one question too short to keep: the run keeps none and fails, as it must.
    assert code == 1 and stats["failures"] == {"too_many_pairs": 3}
    assert {row["error"] for row in errors} == {"too_many_pairs: reply held 2000 pairs; "
                                                "the first 24 kept"}  # fmt: skip
    assert stats["pairs"] == 3 * 24  # generate.max_pairs_per_reply
    assert not files_holding(tmp_path, SECRET)


@pytest.mark.parametrize("stream", [True, False])
def test_a_reply_trickling_out_is_cut_at_its_deadline(
    few_samples, tmp_path, server_factory, capsys, stream
):
    """Streamed a few characters a second (never silent), or a byte a second: the deadline
    (request_timeout plus max_tokens at min_tokens_per_second) cuts it, not its 300+ s."""
    import time

    server = server_factory("--fault-rate", "1", "--faults", "drip")
    start = time.monotonic()
    code = run(few_samples, tmp_path, server.url, "generate.request_timeout=2",
               "generate.min_tokens_per_second=1000", f"generate.stream={str(stream).lower()}",
               "generate.max_attempts=1")  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert re.search(r"timeout 3\); first error: timeout: request timed out: no reply within "
                     r"its deadline of 4.048 s", err)  # fmt: skip
    assert time.monotonic() - start < 20


def test_a_spent_quota_stops_the_run(few_samples, tmp_path, server_factory, capsys):
    server = server_factory("--fault-rate", "1", "--faults", "quota")
    stop = "generate stopped at the server's answer: fatal: the account's quota is spent"
    assert run(few_samples, tmp_path, server.url) == 1
    assert re.search(stop, capsys.readouterr().err)
    assert server.requests == 1  # not retried, and nothing more sent


def test_a_completion_body_is_checked_field_by_field():
    import json

    from docgen.generate.backends.openai_wire import BadResponse, completion_of

    def body(**usage):
        return json.dumps({"choices": [{"message": {"content": "{}"}, "finish_reason": 7}],
                           "usage": usage})  # fmt: skip

    c = completion_of(body(prompt_tokens="many", completion_tokens=10**30), 1)
    assert (c.prompt_tokens, c.completion_tokens, c.finish_reason) == (0, 0, None)
    assert completion_of(body(prompt_tokens=12, completion_tokens=3), 1).tokens == 15
    for bad in ("[" * 100_000, '{"choices": [{"message": {"content": [1]}}]}', '{"choices": 3}'):
        with pytest.raises(BadResponse):
            completion_of(bad, 1)


def test_a_streamed_reply_is_checked_event_by_event():
    """Events split anywhere across reads, a usage that lies, an error mid-stream, events that
    are not JSON, a stream that stops before the reply does, text past max_reply_kb."""
    from docgen.generate.backends.openai_wire import (
        BadResponse,
        HTTPStatusError,
        ReplyTooLarge,
        StreamedReply,
    )

    def event(**fields) -> bytes:
        return f"data: {json.dumps(fields)}\n\n".encode()

    def delta(text, finish=None) -> bytes:
        return event(choices=[{"delta": {"content": text}, "finish_reason": finish}])

    stream = b"".join([b": keep-alive\n\n", delta("{\"pairs\""), delta(": []}"),
                       delta("", "stop"), event(choices=[], usage={"completion_tokens": "x"}),
                       b"data: [DONE]\n\n"])  # fmt: skip
    reply = StreamedReply(1024)
    for i in range(0, len(stream), 7):  # cut mid-event, mid-UTF-8 never matters: bytes until \n
        reply.feed(stream[i : i + 7])
    c = reply.completion(1)
    assert (c.text, c.finish_reason, c.completion_tokens) == ('{"pairs": []}', "stop", 2)

    for bad, error in ((b"data: {nope\n", BadResponse), (b"data: [1]\n", BadResponse),
                       (event(error={"message": "boom", "code": 503}), HTTPStatusError),
                       (delta("x" * 2000), ReplyTooLarge)):  # fmt: skip
        with pytest.raises(error):
            StreamedReply(1024).feed(bad)
    cut = StreamedReply(1024)
    cut.feed(delta('{"pa'))
    with pytest.raises(BadResponse, match="ended before"):
        cut.completion(1)
    assert cut.tokens == 1  # what it cost is known all the same


def test_a_reply_of_placeholders_is_its_own_cause(few_samples, tmp_path, server_factory, capsys):
    """A small model copies the prompt's shape ("..."): not a pair, and not `question_length`."""
    from docgen.core.workdir import WorkDir

    server = server_factory("--fault-rate", "1", "--faults", "placeholder")
    assert run(few_samples, tmp_path, server.url) == 1  # no pair at all: the run fails
    assert "placeholder 3" in capsys.readouterr().err
    stats = WorkDir(tmp_path / "work").manifest()["stages"]["generate"]
    assert stats["failures"] == {"placeholder": 3}


def test_the_complete_pairs_of_a_cut_reply_are_kept(few_samples, tmp_path, server_factory):
    from docgen.core.workdir import WorkDir

    server = server_factory("--fault-rate", "1", "--faults", "cut")
    assert run(few_samples, tmp_path, server.url) == 0
    wd = WorkDir(tmp_path / "work")
    stats = wd.manifest()["stages"]["generate"]
    assert stats["failures"] == {"truncated": 3}  # the cut is counted ...
    assert stats["pairs"] >= 3  # ... and the pairs finished before it are kept
    errors = [r["error"] for r in wd.read_errors().to_pylist() if r["stage"] == "generate"]
    assert all("complete pair(s) before the cut kept" in e for e in errors)
