"""Seeded, varied perf prompts, so llama.cpp's prompt cache cannot make TTFT look ~40x better.

Every prompt starts with a random per-request nonce in the system message, the first thing a
chat template renders after its own header, so at most that header (a few tokens) can come from
the cache; ``cached_tokens`` is recorded anyway.
The same ``seed`` gives the same prompts on every run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# Plain words that tokenize to about one token each in small-model vocabularies.
_WORDS = (
    "river market garden stone paper window letter bridge forest island engine circle winter "
    "summer morning evening village harbor station kitchen library teacher doctor farmer "
    "painter sailor student mountain valley desert ocean cloud thunder candle mirror ladder "
    "basket bottle blanket pocket button castle tunnel meadow orchard pepper copper silver "
    "golden yellow purple orange simple gentle bright quiet heavy narrow shallow ancient modern "
    "careful patient curious friendly busy lazy early late often rarely always never quickly "
    "slowly carries builds finds keeps opens closes paints writes reads counts watches follows "
    "brings sends grows moves turns holds"
).split()
_TOPICS = (
    "how bread is baked", "why the sky is blue", "how bees make honey", "what a compiler does",
    "how tides work", "why leaves change colour", "how a bicycle stays upright",
    "what causes rain", "how maps are drawn", "why cats purr", "how a lock works",
    "what a database index is", "how trains brake", "why ice floats", "how clocks keep time",
    "what makes a good password",
)
SCENARIO_WORDS = {"short": 0, "long": 300}
"""Filler words per scenario: ``short`` is a one-line question (~65 prompt tokens with the chat
template, SmolLM2's tokenizer), ``long`` adds a ~300-word document to summarize (~405)."""


@dataclass(frozen=True)
class Prompt:
    """One perf request's input, as chat messages and as a completion prompt."""

    id: str
    system: str
    user: str

    @property
    def messages(self) -> list[dict[str, str]]:
        """Chat form."""
        return [{"role": "system", "content": self.system}, {"role": "user", "content": self.user}]

    @property
    def text(self) -> str:
        """Completion form, for base models without a chat template."""
        return f"{self.system}\n\n{self.user}\n\nAnswer:"


class PromptFactory:
    """Deterministic stream of distinct prompts for one scenario (``short`` or ``long``)."""

    def __init__(self, scenario: str = "short", seed: int = 1234, filler_words: int | None = None,
                 tag: str = "") -> None:
        if filler_words is None and scenario not in SCENARIO_WORDS:
            raise ValueError(f"unknown perf scenario {scenario!r}: {', '.join(SCENARIO_WORDS)}")
        self.scenario = scenario
        self.seed = seed
        self.filler_words = SCENARIO_WORDS[scenario] if filler_words is None else filler_words
        self.tag = tag  # keeps prompt ids of different tests apart under the same seed
        self.issued = 0

    def prompt(self, index: int) -> Prompt:
        """The ``index``-th prompt: the same for the same seed, scenario, tag and index."""
        rng = random.Random(f"{self.seed}:{self.scenario}:{self.tag}:{index}")
        nonce = f"{rng.getrandbits(32):08x}"
        pid = f"{self.tag or self.scenario}-{index}-{nonce}"
        # The nonce comes first: a shared "Request ..." prefix would itself be cached.
        system = f"{nonce} ({pid}). You are a concise assistant; answer in plain prose."
        topic = rng.choice(_TOPICS)
        if not self.filler_words:
            detail = " ".join(rng.choice(_WORDS) for _ in range(6))
            return Prompt(pid, system, f"Explain {topic}, mentioning: {detail}.")
        sentences, words = [], 0
        while words < self.filler_words:
            n = rng.randint(8, 16)
            sentences.append(" ".join(rng.choice(_WORDS) for _ in range(n)).capitalize() + ".")
            words += n
        doc = " ".join(sentences)
        return Prompt(pid, system, f"Document:\n{doc}\n\nSummarize the document, then explain "
                                   f"{topic}.")

    def take(self, n: int) -> list[Prompt]:
        """The next ``n`` prompts of the stream."""
        out = [self.prompt(self.issued + i) for i in range(n)]
        self.issued += n
        return out
