"""OCR for pages without a usable text layer, through PyMuPDF's built-in Tesseract.

PyMuPDF carries the Tesseract engine; what it needs from the system is the language data
(Debian: ``tesseract-ocr`` and ``tesseract-ocr-ara`` / ``-chi-sim`` / ``-jpn`` / ``-kor``, which
``make`` installs). Without it, pages are recorded as needing OCR instead.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

# Below this many visible characters a page that shows an image is taken for a scan.
MIN_TEXT_CHARS = 16


@functools.cache
def tessdata() -> str | None:
    """The folder of Tesseract's language files, or None when Tesseract is not installed."""
    env = os.environ.get("TESSDATA_PREFIX")
    if env and os.path.isdir(env):
        return env
    if shutil.which("tesseract") is None:
        return None
    try:
        out = subprocess.run(
            ["tesseract", "--list-langs"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    # First line: List of available languages in "/usr/share/tesseract-ocr/5/tessdata/" (6):
    first = out.splitlines()[0] if out else ""
    path = first.split('"')[1] if first.count('"') >= 2 else None
    return path if path and os.path.isdir(path) else None


def available_languages() -> set[str]:
    folder = tessdata()
    if folder is None:
        return set()
    return {f[: -len(".traineddata")] for f in os.listdir(folder) if f.endswith(".traineddata")}


def missing_message(languages: list[str]) -> str | None:
    """Why OCR cannot run with these languages (None when it can)."""
    have = available_languages()
    if not have:
        return (
            "Tesseract is not installed: pages without a text layer are recorded as needing OCR "
            "(install tesseract-ocr and its language packs, e.g. `apt-get install tesseract-ocr "
            "tesseract-ocr-ara tesseract-ocr-chi-sim tesseract-ocr-jpn tesseract-ocr-kor`)"
        )
    missing = [lang for lang in languages if lang not in have]
    if missing:
        return f"Tesseract has no data for {', '.join(missing)}: OCR uses the others"
    return None


def needs_ocr(page, text: dict) -> bool:
    """A page with (almost) no visible text but an image on it: a scan or a picture of text.
    Characters MuPDF could not map (U+FFFD) do not count as text."""
    chars = 0
    for block in text["blocks"]:
        for line in block.get("lines", []):
            for span in line["spans"]:
                chars += sum(not c.isspace() and c != "\ufffd" for c in span["text"])
                if chars >= MIN_TEXT_CHARS:
                    return False
    return bool(page.get_images(full=False))


def ocr_textpage(page, languages: list[str], dpi: int, flags: int):
    """A text page made by Tesseract from the page rendered at ``dpi``."""
    have = available_languages()
    langs = [lang for lang in languages if lang in have] or sorted(have - {"osd"})[:1]
    return page.get_textpage_ocr(
        flags=flags, language="+".join(langs), dpi=dpi, full=True, tessdata=tessdata()
    )
