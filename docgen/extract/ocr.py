"""OCR for pages without a usable text layer: the Tesseract command, driven for quality.

Each page is rendered at ``extract.ocr_dpi``; Tesseract's script and orientation detection (OSD)
reads it first, the page is turned upright if it must be, and the page is then read with the
language packs of its script only (see SCRIPT_LANGUAGES), at the resolutions that suit the
script (RESOLUTIONS). One pack per script reads more and runs several times faster than all of
them at once: Japanese text read with Chinese and Korean packs loaded loses most of its kana,
Han text read with the Japanese pack gains kana it does not have (and is taken for Japanese).
Words come back with their boxes (Tesseract's TSV), grouped into Tesseract's lines.

What is needed from the system: the ``tesseract`` command and its language data (Debian's
``tesseract-ocr`` and ``tesseract-ocr-<lang>`` packs, which ``make`` installs). Without them,
pages are recorded as needing OCR instead.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

from docgen.core.text import fold, persian_or_arabic, script_counts

# Below this many visible characters a page that shows an image is taken for a scan.
MIN_TEXT_CHARS = 16
# OSD's script names, and the packs that read each (of those configured). English beside
# Japanese and Arabic reads the Latin words their pages hold (measured in bench/ocr.py: more
# found); beside Chinese and Korean it made Tesseract read fewer of their characters.
SCRIPT_LANGUAGES = {
    "Latin": ("eng", "fra", "deu", "spa", "ita", "por", "nld"),
    "Han": ("chi_sim", "chi_tra"),
    "Japanese": ("jpn", "eng"),
    "Korean": ("kor",),
    "Hangul": ("kor",),
    "Arabic": ("ara", "fas", "eng"),
}
# Tesseract's script models (Debian's tesseract-ocr-script-*), trained on more fonts of a script
# than a language's pack, read in its place when installed (and its language configured).
# Measured on scans of real pages (bench/ocr.py): Arabic-script words 80.7% -> 89.4% found,
# Korean characters 89.0% -> 92.5%, Chinese 95.5% -> 96.3%. Japanese read LESS with its script
# model (97.1% -> 93.2%: the Han-heavy model loses kana), so jpn stays.
# Arabic itself reads WORSE with the script model than with ara (scans of Arabic, not Persian,
# pages, bench/ocr.py: words found 74.0% with the model and eng, 85.2% with ara and eng, 87.4%
# with ara alone; Persian 91.5% with the model, 82.7% with ara): a page the model reads as
# Arabic (by the letters only Arabic writes) is read again with ara, with eng only where more
# than LATIN_BESIDE_ARABIC of its letters are Latin.
SCRIPT_MODELS = {"kor": "Hangul", "ara": "Arabic", "chi_sim": "HanS"}
LATIN_BESIDE_ARABIC = 0.2
# The resolutions a script is read at, as multiples of extract.ocr_dpi (None: the scan's own,
# when it has one). Where there are several, the reading with the most letters Tesseract is sure
# of is kept. Measured on 200-dpi scans (bench/ocr.py): Arabic and Chinese read best as scanned
# (upsampled to 300 dpi Arabic lost words, Chinese 0.4 points of its characters); Korean finds
# whole lines at one resolution that it loses at another, which one depending on the page; the
# others read as well or better at 300.
KOREAN = (None, 1, 4 / 3)
RESOLUTIONS = {"Arabic": (None,), "Han": (None,), "Korean": KOREAN, "Hangul": KOREAN}
# OSD's "Latin" with less confidence than this was, on every page measured, a page of another
# script dense with Latin (a Japanese manual's code examples, a Chinese FAQ): such a page is
# also read with each other script's packs, and the surest reading kept (reading it once with
# every pack loaded found less, and slowly). Latin pages scored 1.4 and up.
UNSURE_LATIN = 1.0
# Tesseract's own threads would fight the other workers' processes for the cores.
TESSERACT_ENV = {**os.environ, "OMP_THREAD_LIMIT": "1"}


@functools.cache
def tessdata() -> str | None:
    """The folder of Tesseract's language files, or None when Tesseract is not installed."""
    env = os.environ.get("TESSDATA_PREFIX")
    if env and os.path.isdir(env) and shutil.which("tesseract"):
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
            "(install tesseract-ocr and its language packs: `make ocr`, or e.g. `apt-get install "
            "tesseract-ocr tesseract-ocr-osd tesseract-ocr-ara tesseract-ocr-chi-sim ...`)"
        )
    missing = [lang for lang in [*languages, "osd"] if lang not in have]
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


