"""One document read by several isolation children at once ("lanes"), its messages merged back
into the order one child sends them.

A stage with fewer partitions than workers leaves workers idle: a few long PDFs make one
partition, and one worker read them while the others waited. Pages are extracted one by one,
each from the page alone, so a partition's task may deal a document's pages out to several
children (runs of ``RUN_PAGES`` consecutive pages, in turn) and put them back in page order. The
pages, their row groups and the counts are the same as with one child; only the time differs.

Failures keep one child's meaning too: a lane whose child dies (time limit, memory ceiling, a
crash) on page p ends the document at p, as one child dying there would: the pages before p are
kept, p gets the error row, the other lanes are stopped. Each lane's thread reads its child
into a short queue; a lane that runs ahead waits (its child blocks on the pipe), so memory stays
a few pages a lane.
"""

from __future__ import annotations

import queue
import threading

from docgen.core.config import ExtractConfig
from docgen.extract import isolate
from docgen.extract.sources import Source

# Messages a lane may hold before its child waits for the merge to catch up.
QUEUE_MESSAGES = 8
# A document's pages are dealt out in runs of this many consecutive pages: neighbouring pages
# share fonts and images, which a child then decodes once.
RUN_PAGES = 4


def lane_of(number: int, count: int) -> int:
    """The lane (of ``count``) that reads page ``number`` (from 0)."""
    return (number // RUN_PAGES) % count


def in_lane(number: int, lane: tuple[int, int]) -> bool:
    """Whether page ``number`` (from 0) is read by lane ``lane = (index, count)``."""
    index, count = lane
    return lane_of(number, count) == index


def busy_cores(pages_by_lane: list[int]) -> float:
    """How many children were busy on average, from the pages each lane read: the pages over
    the busiest lane's (documents of four pages or fewer keep lane 0 alone busy: 1)."""
    most = max(pages_by_lane, default=0)
    return sum(pages_by_lane) / most if most else 1.0


def read_in_lanes(src: Source, doc_id: str, cfg: ExtractConfig, n: int):
    """The messages of :func:`docgen.extract.document.run_document` for one document, its pages
    read by ``n`` children (lanes 0..n-1 of this process)."""
    lanes = [Lane(src, doc_id, cfg, i, n) for i in range(n)]
    try:
        yield from merged(lanes)
    finally:
        for lane in lanes:
            lane.stop()


class Lane:
    """A thread reading the messages of lane ``index`` of ``count`` from its child."""

    def __init__(self, src: Source, doc_id: str, cfg: ExtractConfig, index: int, count: int):
        self.index = index
        self.queue: queue.Queue = queue.Queue(QUEUE_MESSAGES)
        self.done = False  # its last message (end or failed) has been taken
        self.stopping = threading.Event()
        task = ("docgen.extract.document.document_tables", (src, doc_id, cfg, (index, count)))
        args = (task, cfg.memory_mb, cfg.page_timeout_s, cfg.doc_timeout_s, index)
        self.thread = threading.Thread(target=self._read, args=args, daemon=True)
        self.thread.start()

    def _read(self, *args) -> None:
        try:
            for message in isolate.run_isolated(*args):
                if not self._put(message):
                    return  # run_isolated's cleanup stops a child left mid-document
        except Exception as exc:  # noqa: BLE001 - said as the lane's failure, never lost
            self._put(("failed", f"reading the worker process failed: {exc}"))

    def _put(self, message) -> bool:
        """Queue ``message``, waiting while the queue is full; False once the lane is stopped."""
        while not self.stopping.is_set():
            try:
                self.queue.put(message, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def take(self) -> tuple[str, object]:
        """The lane's next message; after its last, ``("end", None)`` again."""
        if self.done:
            return "end", None
        kind, payload = self.queue.get()
        self.done = kind in ("end", "failed")
        return kind, payload

    def finish(self) -> tuple[str, object]:
        """Read the lane to its last message (the document has no more pages for it)."""
        kind, payload = "end", None
        while not self.done:
            kind, payload = self.take()
        return kind, payload

    def unopened(self) -> None:
        """Lane 0 could not open the document: read this lane to its end when it could not
        either (its child stays for the next document), stop it when it could."""
        while not self.done:
            kind, _ = self.take()
            if kind == "n_pages":
                self.stop()

    def stop(self) -> None:
        """Stop the lane now: its child is killed if it is still on the document."""
        if self.done or not self.thread.is_alive():
            self.done = True
            return
        self.stopping.set()
        isolate.kill_lane(self.index)
        self.thread.join()
        self.done = True


def page_of(kind: str, payload) -> int | None:
    if kind == "page":
        return payload[0]["page"]
    if kind == "error":
        return payload["page"]
    return None


def merged(lanes: list[Lane]):
    """The lanes' messages as one child sends them: lane 0's notes and page count (every lane
    sends the same), then the pages in order, each from its lane, then end or failed."""
    first = lanes[0]
    while True:  # lane 0 speaks for the document until its page count
        kind, payload = first.take()
        yield kind, payload
        if kind == "n_pages":
            n_pages = payload
            break
        if kind == "end":  # the document could not be opened (an error row was sent)
            for lane in lanes[1:]:
                lane.unopened()
            return
        if kind == "failed":  # its child died opening it: the others are stopped (by the caller)
            return
    for number in range(n_pages):
        lane = lanes[lane_of(number, len(lanes))]
        reason = "the page was not extracted"
        while True:
            kind, payload = lane.take()
            if kind in ("page", "error") and page_of(kind, payload) is not None:
                break
            if kind == "error":  # this lane could not open the document (lane 0 could)
                reason = payload["error"]
            elif kind in ("end", "failed"):  # died on this page: the document ends here
                yield "failed", payload if kind == "failed" else reason
                return  # (read_in_lanes stops the other lanes)
            # else: the lane's own notes and page count (lane 0's were sent)
        if page_of(kind, payload) != number + 1:
            raise RuntimeError(f"lane {lane.index} sent page {page_of(kind, payload)} for "
                               f"page {number + 1}")  # fmt: skip
        yield kind, payload
    failed = [m for m in (lane.finish() for lane in lanes) if m[0] == "failed"]
    yield failed[0] if failed else ("end", None)
