"""The extract stage: PDFs to page records. Steps: ``stage.plan`` (the inputs found, read and put
in partitions), then ``stage.extract_partition`` per partition (``WORK/pages/``,
``WORK/documents/``), each document read by ``document`` in an isolated child process
(``isolate``): its text layer read in reading order (``layout``, ``bidi``), its ruled tables
(``tables``), OCR where there is none (``ocr``), the page image (``images``); ``sources`` reads
files, folders, tar shards and Parquet columns."""