def tesseract(image: bytes, args: list[str], timeout: float) -> str:
    """Tesseract's output for a PNG given on its stdin ("" when it fails on the image)."""
    done = subprocess.run(["tesseract", "stdin", "stdout", *args], input=image,
                          capture_output=True, timeout=timeout, env=TESSERACT_ENV)  # fmt: skip
    return done.stdout.decode("utf-8", "replace") if done.returncode == 0 else ""


def orientation(image: bytes, timeout: float) -> tuple[str | None, int, float]:
    """(script, degrees to turn the page clockwise, confidence in the script) by OSD; (None, 0,
    0) when it cannot tell (too little text, no osd data)."""
    if "osd" not in available_languages():
        return None, 0, 0.0
    found = dict(
        line.split(":", 1) for line in tesseract(image, ["--psm", "0", "-l", "osd"], timeout)
        .splitlines() if ":" in line
    )  # fmt: skip
    try:
        sure = float(found.get("Script confidence", "0"))
        return found["Script"].strip(), int(found.get("Rotate", "0")), sure
    except (KeyError, ValueError):
        return None, 0, 0.0


def packs_for(script: str | None, languages: list[str]) -> list[str]:
    """The configured packs that read ``script`` (all configured ones when OSD could not tell)."""
    have = available_languages()
    usable = [lang for lang in languages if lang in have] or sorted(have - {"osd"})[:1]
    chosen = [lang for lang in SCRIPT_LANGUAGES.get(script or "", ()) if lang in usable]
    return [SCRIPT_MODELS[lang] if SCRIPT_MODELS.get(lang) in have else lang
            for lang in chosen or usable]  # fmt: skip


def read_page(page, languages: list[str], dpi: int, timeout: float) -> tuple[dict, list[dict]]:
    """The page read by Tesseract: (a text dict shaped like MuPDF's, for the layout code; the
    words with their boxes in page points)."""
    image, size = render(page, dpi)
    script, turn, sure = orientation(image, timeout)
    turn %= 360
    packs = packs_for(script, languages)
    native = scan_resolution(page)
    tries = []  # (packs, resolution), the first the usual one
    for factor in RESOLUTIONS.get(script or "", (1,)):
        at = (native or dpi) if factor is None else round(dpi * factor)
        if (packs, at) not in tries:
            tries.append((packs, at))
    if script == "Latin" and sure < UNSURE_LATIN:
        for other in ("Han", "Japanese", "Korean", "Arabic"):
            if (also := packs_for(other, languages)) != packs and (also, dpi) not in tries:
                tries.append((also, dpi))
    best = None
    for these, at in tries:
        shown, shape = (image, size) if (at, turn) == (dpi, 0) else render(page, at, turn)
        words = read(shown, these, at, timeout)
        if best is None or sure_letters(words) > sure_letters(best[0]):
            best = (words, shape, at)
    found, size, at = best
    text = " ".join(w["text"] for w in found)
    if "Arabic" in packs and persian_or_arabic(text) == "ar" and "ara" in available_languages():
        # Arabic, not Persian: the ara pack reads it better than the script model (kept for
        # Persian and Urdu, which it reads better); alone, unless the page is dense in Latin.
        shown = image if (at, turn) == (dpi, 0) else render(page, at, turn)[0]
        latin = script_counts(text)["latin"] / max(1, sum(c.isalpha() for c in text))
        found = read(shown, ["ara", "eng"] if latin > LATIN_BESIDE_ARABIC else ["ara"], at, timeout)
    scale = 72 / at
    words = [w | {"box": upright_box(w["box"], turn, size, scale)} for w in found]
    boxes = [{"text": fold(w["text"]), **dict(zip(("x0", "y0", "x1", "y1"), w["box"]))}
             for w in words]  # fmt: skip
    return text_dict(words), boxes


