"""The sampling part of a request body, built in one place for everything that asks a model.

The Q&A and coding asks, the perf load, the LLM judge, Open WebUI's chat settings and the
Continue config all take max_tokens, temperature and seed from a :class:`Sampling`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Sampling:
    """What a request asks of the sampler: an output length, a temperature and a seed."""

    max_tokens: int
    temperature: float = 0.0
    seed: int | None = None  # None: none sent, the server draws its own
    fixed_length: bool = False  # ignore EOS and ask for min_tokens = max_tokens (perf)

    def body(self, shift: int = 0) -> dict[str, Any]:
        """The body's sampling keys; ``shift`` moves the seed (a repeat, a perf request's index)."""
        body: dict[str, Any] = {"max_tokens": self.max_tokens, "temperature": self.temperature}
        if self.seed is not None:
            body["seed"] = self.seed + shift
        if self.fixed_length:
            # llama.cpp and vLLM honour ignore_eos; vLLM also min_tokens; others ignore both,
            # and PerfRecord.length_ok says whether the length held.
            body.update(ignore_eos=True, min_tokens=self.max_tokens)
        return body

    def continue_options(self) -> dict[str, Any]:
        """The same settings under the Continue config's names (``defaultCompletionOptions``)."""
        return {"temperature": self.temperature, "maxTokens": self.max_tokens}
