import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from docgen.samples import make_corpus  # noqa: E402


@pytest.fixture(scope="session")
def samples(tmp_path_factory) -> Path:
    """The default sample corpus (48 documents, 8 languages), made once per test session."""
    out = tmp_path_factory.mktemp("samples")
    make_corpus(out, progress=False)
    return out


@pytest.fixture
def few_samples(samples, tmp_path) -> Path:
    """A folder with three sample PDFs (one of them multi-page)."""
    folder = tmp_path / "pdfs"
    folder.mkdir()
    for name in ("0000-invoice-en.pdf", "0027-report-ar.pdf", "0044-form-ko.pdf"):
        shutil.copy(samples / name, folder / name)
    return folder
