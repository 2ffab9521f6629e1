"""One run at a time on a work directory. Two runs writing one WORK would share its manifest and
partitions, and the later one would silently produce nothing; so the run that uses WORK holds
``WORK/.lock`` (its host, process id and that process's start time), and another run refuses in
one line. A lock left by a run that is gone (killed on this host: no such process, or another
process now has its id) is taken over. On an object store the lock is a plain file: it cannot be
taken atomically there, nor can a process on another host be checked, so the message says how to
remove it."""

from __future__ import annotations

import json
import os
import socket
from contextlib import contextmanager

from docgen.core.errors import RunFailed
from docgen.core.storage import is_local, location

LOCK = ".lock"


def process_start(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, Linux), None if it does not exist;
    "" where /proc cannot say (then only its existence is checked)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except FileNotFoundError:
        return None
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return ""


def alive(owner: dict) -> bool:
    if owner.get("host") != socket.gethostname():
        return True  # cannot be checked from here: assumed running
    try:
        started = process_start(int(owner.get("pid", -1)))
    except (TypeError, ValueError):  # not a lock docgen wrote: nobody holds it
        return False
    return started is not None and (started == owner.get("started") or not started)


@contextmanager
def work_lock(work: str):
    """Hold WORK's lock for the block; raise RunFailed (one line) if another run holds it."""
    folder = location(work)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK
    me = {"host": socket.gethostname(), "pid": os.getpid(), "started": process_start(os.getpid())}
    body = json.dumps(me).encode()
    for attempt in range(2):
        try:
            if is_local(path):
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)  # atomic here
                with os.fdopen(fd, "wb") as f:
                    f.write(body)
            elif path.exists():
                raise FileExistsError(str(path))
            else:
                path.write_bytes(body)
            break
        except FileExistsError:
            try:
                owner = json.loads(path.read_bytes())
            except (OSError, ValueError):
                owner = {}
            owner = owner if isinstance(owner, dict) else {}
            if attempt or (owner and alive(owner)):
                raise RunFailed(
                    f"{work} is in use by another docgen run (host {owner.get('host')}, pid "
                    f"{owner.get('pid')}); wait for it, or, if that run is gone, delete {path}"
                ) from None
            path.unlink(missing_ok=True)  # left by a run that is gone, or half written
    try:
        yield
    finally:
        try:
            if json.loads(path.read_bytes()) == me:
                path.unlink()
        except (OSError, ValueError):
            pass
