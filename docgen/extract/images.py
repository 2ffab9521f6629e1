"""Page images: render at a DPI under a longest-side cap, one channel when the page has no colour,
then encode (PNG by default, lossless; JPEG or WebP on request).

Rendering plus encoding is the slowest CPU step of extraction. MuPDF's own PNG writer spends
about three times the render on zlib at its default level; here the rows go unfiltered to
zlib-ng's deflate, several times faster than zlib and, with grey pages at one channel, smaller than
MuPDF's RGB PNG (see bench/RESULTS.md).

The encoder must be a pure function of the pixels: a rerun after a crash must give the same bytes.
ISA-L's deflate (used here before) is faster still but is not: now and then, one process in
dozens wrote a different (equally valid) match for the same rows, so the same page came out as
different PNG bytes with the same pixels (tests/test_determinism.py).
"""

from __future__ import annotations

import base64
import io
import struct
import zlib

import numpy as np

try:  # zlib-ng: the same format and the same bytes every time, several times faster than zlib
    from zlib_ng import zlib_ng as _deflate
except ImportError:  # pragma: no cover - zlib-ng has wheels for the usual platforms
    _deflate = zlib

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def render(page, dpi: int, max_side: int, colour: str = "auto") -> np.ndarray:
    """The page as pixels: an ``(h, w)`` grey or ``(h, w, 3)`` RGB uint8 array.

    ``colour``: ``auto`` keeps RGB only when some pixel has colour (checked exactly, so nothing is
    lost), ``gray`` always one channel, ``rgb`` always three."""
    return page_image(page, dpi, max_side, colour, None, lambda pixels: pixels.copy())


def page_image(page, dpi: int, max_side: int, colour: str, shown, use):
    """``use(pixels)`` on the page's pixels (see :func:`render`), while MuPDF's buffer is alive:
    the pixels are a view of it, not a copy (copying a page costs as much as encoding it)."""
    import pymupdf

    zoom = dpi / 72
    longest = max(page.rect.width, page.rect.height) * zoom
    if longest > max_side:
        zoom *= max_side / longest
    matrix = pymupdf.Matrix(zoom, zoom)
    gray = colour == "gray"
    space = pymupdf.csGRAY if gray else pymupdf.csRGB
    pix = (shown or page).get_pixmap(matrix=matrix, alpha=False, colorspace=space)
    pixels = np.frombuffer(pix.samples_mv, np.uint8).reshape(pix.height, pix.width, pix.n)
    if pix.n == 1:
        pixels = pixels[:, :, 0]
    elif colour == "auto" and is_grey(pixels):
        pixels = pixels[:, :, 0]  # a view: the encoder copies its rows anyway
    result = use(pixels)
    del pixels  # before the pixmap: MuPDF's buffer must not be exported when it is freed
    return result


# is_grey works through a page a piece at a time (a multiple of 3 bytes, so that every piece
# starts at a pixel): the pieces stay in the CPU's cache, and a page with colour stops early.
_GREY_PIECE = 3 * 2**16
# 1 where a byte and the next belong to one pixel (R-G, G-B), 0 where the next is another pixel's.
_SAME_PIXEL = np.tile(np.array([1, 1, 0], np.uint8), _GREY_PIECE // 3)


def is_grey(rgb: np.ndarray) -> bool:
    """Whether every pixel has R = G = B: every byte equals the next one within its pixel.
    Contiguous comparisons of neighbouring bytes, masked to a pixel's own (twice as fast as
    comparing the channels' strided views)."""
    flat = rgb.reshape(-1)
    last = flat.size - 1
    differs = np.empty(_GREY_PIECE, np.bool_)
    for start in range(0, last, _GREY_PIECE):
        n = min(_GREY_PIECE, last - start)
        piece = differs[:n]
        np.not_equal(flat[start : start + n], flat[start + 1 : start + n + 1], out=piece)
        inside = piece.view(np.uint8)
        inside &= _SAME_PIXEL[:n]
        if inside.any():
            return False
    return True


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def png_bytes(pixels: np.ndarray, level: int = 2) -> bytes:
    """A PNG of grey or RGB pixels: rows unfiltered (on text pages the filters cost time and
    grow the output), deflated at ``level`` (0-9)."""
    height, width = pixels.shape[:2]
    channels = 1 if pixels.ndim == 2 else 3
    raw = np.empty((height, width * channels + 1), np.uint8)
    raw[:, 0] = 0  # the first byte of a row: its filter, none
    raw[:, 1:] = pixels.reshape(height, -1)
    header = struct.pack(">IIBBBBB", width, height, 8, 0 if channels == 1 else 2, 0, 0, 0)
    idat = _deflate.compress(raw.data, level)
    return _PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def encode(pixels: np.ndarray, fmt: str, quality: int = 90, png_level: int = 2) -> bytes:
    """Encode pixels as ``png`` (lossless), ``jpeg`` or ``webp`` (lossy, at ``quality``)."""
    if fmt == "png":
        return png_bytes(pixels, png_level)
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(pixels), "L" if pixels.ndim == 2 else "RGB")
    out = io.BytesIO()
    if fmt in ("jpeg", "jpg"):
        image.save(out, "JPEG", quality=quality)
    elif fmt == "webp":
        image.save(out, "WEBP", quality=quality, method=4)
    else:
        raise ValueError(f"unknown image format {fmt!r}: png, jpeg or webp")
    return out.getvalue()


MIME = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"RIFF": "image/webp"}


def mime_of(data: bytes) -> str:
    """The MIME type of PNG, JPEG or WebP bytes (the formats extraction writes)."""
    for magic, mime in MIME.items():
        if data.startswith(magic):
            return mime
    raise ValueError("not a PNG, JPEG or WebP image")


def fit(width: int, height: int, max_side: int, max_pixels: int) -> tuple[int, int]:
    """The size that keeps the aspect ratio within ``max_side`` and ``max_pixels``."""
    scale = min(1.0, max_side / max(width, height), (max_pixels / (width * height)) ** 0.5)
    return max(1, int(width * scale)), max(1, int(height * scale))


def model_image(data, width: int, height: int, max_side: int, max_pixels: int) -> bytes | None:
    """A page image as a model is sent it: the stored bytes when the page is within
    ``max_side`` and ``max_pixels``, else resized (the same bytes every time) and PNG-encoded;
    None for a page without an image, or one that does not decode."""
    if not data:
        return None
    size = fit(width, height, max_side, max_pixels)
    if size == (width, height):
        return data
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            image = image.convert("L" if image.mode in ("L", "LA", "1") else "RGB")
            pixels = np.asarray(image.resize(size, Image.Resampling.BICUBIC))
    except (OSError, ValueError, Image.DecompressionBombError):  # a page image gone bad in WORK
        return None
    return png_bytes(pixels)


def data_url(data: bytes) -> str:
    """The image as a ``data:`` URL, the way OpenAI-compatible servers take images inline."""
    return f"data:{mime_of(data)};base64,{base64.b64encode(data).decode('ascii')}"
