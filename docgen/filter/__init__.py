"""The filter stage: every pair kept or dropped with its reason. Steps: the partition rules
(``rules.filter_partition``, ``WORK/kept/``: grounding, decontamination, injection, language,
duplicates), then the passes of ``passes.REGISTRY`` over the view of kept joined with each pass's
file: the dataset pass (``dataset_pass``: near-duplicate pages and pairs across the dataset, in
steps of its own), the judge, the rater and the translator (LLM passes, ``llm_pass``)."""