def render(page, dpi: int, turn: int = 0) -> tuple[bytes, tuple[int, int]]:
    """The page in grey at ``dpi`` as a PNG, turned ``turn`` degrees clockwise; and its size in
    pixels before the turn."""
    import numpy as np
    import pymupdf

    from docgen.extract.images import png_bytes

    pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY, alpha=False)
    pixels = np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.stride)[:, : pix.width]
    return png_bytes(np.rot90(pixels, -(turn // 90))), (pix.width, pix.height)


def scan_resolution(page) -> int | None:
    """Pixels per inch of the largest picture on the page (a scan's own resolution)."""
    pictures = [i for i in page.get_image_info() if i.get("width") and i["bbox"][2] > i["bbox"][0]]
    if not pictures:
        return None
    largest = max(pictures, key=lambda i: i["width"] * i["height"])
    return round(largest["width"] / ((largest["bbox"][2] - largest["bbox"][0]) / 72))


def read(image: bytes, packs: list[str], dpi: int, timeout: float) -> list[dict]:
    args = ["-l", "+".join(packs), "--psm", "3", "--dpi", str(dpi),
            "-c", "preserve_interword_spaces=1", "tsv"]  # fmt: skip
    return tsv_words(tesseract(image, args, timeout))


def sure_letters(words: list[dict]) -> int:
    """The letters of a reading in words Tesseract is sure of (confidence 50 or more of 100):
    what a better reading of the same page has more of (garbage is symbols, or unsure)."""
    return sum(sum(c.isalpha() for c in w["text"]) for w in words if w["conf"] >= 50)


def upright_box(box, degrees: int, size: tuple[int, int], scale: float) -> tuple:
    """A box found on the turned image, back on the page as rendered, in points."""
    x0, y0, x1, y1 = box
    w, h = size
    turn = degrees % 360
    if turn == 90:  # the image was turned clockwise: (x, y) on it is (y, h - x) on the page
        x0, y0, x1, y1 = y0, h - x1, y1, h - x0
    elif turn == 180:
        x0, y0, x1, y1 = w - x1, h - y1, w - x0, h - y0
    elif turn == 270:
        x0, y0, x1, y1 = w - y1, x0, w - y0, x1
    return (x0 * scale, y0 * scale, x1 * scale, y1 * scale)


def tsv_words(tsv: str) -> list[dict]:
    """Tesseract's words (level 5 rows) with their line and box in image pixels."""
    words = []
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) != 12 or cols[0] != "5" or not cols[11].strip():
            continue
        left, top, width, height = (int(c) for c in cols[6:10])
        words.append({"line": tuple(int(c) for c in cols[1:5]), "text": cols[11].strip(),
                      "box": (left, top, left + width, top + height),
                      "conf": max(0.0, float(cols[10]))})  # fmt: skip
    return words


def text_dict(words: list[dict]) -> dict:
    """Words grouped into Tesseract's lines, as MuPDF's ``dict``: one block per line and one span
    holding the line's text in reading order (``logical``: no reordering of RTL lines later)."""
    from docgen.extract.layout import join

    lines: dict[tuple, list[dict]] = {}
    for w in words:
        lines.setdefault(w["line"], []).append(w)
    blocks = []
    for members in lines.values():
        boxes = [w["box"] for w in members]
        bbox = (min(b[0] for b in boxes), min(b[1] for b in boxes),
                max(b[2] for b in boxes), max(b[3] for b in boxes))  # fmt: skip
        size = round(max(b[3] - b[1] for b in boxes), 1)  # the line's height, in points
        text = join([{"text": w["text"], "bbox": w["box"], "size": size} for w in members])
        span = {"text": text, "size": size, "flags": 0, "font": "OCR", "bbox": bbox}
        line = {"bbox": bbox, "dir": (1.0, 0.0), "spans": [span], "logical": text}
        blocks.append({"type": 0, "bbox": bbox, "lines": [line]})
    return {"blocks": blocks}
