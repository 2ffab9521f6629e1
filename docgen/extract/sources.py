"""Where PDFs come from: files, folders, globs, list files, tar shards and Parquet columns.

Every PDF found becomes a :class:`Source`, a small record a worker can read the bytes back from
by itself (a path, or a member's offset inside a tar, or a row of a Parquet file), so only
locations travel through the scheduler. Inputs:

- a PDF file, or any file named explicitly (non-PDF bytes become an error row later);
- a folder, searched recursively for ``*.pdf``, ``*.tar`` and ``*.parquet``;
- a glob (``corpus/**/*.pdf``);
- a list file (``*.txt`` / ``*.lst``): one path or glob per line, relative to the list file;
- a webdataset-style ``.tar`` shard holding ``KEY.pdf`` (and optionally ``KEY.json``, whose text
  is kept as the document's metadata, as in the PDFA corpus);
- a Parquet file (or a Hugging Face dataset folder of them) with a column of PDF bytes: binary,
  or the ``{bytes, path}`` struct the ``datasets`` library stores files as.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import json
import math
import os
import re
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PDF_MAGIC = b"%PDF"
CONTAINERS = {".tar", ".parquet"}
LIST_FILES = {".txt", ".lst"}


@dataclass(frozen=True)
class Source:
    """One PDF: ``path`` is a file, or the tar / Parquet file holding it (``member`` then names
    it, ``offset`` is the member's data offset in the tar or the row in the Parquet file)."""

    name: str  # what people see: the file name, or "shard.tar/KEY.pdf"
    path: str  # absolute
    member: str | None = None
    offset: int = 0
    size: int = 0
    meta: str | None = None  # KEY.json of a tar shard, or the Parquet row's other columns
    error: str | None = None  # set on an input that could not be read at all
    digest: str | None = None  # the id its bytes had when found: other bytes later are refused


def doc_id_of(data: bytes) -> str:
    """A document's id: a short hash of its bytes (the same PDF reached twice is one document)."""
    return hashlib.sha256(data).hexdigest()[:16]


def file_id(f, size: int) -> str:
    """:func:`doc_id_of` the next ``size`` bytes of an open file, read a piece at a time."""
    digest = hashlib.sha256()
    while size > 0 and (piece := f.read(min(size, 1 << 20))):
        digest.update(piece)
        size -= len(piece)
    return digest.hexdigest()[:16]


def label(text: str) -> str:
    """``text`` as valid UTF-8, for tables and screens: a name whose bytes are not UTF-8 (a file
    or tar member named in another encoding) keeps what reads, and each other byte as \\xNN."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def unlabel(text: str) -> str:
    """The name :func:`label` was made from, as the operating system spells it."""
    raw = re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m[1], 16)]), text.encode("utf-8"))
    return raw.decode("utf-8", "surrogateescape")


def read_bytes(src: Source) -> bytes:
    """The PDF's bytes, read back from where :func:`iter_sources` found them."""
    path = src.path if os.path.exists(src.path) else unlabel(src.path)
    if src.member is None:
        return Path(path).read_bytes()
    if path.endswith(".parquet"):
        return _parquet_cell(path, src.member, src.offset)
    with open(path, "rb") as f:
        f.seek(src.offset)
        return f.read(src.size)


def iter_sources(inputs: list[str], max_bytes: float = math.inf,
                 skip: tuple[Path, ...] = ()) -> Iterator[tuple[Source, str]]:  # fmt: skip
    """Every PDF the inputs name, with its id (its bytes streamed through the hash: a file larger
    than ``max_bytes`` is refused by its size, unread). Files under ``skip`` (WORK and OUT, if
    inside an input folder) are not inputs."""
    for path in _expand(inputs):
        if any(path.resolve().is_relative_to(folder) for folder in skip):
            continue
        suffix = path.suffix.lower()
        if suffix == ".tar":
            yield from _tar_sources(path, max_bytes)
        elif suffix == ".parquet":
            yield from _parquet_sources(path)
        else:
            yield _file_source(path, max_bytes)


def _file_source(path: Path, max_bytes: float) -> tuple[Source, str]:
    where, name = label(str(path.resolve())), label(path.name)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO would block the run, a device never end
            return Source(name, where, error="not a regular file (a FIFO, socket or device)"), ""
        if info.st_size > max_bytes:
            too_large = f"file too large: {info.st_size / 2**20:.0f} MB > {max_bytes / 2**20:g} MB"
            return Source(name, where, size=info.st_size, error=too_large), ""
        with path.open("rb") as f:
            digest = file_id(f, info.st_size)
        return Source(name, where, size=info.st_size, digest=digest), digest
    except OSError as exc:
        return Source(name, where, error=f"cannot read the file: {exc.strerror or exc}"), ""


def _expand(inputs: list[str]) -> list[Path]:
    """Input files: folders searched, globs and list files expanded, in a stable order."""
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if any(c in item for c in "*?[") and not path.exists():
            matches = [Path(p) for p in glob.glob(item, recursive=True)]
            if not matches:
                raise FileNotFoundError(f"no file matches {item}")
            found += _expand([str(p) for p in matches if p.is_file() or p.is_dir()])
        elif path.is_dir():
            found += [
                p
                for p in path.rglob("*")
                if p.is_file() and (p.suffix.lower() == ".pdf" or p.suffix.lower() in CONTAINERS)
            ]
        elif path.is_file() and path.suffix.lower() in LIST_FILES:
            lines = path.read_text("utf-8").splitlines()
            items = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
            found += _expand([str(path.parent / i) for i in items])
        elif path.exists():  # a file, or something that is not one (refused with a reason)
            found.append(path)
        else:
            raise FileNotFoundError(f"input not found: {label(item)}")
    return sorted(set(found))


def _tar_sources(path: Path, max_bytes: float) -> Iterator[tuple[Source, str]]:
    """``KEY.pdf`` members of an uncompressed tar, with ``KEY.json`` as metadata when present.

    Offsets are recorded so workers read a member with one seek; compressed tars cannot be read
    that way and are refused with a reason."""
    try:
        tar = tarfile.open(path, mode="r:")
    except tarfile.ReadError as exc:
        reason = f"not an uncompressed tar ({exc}): unpack it, or re-tar it without compression"
        yield Source(label(path.name), label(str(path.resolve())), error=reason), ""
        return
    shard, where = label(path.name), label(str(path.resolve()))
    members, broken = [], None
    with tar:
        try:  # a truncated shard: keep the members before the damage
            for m in tar:
                if m.isfile():
                    members.append(m)
        except (tarfile.TarError, OSError) as exc:
            broken = f"tar shard damaged after {len(members)} members: {exc}"
        metas = {}
        for m in members:
            if m.name.lower().endswith(".json"):
                try:
                    metas[m.name[:-5]] = tar.extractfile(m).read().decode("utf-8", "replace")
                except (tarfile.TarError, OSError):
                    pass  # metadata is optional; the PDF beside it still counts
        for m in members:
            if not m.name.lower().endswith(".pdf"):
                continue
            name = f"{shard}/{label(m.name)}"
            if m.issparse():  # its data is not the bytes at its offset
                yield Source(name, where, error="sparse tar member: not supported"), ""
                continue
            if m.size > max_bytes:
                too_large = f"file too large: {m.size / 2**20:.0f} MB > {max_bytes / 2**20:g} MB"
                yield Source(name, where, size=m.size, error=too_large), ""
                continue
            try:
                tar.fileobj.seek(m.offset_data)
                doc_id = file_id(tar.fileobj, m.size)
            except (tarfile.TarError, OSError) as exc:
                yield Source(name, where, error=f"{exc}"), ""
                continue
            meta = metas.get(m.name[:-4])
            yield (
                Source(name, where, label(m.name), m.offset_data, m.size, meta, digest=doc_id),
                doc_id,
            )
    if broken:
        yield Source(shard, where, error=broken), ""


def pdf_column(schema) -> str:
    """The column holding PDF bytes: ``pdf`` / ``bytes`` / the first binary or {bytes, path}
    struct column."""
    import pyarrow as pa

    def holds_bytes(field) -> bool:
        t = field.type
        if pa.types.is_struct(t):
            return t.get_field_index("bytes") >= 0
        return pa.types.is_binary(t) or pa.types.is_large_binary(t)

    candidates = [f.name for f in schema if holds_bytes(f)]
    for preferred in ("pdf", "bytes", "document", "content"):
        if preferred in candidates:
            return preferred
    if not candidates:
        raise ValueError(f"no column of PDF bytes (binary or {{bytes, path}} struct) in {schema}")
    return candidates[0]


def _cell_bytes(value) -> bytes | None:
    return value.get("bytes") if isinstance(value, dict) else value


def _parquet_sources(path: Path) -> Iterator[tuple[Source, str]]:
    """One source per row with PDF bytes; a row group is read at a time, so memory stays small.
    The row's small scalar columns (an id, a url) are kept as its metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        column = pdf_column(pf.schema_arrow)
    except (OSError, ValueError, pa.ArrowException) as exc:
        yield (
            Source(
                label(path.name), label(str(path.resolve())), error=f"unreadable Parquet: {exc}"
            ),
            "",
        )
        return
    scalars = [
        f.name
        for f in pf.schema_arrow
        if f.name != column and (pa.types.is_string(f.type) or pa.types.is_integer(f.type))
    ]
    row = 0
    for g in range(pf.num_row_groups):
        table = pf.read_row_group(g, columns=[column, *scalars])
        for record in table.to_pylist():
            data = _cell_bytes(record.pop(column))
            if data:
                meta = json.dumps(record, ensure_ascii=False) if record else None
                name = f"{label(path.name)}#{row}"
                digest = doc_id_of(data)
                src = Source(name, label(str(path.resolve())), column, row, len(data), meta,
                             digest=digest)  # fmt: skip
                yield src, digest
            row += 1


def _parquet_cell(path: str, column: str, row: int) -> bytes:
    """One cell, reading only the row group that holds it. Documents of a partition are
    neighbours in the file, so the last row group read is kept: decoding it once per document
    would read a 100-row group a hundred times."""
    import os

    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    for g in range(pf.num_row_groups):
        n = pf.metadata.row_group(g).num_rows
        if row < n:
            stat = os.stat(path)
            cells = _row_group(path, stat.st_mtime_ns, stat.st_size, g, column)
            return _cell_bytes(cells[row].as_py()) or b""
        row -= n
    raise ValueError(f"{path}: no row {row}")


@functools.lru_cache(maxsize=1)
def _row_group(path: str, mtime_ns: int, size: int, group: int, column: str):
    """One column of one row group (keyed by the file's mtime and size, so a rewritten file is
    read again)."""
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).read_row_group(group, columns=[column]).column(0)


def looks_like_pdf(data: bytes) -> bool:
    """Whether bytes start like a PDF (some files have junk before the header: look a little)."""
    return PDF_MAGIC in data[:1024]
