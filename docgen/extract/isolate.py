"""Run each document in a child process with a memory ceiling and time limits.

A pathological PDF can make MuPDF loop for ever or allocate without bound. The parent (a Dask
worker, or the CLI) keeps one long-lived child per process; the child extracts one document at a
time and streams its pages back as they are made. A page that takes longer than the page limit,
or a document longer than the document limit, gets the child killed; a child that dies (killed,
out of memory, crashed in C) is replaced, and the document gets an error row. Pages that came
back before are kept.

Protocol: length-prefixed pickles, over the child's stdin and a duplicate of its stdout (its
own stdout is pointed at stderr, so stray prints from C libraries cannot corrupt the stream).
Subprocesses, not multiprocessing: Dask's worker processes are daemons and may not fork
multiprocessing children.
"""

from __future__ import annotations

import atexit
import fcntl
import importlib.abc
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Iterator

_HEADER = struct.Struct("<Q")
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
PIPE_BYTES = 2**20

# glibc's allocator settings for the child. Dask's nanny starts workers with
# MALLOC_TRIM_THRESHOLD_=65536, which a child would inherit: glibc then serves every page image
# (MBs) with a fresh mmap and hands it back when freed, so the next page faults it in again; a
# third of the child's CPU went to the kernel, and two children at once slowed each other down.
# Here buffers up to 64 MB come from the heap and stay there for the next page; the child gives
# memory back after each document (``release_memory``), so its footprint stays flat.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(64 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(64 * 2**20)}


def send(stream, obj) -> None:
    blob = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(blob)) + blob)
    stream.flush()


def _read_exact(stream, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive(stream):
    """The next message, or raises EOFError when the other side is gone."""
    size = _HEADER.unpack(_read_exact(stream, _HEADER.size))[0]
    return pickle.loads(_read_exact(stream, size))


class Child:
    """One child process running ``docgen.extract.isolate`` with a memory ceiling (MB, 0 = none)."""

    def __init__(self, memory_mb: int):
        self.memory_mb = memory_mb
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "docgen.extract.isolate", str(memory_mb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,  # unbuffered: select() on the pipe must see every byte not yet read
            env={**os.environ, **MALLOC_ENV},
            # A group of its own: a terminal's Ctrl-C (sent to the whole foreground group) is the
            # driver's to handle; killed by it, the document would count as a failure.
            process_group=0,
        )
        try:  # Linux: a page's message (a PNG of a few hundred KB) fits the pipe in one write
            fcntl.fcntl(self.proc.stdout.fileno(), F_SETPIPE_SZ, PIPE_BYTES)
        except OSError:
            pass

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            stream.close()

    def death(self) -> str:
        """Why the child stopped, in words."""
        code = self.proc.wait()
        if code < 0:
            name = signal.Signals(-code).name
            hint = " (out of memory?)" if -code == signal.SIGKILL else ""
            return f"worker process killed by {name}{hint}"
        return f"worker process exited with code {code}"


# The children of this process, one per lane (see docgen.extract.lanes: several read one
# document's pages at once when a stage has fewer partitions than workers).
_children: dict[int, Child] = {}


def _get_child(memory_mb: int, lane: int = 0) -> Child:
    child = _children.get(lane)
    if child is None or not child.alive() or child.memory_mb != memory_mb:
        if child is not None:
            child.kill()
        child = _children[lane] = Child(memory_mb)
    return child


def kill_lane(lane: int) -> None:
    """Kill the child of ``lane`` from another thread: the thread reading it sees it die."""
    child = _children.get(lane)
    if child is not None and child.alive():
        child.proc.kill()


@atexit.register
def stop_child() -> None:
    """End this process's children, if it has any (the next document starts new ones)."""
    for lane in list(_children):
        _children.pop(lane).kill()


def run_isolated(
    task, memory_mb: int, item_timeout: float, total_timeout: float, lane: int = 0
) -> Iterator[tuple[str, object]]:
    """Messages ``(kind, payload)`` of ``task`` run in the child of ``lane`` (see
    :func:`child_main`), ended by ``("end", None)``; on a time limit or a dying child,
    ``("failed", reason)`` instead."""
    child = _get_child(memory_mb, lane)
    try:
        send(child.proc.stdin, task)
    except (BrokenPipeError, OSError):
        reason = child.death()
        child.kill()
        yield "failed", reason
        return
    start, kind = time.monotonic(), None
    try:
        for kind, payload in _messages(child, start, item_timeout, total_timeout):
            yield kind, payload
    finally:
        # A caller that stops listening mid-document (an exception while writing) leaves the rest
        # of it in the pipe, where the next task would read it as its own: stop that child.
        if kind not in ("end", "failed") and child.alive():
            child.kill()


def _messages(child: Child, start: float, item_timeout: float, total_timeout: float):
    while True:
        now = time.monotonic()
        wait = min(item_timeout, total_timeout - (now - start))
        ready, _, _ = select.select([child.proc.stdout], [], [], max(0.0, wait))
        if not ready:
            limit = (
                f"document time limit ({total_timeout:g} s)"
                if total_timeout - (time.monotonic() - start) <= 0
                else f"page time limit ({item_timeout:g} s)"
            )
            child.kill()
            yield "failed", f"timed out: {limit}"
            return
        try:
            kind, payload = receive(child.proc.stdout)
        except (EOFError, OSError, pickle.UnpicklingError):
            reason = child.death()
            child.kill()
            yield "failed", reason
            return
        yield kind, payload
        if kind in ("end", "failed"):
            return


class NotInChild(importlib.abc.MetaPathFinder):
    """Refuses modules the child never uses that others import on the way: PyMuPDF imports its
    layout model and its LLM helpers (onnxruntime) when they are installed, and pyarrow imports
    pandas the first time it builds an array from a list (to ask whether the list is a pandas
    object). Together 0.25 s of CPU and ~60 MB in every child. Each import fails as a module that
    is not installed, which is how those callers expect to find them absent."""

    REFUSED = ("pandas", "pymupdf.layout", "pymupdf4llm")

    def find_spec(self, name, path=None, target=None):
        if name in self.REFUSED or name.split(".")[0] == "pandas":
            raise ModuleNotFoundError(f"{name} is not used in an extraction child", name=name)
        return None


def child_main(memory_mb: int) -> None:
    """The child's loop: read a task ``(function, args)``, send each message it yields."""
    import importlib
    import resource

    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.meta_path.insert(0, NotInChild())
    if memory_mb > 0:
        limit = memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    watch_parent()
    stdin = sys.stdin.buffer
    while True:
        try:
            func_path, args = receive(stdin)
        except EOFError:
            return
        module, name = func_path.rsplit(".", 1)
        func = getattr(importlib.import_module(module), name)
        try:
            try:
                for message in func(*args):
                    send(out, message)
            except MemoryError:
                send(out, ("failed", "out of memory (memory ceiling reached)"))
                continue
            send(out, ("end", None))
        except (BrokenPipeError, ConnectionError):  # the parent is gone: nobody to tell
            os._exit(1)


def watch_parent() -> None:
    """End this child when its parent is gone. In a process group of its own, it no longer dies
    with the parent's group; a document that loops would otherwise keep it running."""
    import threading

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


if __name__ == "__main__":
    child_main(int(sys.argv[1]))
