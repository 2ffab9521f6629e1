"""Iterators made ahead in a background thread."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator

_END = object()


def prefetched(stream: Iterable, depth: int) -> Iterator:
    """The stream's items made ``depth`` ahead in a thread, so that making them (reading Parquet,
    decoding images: work that lets go of the GIL) overlaps with using them. At most ``depth``
    items wait in memory. Errors are re-raised in the consumer; a consumer that stops early stops
    the thread."""
    if depth <= 0:
        yield from stream
        return
    items: queue.Queue = queue.Queue(depth)
    stop = threading.Event()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                items.put(entry, timeout=0.5)
                return True
            except queue.Full:
                pass
        return False

    def fill():
        try:
            for item in stream:
                if not put((None, item)):
                    return
            put((None, _END))
        except BaseException as exc:  # handed to the consumer
            put((exc, None))

    thread = threading.Thread(target=fill, daemon=True, name="prefetch")
    thread.start()
    try:
        while True:
            exc, item = items.get()
            if exc is not None:
                raise exc
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        # Let it finish the item it is making: a process that exits while that thread is inside
        # native code (Arrow, torch) can abort ("terminate called without an active exception").
        thread.join(timeout=60)
