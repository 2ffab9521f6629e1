"""docgen: document-VQA training data from PDFs, in the shape of Docmatix."""

from pathlib import Path

__version__ = "0.1.0"


def shipped(folder: str) -> Path:
    """A folder of files that ships with docgen (``prompts``, ``pipelines``): inside the installed
    package (pyproject.toml maps them there), or at the top of the repository it runs from."""
    inside = Path(__file__).parent / folder
    return inside if inside.is_dir() else Path(__file__).resolve().parent.parent / folder
