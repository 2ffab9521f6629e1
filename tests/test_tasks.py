"""The LLM tasks and their one ask(): a task builds its chats and reads its replies; ask() answers
from the cache first, sends the rest within the task's allowance and counts what it did — the
same for every task (here the translator and the page labeller, against tests/fake_llm.py)."""

from collections import Counter

from docgen.core.settings import GenerateConfig
from docgen.filter.translate import Translation
from docgen.generate.backends.openai_api import OpenAIBackend
from docgen.generate.gencache import GenerationCache
from docgen.generate.tasks import Allowance, ask_json
from docgen.generate.triage import PageLabels

GROUPS = [("d1", "en", "fr", ["What is the total?", "Who signed?"]),
          ("d2", "en", "de", ["When was it sent?"])]  # fmt: skip


def backend(server) -> OpenAIBackend:
    b = OpenAIBackend(GenerateConfig(backend="openai", base_urls=[server.url], model="fake-docqa"))
    b.setup()
    return b


def test_a_task_is_asked_then_answered_from_the_cache(server_factory, tmp_path):
    server, task = server_factory(), Translation()
    chats = task.chats(GROUPS)
    # The chats name no schema of their own: ask() holds them to the task's.
    assert [c.schema for c in chats] == [None, None]
    counts, cache = Counter(), GenerationCache(tmp_path / "cache")
    replies = ask_json(backend(server), task, chats, counts, cache, "p0")
    assert [len(r["translations"]) for r in replies] == [2, 1]
    assert all(c.schema == task.schema for c in chats)
    assert counts["chats"] == counts["requests"] == 2 and counts["cached_requests"] == 0
    assert counts["prompt_tokens"] > 0 and not counts["failures"]
    sent = server.requests

    again = Counter()
    assert ask_json(backend(server), task, task.chats(GROUPS), again, cache, "p0") == replies
    assert server.requests == sent  # nothing sent: the cache had every answer
    assert again["cached_requests"] == 2 and again["requests"] == again["prompt_tokens"] == 0


def test_an_allowance_spent_sends_nothing_and_says_why(server_factory):
    server, task = server_factory(), Translation()
    counts = Counter()
    replies = ask_json(backend(server), task, task.chats(GROUPS), counts, allowance=Allowance(0))
    assert replies == [None, None] and server.requests == 0
    assert counts["failures"] == {"budget": 2}

    allowance = Allowance(10**6)
    ask_json(backend(server), task, task.chats(GROUPS[:1]), Counter(), allowance=allowance)
    assert 0 < 10**6 - allowance.left  # what was spent came off it


def test_a_reply_that_is_not_the_tasks_json_is_counted_malformed(server_factory):
    """The labeller's reply is read against its own schema: a chat the server does not take
    for a labeller's (its prompt replaced) is answered with pairs, not a label."""
    server, task = server_factory(), PageLabels()
    page = {"doc_id": "d", "page": 1, "lang": "en", "text": "Quarterly figures", "tables": []}
    chats = task.chats([page], image=False)
    chats[0].messages[1]["content"] = "Say anything."  # no longer a labeller prompt
    counts = Counter()
    assert ask_json(backend(server), task, chats, counts) == [None]
    assert counts["requests"] == 1 and counts["failures"] == {"malformed": 1}
