"""`docgen report` (stats and plots) and `docgen preview` (checked in headless Chromium)."""

import json
import shutil
import subprocess

import pytest
from PIL import Image, ImageStat
from test_validate import good_out  # noqa: F401 - the shared sharded output

from docgen.cli import main

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def test_report_counts_match_the_manifest_and_plots_are_drawn(good_out, tmp_path, capsys):  # noqa: F811
    work = good_out.parent / "work"
    assert main(["report", str(work), "--out", str(tmp_path / "report")]) == 0
    stats = json.loads((tmp_path / "report" / "stats.json").read_text("utf-8"))
    manifest = json.loads((work / "manifest.json").read_text("utf-8"))
    filt = manifest["stages"]["filter"]
    assert stats["pairs_judged"] == filt["pairs"] and stats["pairs_kept"] == filt["kept"]
    assert stats["dropped"] == filt["dropped"]
    assert stats["documents"] == 3 and set(stats["pair_languages"]) == {"en", "ar", "ko"}
    per_doc = stats["pairs_per_document"]
    assert sum(int(k) * v for k, v in per_doc.items()) == stats["pairs_kept"]
    assert stats["question_chars"]["count"] == stats["pairs_kept"]
    for name in stats["plots"]:
        with Image.open(tmp_path / "report" / name) as im:
            assert im.format == "PNG" and im.size[0] >= 600
            assert ImageStat.Stat(im.convert("L")).stddev[0] > 10  # something drawn
    assert "pairs kept" in capsys.readouterr().out


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(not chromium(), reason="Chromium not installed (`make test` installs it)")
def test_preview_loads_in_headless_chromium_with_its_images(good_out, tmp_path):  # noqa: F811
    page = tmp_path / "preview.html"
    assert main(["preview", str(good_out), "--html", str(page), "--rows", "3"]) == 0
    text = page.read_text("utf-8")
    assert 'src="http' not in text and text.count("<img") == 4  # offline; 3 rows, 4 pages
    assert "0027-report-ar.pdf" in text and "language ar" in text and "language ko" in text
    profile = ["--user-data-dir=" + str(tmp_path / "profile")]
    dom = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, *profile, "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    assert 'data-images="4"' in dom and 'data-images-loaded="4"' in dom
    shot = tmp_path / "shot.png"
    subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, *profile, "--window-size=1200,1600",
         f"--screenshot={shot}", page.as_uri()],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    with Image.open(shot) as im:
        gray = im.convert("L")
        assert ImageStat.Stat(gray).stddev[0] > 20  # not a blank page
        assert len(gray.getcolors(maxcolors=1 << 16) or range(1 << 16)) > 50
