"""docgen: document-VQA training data from PDFs, in the shape of Docmatix."""

__version__ = "0.1.0"
