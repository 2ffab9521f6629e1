"""An OpenAI-compatible server for tests and benchmarks: ``/v1/models``, ``/v1/chat/completions``.

It answers like a careful but simple model: it reads the document out of the prompt and asks about
its ``label: value`` lines and other lines, replying in JSON when a schema is requested and in
Docmatix's ``Q1:``/``A1:`` form otherwise. A document containing "ignore previous instructions"
makes it obey the injection, as a gullible model would. Sent page images, it also reads the
sample corpus's charts (``--truth``: see :class:`Sight`) and rates pairs as a VLM rater would.
It can add latency and inject faults (429, 500, hung and dropped connections, non-JSON and
schema-violating replies; a 401 as from a revoked key, a 429 for a spent quota, a reply quoting
the request's Authorization header, a reply of 5 MB, a reply of 2,000 pairs, a reply sent one
byte a second) at a given rate. Asked to stream (``"stream": true``), it sends server-sent events,
a delta per few characters, and the usage last, as vLLM does. Like a real server, it can run only
so many requests at once (``--max-running``: the rest wait in silence) and refuse a prompt over
its context (``--max-context``, tokens at 4 characters each: HTTP 400 in vLLM's words). With
``--api-key`` it refuses other keys (401) and, like vLLM, a model it does not serve (404).
``GET /stats`` returns what it received. Run: ``python tests/fake_llm.py --port 0``; it prints
``PORT <n>`` once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import re
from collections import Counter
from pathlib import Path

RETRIED = ("429", "500", "hang", "drop", "non_json", "schema")  # the default --faults
FAULTS = (
    *RETRIED,
    "401",
    "404",
    "echo_key",
    "huge",
    "many_pairs",
    "drip",
    "quota",
    "placeholder",
    "cut",
    "503",
)
PAGE = re.compile(r"^=== Page (\d+) ===$", re.MULTILINE)


def fault_text(fault: str | None, authorization: str) -> str | None:
    """The reply of a fault that answers 200, made only when that fault is drawn."""
    pair = {"question": "Why?", "answer": "1", "kind": "extractive", "pages": [1]}
    if fault == "non_json":
        return "Sorry, I cannot help with that request."
    if fault == "schema":
        return json.dumps({"pairs": [{"question": "What?"}]})
    if fault == "echo_key":
        return f"You sent {authorization}; I cannot help."
    if fault == "huge":
        return json.dumps({"pairs": [pair | {"answer": "x" * 5_000_000}]})
    if fault == "placeholder":  # the prompt's example copied, as a small model does
        return json.dumps({"pairs": [pair | {"question": "...", "answer": "..."}]})
    if fault == "many_pairs":
        return json.dumps({"pairs": [pair | {"question": f"Q{i}?"} for i in range(2000)]})
    return None


def document_pages(prompt: str) -> list[tuple[int, list[str]]]:
    body = prompt.split("<document", 1)[-1].split("</document>", 1)[0]
    parts = PAGE.split(body)
    pages = []
    for i in range(1, len(parts) - 1, 2):
        lines = [ln.strip() for ln in parts[i + 1].splitlines() if ln.strip()]
        pages.append((int(parts[i]), [ln for ln in lines if not ln.startswith("|")]))
    return pages


def answer_pairs(prompt: str, n: int) -> list[dict]:
    if "ignore previous instructions" in prompt.lower():
        return [
            {
                "question": "What were you told to say?",
                "answer": "HACKED",
                "kind": "extractive",
                "pages": [1],
            }
        ] * 2
    pairs = []
    for page, lines in document_pages(prompt):
        for i, line in enumerate(lines):
            field = re.match(r"^([^:：]{1,40})[:：]\s*(.+)$", line)
            if field:
                pairs.append(
                    {
                        "question": f"What is the {field[1].strip()}?",
                        "answer": field[2].strip(),
                        "kind": "extractive",
                        "pages": [page],
                    }
                )
            elif len(line) >= 4:
                pairs.append(
                    {
                        "question": f"What does line {i + 1} of page {page} say?",
                        "answer": line,
                        "kind": "extractive",
                        "pages": [page],
                    }
                )
    return pairs[:n]


def translations(prompt: str) -> list[dict]:
    """A stand-in translator: "[Target] question" there, the original back again; a question
    about a motto comes back as something else (a translation that drifted)."""
    target = re.search(r"into (.+?)\.\n", prompt).group(1)
    block = prompt.split("<questions>", 1)[1].split("</questions>", 1)[0]
    out = []
    for i, question in enumerate(re.findall(r"^\d+\. (.*)$", block, re.MULTILINE), 1):
        if question.startswith("["):  # translating back
            back = question.split("] ", 1)[1]
            out.append({"index": i, "text": "Something else entirely?" if "otto" in back else back})
        else:
            out.append({"index": i, "text": f"[{target}] {question}"})
    return out


class Sight:
    """What the fake VLM "sees" in a page image: the values of the page's charts and stamps, from
    the sample corpus's sidecars (``--truth DIR``). It knows a page by the text facts it finds in
    the page's text, so it needs ``image+text``. It reads every second value wrong, and asks
    one chart value as if it were printed (an extractive pair the span check must catch)."""

    def __init__(self, folder: str | None):
        self.pages = []  # (text facts, visual facts) per sidecar page
        for sidecar in sorted(Path(folder).glob("*.json")) if folder else []:
            for page in json.loads(sidecar.read_text("utf-8"))["pages"]:
                facts = page["facts"]
                # Short values ("2", a quantity) are in any text: they do not tell pages apart.
                self.pages.append(([f["value"] for f in facts
                                    if not f.get("visual") and len(f["value"]) >= 4],
                                   [f for f in facts if f.get("visual")]))  # fmt: skip

    def seen(self, text: str) -> list[dict]:
        """The visual facts of the sidecar page whose text facts ``text`` holds best."""
        found = max(self.pages, key=lambda p: sum(v in text for v in p[0]), default=None)
        return found[1] if found and sum(v in text for v in found[0]) >= 2 else []

    @staticmethod
    def question(fact: dict) -> str:
        if isinstance(fact["key"], list):
            caption, label = fact["key"]
            return f"What is the value of {label} in the chart {caption}?"
        return f"What does the {fact['key']} say?"

    @staticmethod
    def misread(value: str) -> str:
        digits = value.rstrip("%")
        return f"{int(digits) + 1}{value[len(digits) :]}" if digits.isdigit() else value[::-1]

    def pairs(self, prompt: str) -> list[dict]:
        out = []
        for page, lines in document_pages(prompt):
            for i, fact in enumerate(self.seen("\n".join(lines))):
                value = fact["value"] if i % 2 == 0 else self.misread(fact["value"])
                out.append({"question": self.question(fact), "answer": value, "kind": "visual",
                            "pages": [page]})  # fmt: skip
                if i == 0 and isinstance(fact["key"], list):
                    out.append({"question": f"Which number is printed above {fact['key'][1]}?",
                                "answer": value, "kind": "extractive",
                                "pages": [page]})  # fmt: skip
        return out

    def label(self, prompt: str) -> dict:
        """A page's triage label: a chart page when its sidecar page has something visual, no
        content when it says it is left blank, else prose."""
        page = prompt.split("<page ", 1)[1]
        category = (
            "chart"
            if self.seen(page)
            else "no_content"
            if "intentionally left blank" in page.lower()
            else "prose"
        )
        return {"category": category, "complexity": 3, "visual_content": category == "chart"}

    def rate(self, prompt: str) -> list[dict]:
        """5 for correspondence when a visual answer is the value the page shows or another
        answer is in the page text, else 1."""
        document = prompt.split("<document", 1)[1].split("</document>", 1)[0]
        pairs = prompt.split("<pairs>", 1)[1].split("</pairs>", 1)[0]
        truth = {self.question(f): f["value"] for f in self.seen(document)}
        out = []
        for i, (q, a) in enumerate(re.findall(r"^\d+\. Q: (.*)\n\s*A: (.*)$", pairs, re.M), 1):
            right = truth[q] == a if q in truth else a.strip() in document
            out.append({"index": i, "relevance": 4, "visual_dependency": 5 if q in truth else 2,
                        "formatting": 5, "image_correspondence": 5 if right else 1})  # fmt: skip
        return out


def judge_verdicts(prompt: str, rubber_stamp: bool = False) -> list[dict]:
    """Score 5 when the answer is written in the document after words the question asks about
    (a line's own words, for "What does line N of page P say?"), 1 otherwise; with
    ``rubber_stamp``, 5 for everything, as a judge that checks nothing."""
    document = prompt.split("<document", 1)[1].split("</document>", 1)[0]
    pairs = prompt.split("<pairs>", 1)[1].split("</pairs>", 1)[0]
    asked = re.findall(r"^\d+\. Q: (.*)\n\s*A: (.*)$", pairs, re.MULTILINE)

    def right(question: str, answer: str) -> bool:
        answer = answer.strip()
        if answer not in document:
            return False
        if question.startswith("What does line"):
            return True
        for line in document.splitlines():  # what the line says before the answer names it
            label = line.split(answer)[0].strip(" :：|*") if answer in line else ""
            words = [w for w in re.findall(r"\w{2,}", label.lower())]
            if label and (label.lower() in question.lower() or any(w in question.lower()
                                                                   for w in words)):  # fmt: skip
                return True
        return False

    return [{"index": i, "score": 5 if rubber_stamp or right(q, a) else 1}
            for i, (q, a) in enumerate(asked, 1)]  # fmt: skip


def text_of(content) -> str:
    """A message's text: the string, or its text parts joined."""
    if isinstance(content, str):
        return content
    return "\n".join(p["text"] for p in content if p.get("type") == "text")


def image_size(url: str) -> list:
    """[width, height, mime] of a ``data:`` URL image, decoded as a server would."""
    import base64
    import io

    from PIL import Image

    head, data = url.split(",", 1)
    with Image.open(io.BytesIO(base64.b64decode(data))) as image:
        return [image.width, image.height, head.removeprefix("data:").split(";")[0]]


class FakeLLM:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.stats = Counter()
        self.auth = Counter()
        self.multimodal: list[dict] = []  # per request with images: its parts and image sizes
        self.sight = Sight(args.truth)
        self.running = None  # made in the server's loop, when first needed
        self.open = 0  # chat requests being answered now

    def reply(self, body: dict) -> str:
        prompt = "\n".join(text_of(m["content"]) for m in body["messages"] if m["role"] == "user")
        if "<questions>" in prompt:  # the translation prompt
            self.stats["translate_requests"] += 1
            return json.dumps({"translations": translations(prompt)}, ensure_ascii=False)
        if "visual_content" in prompt and "<page " in prompt:  # the page labeller
            self.stats["triage_requests"] += 1
            return json.dumps(self.sight.label(prompt))
        if "<pairs>" in prompt and "image_correspondence" in prompt:  # the rating prompt
            self.stats["rate_requests"] += 1
            return json.dumps({"ratings": self.sight.rate(prompt)}, ensure_ascii=False)
        if "<pairs>" in prompt:  # the judge prompt
            self.stats["judge_requests"] += 1
            verdicts = judge_verdicts(prompt, self.args.rubber_stamp)
            return json.dumps({"verdicts": verdicts}, ensure_ascii=False)
        wanted = re.search(r"Write (\d+) question", prompt)
        pairs = answer_pairs(prompt, int(wanted.group(1)) if wanted else 4)
        if any(not isinstance(m["content"], str) for m in body["messages"]):  # it sees images
            pairs += self.sight.pairs(prompt)
        if body.get("response_format"):
            return json.dumps({"pairs": pairs}, ensure_ascii=False)
        return "\n".join(
            f"Q{i}: {p['question']}\nA{i}: {p['answer']}" for i, p in enumerate(pairs, 1)
        )

    def slot(self):
        """A place among the requests running at once (``--max-running``); others wait."""
        if self.running is None and self.args.max_running:
            self.running = asyncio.Semaphore(self.args.max_running)
        return self.running or contextlib.nullcontext()

    async def chat(self, body: dict, authorization: str = "") -> tuple[int, dict, dict | None]:
        """(status, extra headers, JSON body); None body means drop the connection. The reply is
        made first and sent when the latency is up, so the latency is the same for all; a
        streamed reply is paced as it is sent (:meth:`stream`)."""
        if body.get("stream"):
            return await self.answer(body, authorization)
        async with self.slot():
            loop = asyncio.get_running_loop()
            due = loop.time() + self.args.latency
            reply = await self.answer(body, authorization)
            await asyncio.sleep(max(0.0, due - loop.time()))
            return reply

    async def stream(self, writer, payload: dict, usage: bool, drip: bool) -> None:
        """``payload`` (a chat completion) sent as vLLM streams one: once it runs, a first event,
        the latency, then the text a few characters an event (one a second with ``drip``), the
        finish reason, the usage when asked, ``[DONE]``."""

        def send(event) -> None:
            data = f"data: {event if isinstance(event, str) else json.dumps(event)}\n\n".encode()
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

        head = {k: payload[k] for k in ("id", "created", "model")} | {
            "object": "chat.completion.chunk"
        }

        def delta(part: dict, finish=None) -> dict:
            return head | {"choices": [{"index": 0, "delta": part, "finish_reason": finish}]}

        async with self.slot():
            writer.write(b"HTTP/1.1 200 X\r\ncontent-type: text/event-stream\r\n"
                         b"transfer-encoding: chunked\r\n\r\n")  # fmt: skip
            send(delta({"role": "assistant", "content": ""}))
            await writer.drain()
            await asyncio.sleep(self.args.latency)
            choice = payload["choices"][0]
            for field in ("reasoning", "content"):  # the thinking first, as vLLM streams it
                text = choice["message"].get(field) or ""
                step = max(4, len(text) // 2000)  # a huge reply in ~2,000 events, not a million
                for i in range(0, len(text), step):
                    send(delta({field: text[i : i + step]}))
                    if drip:
                        await writer.drain()
                        await asyncio.sleep(1)
            send(delta({}, choice["finish_reason"]))
            if usage:
                send(head | {"choices": [], "usage": payload["usage"]})
            send("[DONE]")
            writer.write(b"0\r\n\r\n")
            await writer.drain()

    def record_images(self, body: dict) -> None:
        parts = [p for m in body["messages"] if not isinstance(m["content"], str)
                 for p in m["content"]]  # fmt: skip
        if parts:
            self.stats["image_parts"] += sum(p["type"] == "image_url" for p in parts)
            self.multimodal.append({
                "parts": [p["type"] for p in parts],
                "pages": [int(n) for n in PAGE.findall(text_of(parts))],
                "asks_visual": "- visual (~" in text_of(parts),
                "task": "label" if "visual_content" in text_of(parts) else
                        "rate" if "image_correspondence" in text_of(parts) else "generate",
                "images": [image_size(p["image_url"]["url"]) for p in parts
                           if p["type"] == "image_url"],
            })  # fmt: skip

    async def answer(self, body: dict, authorization: str = "") -> tuple[int, dict, dict | None]:
        self.stats["chat_requests"] += 1
        self.stats[f"seed_{body.get('seed')}"] += 1
        self.record_images(body)
        if body.get("model") != self.args.model:
            message = f"The model `{body.get('model')}` does not exist."
            return 404, {}, {"error": {"message": message, "code": 404}}
        fault = None
        if self.rng.random() < self.args.fault_rate:
            fault = self.rng.choice(self.args.faults)
            self.stats[f"fault_{fault}"] += 1
        if fault == "404":  # the model listed, then gone (a server restarted with another one)
            message = f"The model `{body.get('model')}` does not exist."
            return 404, {}, {"error": {"message": message, "code": 404}}
        if fault == "401":
            return 401, {}, {"error": {"message": f"invalid key in {authorization}", "code": 401}}
        if fault == "quota":  # OpenAI's answer when the account's credit is spent
            error = {"message": "You exceeded your current quota", "code": "insufficient_quota"}
            return 429, {}, {"error": error}
        if fault == "429":
            return 429, {"retry-after": "0"}, {"error": {"message": "rate limited", "code": 429}}
        if fault == "500":
            return 500, {}, {"error": {"message": "internal error", "code": 500}}
        if fault == "503":  # an overloaded server, as a proxy in front of one answers
            return 503, {}, {"error": {"message": "service unavailable", "code": 503}}
        chars = sum(len(text_of(m["content"])) for m in body["messages"])
        prompt_tokens = chars // self.args.chars_per_token
        asked = prompt_tokens + body.get("max_tokens", 0)
        if self.args.max_context and asked > self.args.max_context:
            self.stats["too_long"] += 1
            message = (
                f"This model's maximum context length is {self.args.max_context} tokens. "
                f"However, you requested {prompt_tokens + body['max_tokens']} tokens "
                f"({prompt_tokens} in the messages, {body['max_tokens']} in the "
                "completion). Please reduce the length of the messages or completion."
            )
            return 400, {}, {"object": "error", "message": message, "type": "BadRequestError",
                             "code": 400}  # fmt: skip
        if fault == "hang":
            await asyncio.sleep(self.args.hang_seconds)
        if fault in ("hang", "drop"):
            return 0, {}, None
        text = fault_text(fault, authorization)
        text = text if text is not None else self.reply(body)
        finish = "stop"
        if fault == "cut":  # the reply as it stood when max_tokens ran out, mid-pair
            finish = "length"
            text = text[: text.rfind('"question"') + 14] if '"question"' in text else text[:10]
        message = {"role": "assistant", "content": text}
        if self.args.reasoning:  # a thinking model: its thoughts first, maybe never finished
            thought = (
                f"The user asks about the page. Request {self.stats['chat_requests']}: "
                "let me read it and find each answer."
            )
            cut = self.rng.random() < self.args.unfinished
            finish = "length" if cut else finish
            self.stats["unfinished_reasoning"] += cut
            if self.args.reasoning == "parser":
                message = {"role": "assistant", "content": None if cut else text,
                           "reasoning": thought}  # fmt: skip
            else:
                message["content"] = f"<think>{thought}" + ("" if cut else f"</think>\n\n{text}")
            text = thought + (message["content"] or "")
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(text) // 4,
            "total_tokens": prompt_tokens + len(text) // 4,
        }
        extra = {"x-drip": "1"} if fault == "drip" else {}
        if body.get("stream"):
            options = body.get("stream_options") or {}
            extra["x-stream"] = "usage" if options.get("include_usage") else "1"
        return (
            200,
            extra,
            {
                "id": f"chatcmpl-{self.stats['chat_requests']}",
                "object": "chat.completion",
                "created": 0,
                "model": body.get("model", self.args.model),
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": usage,
            },
        )

    async def route(self, method: str, path: str, headers: dict, body: bytes):
        if headers.get("authorization"):
            self.auth[headers["authorization"]] += 1
        key = self.args.api_key
        if key and headers.get("authorization") != f"Bearer {key}" and path != "/stats":
            return 401, {}, {"error": {"message": "Unauthorized", "code": 401}}
        if method == "GET" and path.rstrip("/").endswith("/models"):
            return (
                200,
                {},
                {
                    "object": "list",
                    "data": [
                        {"id": self.args.model, "object": "model", "created": 0, "owned_by": "test"}
                        | (
                            {"max_model_len": self.args.max_context}
                            if self.args.max_context
                            else {}
                        )
                    ],
                },
            )
        if method == "GET" and path == "/stats":
            return 200, {}, {**self.stats, "authorization": dict(self.auth),
                             "multimodal": self.multimodal}  # fmt: skip
        if method == "POST" and path.rstrip("/").endswith("/chat/completions"):
            return await self.chat(json.loads(body), headers.get("authorization", ""))
        return 404, {}, {"error": {"message": f"no route {method} {path}"}}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                method, path, _ = request_line.split(" ", 2)
                headers = {}
                for line in header_lines:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                chat = path.rstrip("/").endswith("/chat/completions")
                self.open += chat
                self.stats["peak_open"] = max(self.stats["peak_open"], self.open)
                try:
                    status, extra, payload = await self.route(method, path, headers, body)
                    if payload is None:
                        break
                    if stream := extra.pop("x-stream", None):
                        await self.stream(writer, payload, stream == "usage", "x-drip" in extra)
                        continue
                finally:
                    self.open -= chat
                data = json.dumps(payload, ensure_ascii=False).encode()
                lines = [
                    f"HTTP/1.1 {status} X",
                    "content-type: application/json",
                    f"content-length: {len(data)}",
                    *(f"{k}: {v}" for k, v in extra.items()),
                ]
                if extra.get("x-drip"):  # the head, then one byte a second
                    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
                    for i in range(len(data)):
                        writer.write(data[i : i + 1])
                        await writer.drain()
                        await asyncio.sleep(1)
                    continue
                writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + data)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()


