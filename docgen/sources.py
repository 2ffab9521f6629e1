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


def doc_id_of(data: bytes) -> str:
    """A document's id: a short hash of its bytes (the same PDF reached twice is one document)."""
    return hashlib.sha256(data).hexdigest()[:16]


def read_bytes(src: Source) -> bytes:
    """The PDF's bytes, read back from where :func:`iter_sources` found them."""
    if src.member is None:
        return Path(src.path).read_bytes()
    if src.path.endswith(".parquet"):
        return _parquet_cell(src.path, src.member, src.offset)
    with open(src.path, "rb") as f:
        f.seek(src.offset)
        return f.read(src.size)


def iter_sources(inputs: list[str]) -> Iterator[tuple[Source, bytes]]:
    """Every PDF the inputs name, with its bytes (read once, to hash them)."""
    for path in _expand(inputs):
        suffix = path.suffix.lower()
        if suffix == ".tar":
            yield from _tar_sources(path)
        elif suffix == ".parquet":
            yield from _parquet_sources(path)
        else:
            data = path.read_bytes()
            yield Source(path.name, str(path.resolve()), size=len(data)), data


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
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"input not found: {item}")
    return sorted(set(found))


def _tar_sources(path: Path) -> Iterator[tuple[Source, bytes]]:
    """``KEY.pdf`` members of an uncompressed tar, with ``KEY.json`` as metadata when present.

    Offsets are recorded so workers read a member with one seek; compressed tars cannot be read
    that way and are refused with a reason."""
    try:
        tar = tarfile.open(path, mode="r:")
    except tarfile.ReadError as exc:
        reason = f"not an uncompressed tar ({exc}): unpack it, or re-tar it without compression"
        yield Source(path.name, str(path.resolve()), error=reason), b""
        return
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
            try:
                data = tar.extractfile(m).read()
            except (tarfile.TarError, OSError) as exc:
                yield Source(f"{path.name}/{m.name}", str(path.resolve()), error=f"{exc}"), b""
                continue
            src = Source(
                f"{path.name}/{m.name}",
                str(path.resolve()),
                member=m.name,
                offset=m.offset_data,
                size=len(data),
                meta=metas.get(m.name[:-4]),
            )
            yield src, data
    if broken:
        yield Source(path.name, str(path.resolve()), error=broken), b""


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


def _parquet_sources(path: Path) -> Iterator[tuple[Source, bytes]]:
    """One source per row with PDF bytes; a row group is read at a time, so memory stays small.
    The row's small scalar columns (an id, a url) are kept as its metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        column = pdf_column(pf.schema_arrow)
    except (OSError, ValueError, pa.ArrowException) as exc:
        yield Source(path.name, str(path.resolve()), error=f"unreadable Parquet: {exc}"), b""
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
                name = f"{path.name}#{row}"
                src = Source(name, str(path.resolve()), column, row, len(data), meta)
                yield src, data
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
