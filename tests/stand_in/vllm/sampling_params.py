"""Stand-ins for ``vllm.sampling_params``: the fields docgen sets, kept as given."""

from dataclasses import dataclass


@dataclass
class StructuredOutputsParams:
    json: dict | None = None


@dataclass
class SamplingParams:
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 16
    seed: int | None = None
    structured_outputs: StructuredOutputsParams | None = None
