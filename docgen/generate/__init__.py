"""The generate stage: page records to question–answer pairs (``WORK/qa/``). Step:
``stage.generate_parts`` over a group of partitions, asking a backend (``backends``: the model-free
``rules``, an OpenAI-compatible server, vLLM's engine) about the pages worth asking about
(``triage``); chats from the prompt sets (``prompting``), replies read and checked (``replies``),
every answer kept in a cache (``gencache``); ``facts`` finds what a page states, for the rules."""
