"""The shard stage: the kept pairs and their page images as Parquet shards (``stage.write_shards``;
rows built by ``rows`` and ``chat``, files cut by ``files``) and the dataset card (``card``,
``card_sections``); then what a user of the output runs: ``validate``, ``preview``, ``push``."""
