"""A server that is slow, overloaded or has a short context, as real ones are: the ``openai``
backend adapts how many requests it keeps in flight, resamples on a retry, counts what a request
cut short streamed, and cuts a chat the model's context cannot hold until it fits."""

import pymupdf
import pytest
from test_llm_server import llm_config, outcome

from docgen.core.errors import DocgenError
from docgen.core.workdir import WorkDir
from docgen.run.pipeline import run_pipeline


def test_an_overloaded_server_gets_fewer_requests_at_once_and_answers_them_all(
    samples, tmp_path, server_factory
):
    """The server runs 2 requests at once, the rest wait in its queue in silence (far longer than
    the silence allowed, 1.5 s), and answers a tenth of them 503. 256 at once (the default
    concurrency, what the old client sent) would have 46 waiting, timing out together and resent
    with the queue still full. The window starts at 8, stops growing when answers start late and
    halves on a 503; a request queued at a server that is answering others is waiting, not
    lost: nothing times out, every document is answered."""
    server = server_factory("--max-running", "2", "--latency", "0.3", "--fault-rate", "0.1",
                            "--faults", "503")  # fmt: skip
    cfg = llm_config(samples, tmp_path, [server.url], "generate.silence_timeout=1.5",
                     "generate.max_attempts=8")  # fmt: skip
    gen = run_pipeline(cfg)["stages"]["generate"]
    pairs, errors = outcome(cfg.work)
    assert not errors and gen["failures"] == {} and len(pairs) == 48
    stats = server.stats()
    assert stats["peak_open"] <= 16  # never all 48 documents at once
    assert gen["requests"] == stats["chat_requests"]
    assert gen["retries"] == stats["fault_503"] > 0  # every retry a 503's: no request timed out


def test_a_silent_server_is_cut_at_the_silence_allowed(few_samples, tmp_path, server_factory):
    server = server_factory("--fault-rate", "1", "--faults", "hang", "--hang-seconds", "60")
    cfg = llm_config(few_samples, tmp_path, [server.url], "generate.silence_timeout=1",
                     "generate.max_attempts=2")  # fmt: skip
    with pytest.raises(DocgenError, match="timeout 3"):
        run_pipeline(cfg)
    _, errors = outcome(cfg.work)
    assert set(errors.values()) == {"timeout: request timed out: the server sent nothing for 1 s "
                                    "(gave up after 2 attempts)"}  # fmt: skip


def test_a_retry_samples_anew_and_a_reply_cut_short_still_counts(
    few_samples, tmp_path, server_factory
):
    server = server_factory("--fault-rate", "1", "--faults", "drip")
    cfg = llm_config(few_samples, tmp_path, [server.url], "generate.request_timeout=2",
                     "generate.min_tokens_per_second=1000", "generate.max_attempts=3")  # fmt: skip
    with pytest.raises(DocgenError, match="timeout 3"):  # every document failed: one line
        run_pipeline(cfg)
    stats = server.stats()
    # Three attempts per chat, each with a seed of its own (the same seed redoes the same reply).
    assert stats["seed_0"] == stats["seed_1"] == stats["seed_2"] == 3
    gen = WorkDir(cfg.work).manifest()["stages"]["generate"]
    # Streamed a few characters a second, each attempt got tokens out before its deadline:
    # the server did that work, and the budget counts it.
    assert gen["completion_tokens"] >= 9 and gen["spent_tokens"] == gen["completion_tokens"]


def long_pdf(path, pages: list[str]) -> None:
    doc = pymupdf.open()
    for text in pages:
        page = doc.new_page(height=1400)
        page.insert_textbox(page.rect + (36, 36, -36, -36), text, fontsize=6)
    doc.save(path)


def test_a_chat_the_context_cannot_hold_is_cut_until_it_fits(tmp_path, server_factory):
    """The server counts a token per character (a script its tokenizer splits finely, as
    SmolLM2's does Arabic, 3x the estimate) and holds 4,096: a 6-page document sent in one chat
    is refused (HTTP 400 in vLLM's words) and asked again in pieces sized by the counts the
    server gave; a page alone too long is cut shorter each round until it fits."""
    folder = tmp_path / "pdfs"
    folder.mkdir()
    line = "Field {i}: value {i} of the ledger entry for the quarter\n"
    long_pdf(folder / "six.pdf", ["".join(line.format(i=f"{p}.{i}") for i in range(25))
                                  for p in range(1, 7)])  # fmt: skip
    long_pdf(folder / "dense.pdf", ["".join(line.format(i=i) for i in range(140))])
    server = server_factory("--max-context", "4096", "--chars-per-token", "1")
    cfg = llm_config(folder, tmp_path, [server.url], "generate.max_tokens=512",
                     "filter.require_grounded=false")  # fmt: skip
    gen = run_pipeline(cfg)["stages"]["generate"]
    pairs, errors = outcome(cfg.work)
    assert not errors and gen["failures"] == {} and len(pairs) == 2
    assert server.stats()["too_long"] == gen["resplit_chats"] >= 2
    assert gen["requests"] == server.stats()["chat_requests"]
    # Every page of the six was asked about, in chats that fit.
    cited = {p for row in rows(cfg.work) if row["source"].endswith("six.pdf") for p in row["pages"]}
    assert cited == {1, 2, 3, 4, 5, 6}


def rows(work):
    wd = WorkDir(work)
    return [r for part in wd.parts("qa") for r in wd.read("qa", part).to_pylist()]
