"""The generation cache: every answer a model gave, kept so that no request is ever sent twice.

Answers are appended, one JSON line each, to ``WORK/cache/generate/part-<id>.jsonl`` the moment
they arrive, so a run killed mid-partition keeps everything already answered and its rerun sends
only what is missing. A line is keyed by the hash of model, messages and sampling parameters, so
changing any of them asks again. The files double as the audit trail of raw model output.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path


def cache_key(model: str, messages: list[dict], params: str) -> str:
    """The key of one request: ``params`` is a fingerprint of the sampling parameters."""
    blob = json.dumps(
        {"model": model, "messages": messages, "params": params},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class GenerationCache:
    """Per-partition JSONL files of answers; loaded lazily, appended and flushed line by line."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._entries: dict[str, dict[str, dict]] = {}
        self._lock = threading.Lock()

    def path(self, part: str) -> Path:
        return self.folder / f"part-{part}.jsonl"

    def _load(self, part: str) -> dict[str, dict]:
        if part not in self._entries:
            entries = {}
            try:
                with open(self.path(part), encoding="utf-8") as f:
                    for line in f:
                        try:
                            record = json.loads(line)
                            entries[record["key"]] = record
                        except (ValueError, KeyError, TypeError):
                            continue  # a line cut short by a crash: that answer is asked again
            except FileNotFoundError:
                pass
            self._entries[part] = entries
        return self._entries[part]

    def get(self, part: str, key: str) -> dict | None:
        return self._load(part).get(key)

    def put(self, part: str, key: str, record: dict) -> None:
        record = {"key": key, **record}
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            self._load(part)[key] = record
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(self.path(part), "a", encoding="utf-8") as f:
                f.write(line)
