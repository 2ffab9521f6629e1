"""The generation cache: every answer a model gave, kept so that no request is ever sent twice.

Answers are appended, one JSON line each, to ``WORK/cache/generate/part-<id>.jsonl`` the moment
they arrive, so a run killed mid-partition keeps everything already answered and its rerun sends
only what is missing. A line is keyed by the hash of model, messages and sampling parameters, so
changing any of them asks again. The files double as the audit trail of raw model output.

Object stores (a WORK URL such as ``s3://``) cannot append: there answers are gathered and written
as new files ``part-<id>.<time>-<pid>.jsonl`` every ``FLUSH_EVERY`` answers or ``FLUSH_SECONDS``,
and when a batch of requests ends, so a kill loses at most that much.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path

from docgen.core.storage import is_local, location

FLUSH_EVERY = 64
FLUSH_SECONDS = 30.0


def cache_key(model: str, messages: list[dict], params: str) -> str:
    """The key of one request: ``params`` is a fingerprint of the sampling parameters."""
    blob = json.dumps(
        {"model": model, "messages": messages, "params": params},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class GenerationCache:
    """Per-partition JSONL files of answers; loaded lazily, appended and flushed line by line
    (on object stores, in batches)."""

    def __init__(self, folder: str | Path):
        self.folder = location(folder)
        self.appendable = is_local(self.folder)
        self._entries: dict[str, dict[str, dict]] = {}
        self._pending: dict[str, list[str]] = {}  # lines not yet written (object stores)
        self._flushed = time.monotonic()
        self._lock = threading.Lock()

    def path(self, part: str) -> Path:
        return self.folder / f"part-{part}.jsonl"

    def files(self, part: str) -> list:
        """The partition's file and, on object stores, its batches."""
        if self.appendable or not self.folder.exists():
            return [self.path(part)]
        return [self.path(part), *sorted(self.folder.glob(f"part-{part}.*.jsonl"))]

    def _load(self, part: str) -> dict[str, dict]:
        if part not in self._entries:
            entries = {}
            for path in self.files(part):
                try:
                    lines = path.read_text("utf-8").splitlines()
                except FileNotFoundError:
                    continue
                for line in lines:
                    try:
                        record = json.loads(line)
                        entries[record["key"]] = record
                    except (ValueError, KeyError, TypeError):
                        continue  # a line cut short by a crash: that answer is asked again
            self._entries[part] = entries
        return self._entries[part]

    def get(self, part: str, key: str) -> dict | None:
        return self._load(part).get(key)

    def put(self, part: str, key: str, record: dict) -> None:
        record = {"key": key, **record}
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            self._load(part)[key] = record
            if self.appendable:
                self.folder.mkdir(parents=True, exist_ok=True)
                with open(self.path(part), "a", encoding="utf-8") as f:
                    f.write(line)
                return
            self._pending.setdefault(part, []).append(line)
            waited = time.monotonic() - self._flushed
            if sum(map(len, self._pending.values())) >= FLUSH_EVERY or waited >= FLUSH_SECONDS:
                self._write_pending()

    def flush(self) -> None:
        """Write what is gathered (object stores); a no-op where lines are appended."""
        with self._lock:
            self._write_pending()

    def _write_pending(self) -> None:
        for part, lines in self._pending.items():
            name = f"part-{part}.{time.time_ns()}-{os.getpid()}.jsonl"
            (self.folder / name).write_text("".join(lines), "utf-8")
        self._pending.clear()
        self._flushed = time.monotonic()
