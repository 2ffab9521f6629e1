"""Where WORK and OUT live: a local (or shared) folder, or any fsspec URL (``s3://``, ``gs://``,
``abfs://``, ``hf://`` …).

A local path stays a plain :class:`pathlib.Path`, so the common case pays nothing. A URL becomes a
``UPath`` (universal_pathlib): the same path API over the URL's fsspec filesystem, so the stages
join, list, read and write it as they do a folder. Each Dask worker opens the filesystem itself
from the URL; credentials and endpoints come from the environment as fsspec reads them (e.g.
``AWS_ACCESS_KEY_ID``, ``FSSPEC_S3_ENDPOINT_URL``), never through the scheduler.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from docgen.core.errors import UsageError


def location(where: str | Path):
    """A folder or file to read and write: ``Path`` for local paths, ``UPath`` for URLs."""
    if not isinstance(where, str):
        return where
    if where.startswith("file://"):
        return Path(where[len("file://") :])
    if "://" not in where:
        return Path(where)
    from upath import UPath

    try:
        return UPath(where)
    except (ValueError, ImportError) as exc:  # unknown protocol, or its package missing
        raise UsageError(f"{where}: {exc}") from None


def is_local(path) -> bool:
    return isinstance(path, Path)


def arrow_path(path) -> tuple[str, object | None]:
    """``(path, filesystem)`` for pyarrow's readers and writers (``filesystem=None``: local)."""
    return (str(path), None) if is_local(path) else (path.path, path.fs)


def move(src, dst) -> None:
    """Put ``src`` in ``dst``'s place: an atomic rename locally; on an object store a copy and
    a delete (a reader sees either the old object or the whole new one, never a part)."""
    if is_local(src):
        src.replace(dst)
    else:
        src.fs.mv(src.path, dst.path)


def remove_tree(path) -> None:
    """Remove a folder and everything under it; nothing if it is not there."""
    if is_local(path):
        shutil.rmtree(path, ignore_errors=True)
    elif path.fs.exists(path.path):
        path.fs.rm(path.path, recursive=True)


def check_writable(where: str | Path) -> None:
    """Fail before any work, in one line, when a folder or URL cannot be written (a store that
    cannot be reached, missing credentials, no permission), rather than with a traceback once
    the first partition is done."""
    path = location(where)
    if is_local(path) and path.exists() and not path.is_dir():
        raise UsageError(f"{where} is a file: give a folder (it is made if missing)")
    probe = path / f".docgen-write-check-{os.getpid()}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except Exception as exc:  # noqa: BLE001 - each store raises its own kinds of error
        raise UsageError(f"cannot write to {where}: {type(exc).__name__}: {exc}") from None