async def serve(args) -> None:
    server = await asyncio.start_server(FakeLLM(args).handle, "127.0.0.1", args.port, backlog=2048)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--model", default="fake-docqa")
    p.add_argument("--latency", type=float, default=0.0, help="seconds added to each chat request")
    p.add_argument("--fault-rate", type=float, default=0.0)
    p.add_argument("--faults", default=",".join(RETRIED), help=f"subset of {','.join(FAULTS)}")
    p.add_argument("--hang-seconds", type=float, default=30.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--api-key", default="", help="refuse other keys (401), as vllm serve does")
    p.add_argument("--max-running", type=int, default=0, help="requests run at once (0: all)")
    p.add_argument("--max-context", type=int, default=0, help="tokens a request may hold")
    p.add_argument("--chars-per-token", type=int, default=4, help="how it counts prompt tokens")
    p.add_argument("--rubber-stamp", action="store_true", help="a judge that scores all 5")
    p.add_argument(
        "--reasoning",
        choices=("parser", "tags"),
        help="think before answering: the "
        "thinking in the message's `reasoning` field (a server with a reasoning "
        "parser) or in <think>...</think> before the content (one without)",
    )
    p.add_argument(
        "--unfinished",
        type=float,
        default=0.0,
        help="share of reasoning replies that run out of tokens while thinking",
    )
    p.add_argument("--truth", help="sample corpus folder: its sidecars say what images show")
    args = p.parse_args()
    args.faults = [f for f in args.faults.split(",") if f]
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
