"""A run: the stages composed (``pipeline``) and what their ends make of it (``outcome``), their
tasks handed to the executor (:mod:`docgen.core.executor`) on a Dask cluster (``orchestrate``),
the LLM's workers and budget (``llm_workers``); what the run says afterwards (``summary``,
``report``, ``reasons``). Imports the stages; none imports it."""
