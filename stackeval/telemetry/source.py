"""The protocol every telemetry source follows, and how a source says it cannot run."""

from __future__ import annotations

from typing import Protocol

from stackeval.errors import StackEvalError


class SourceUnavailable(StackEvalError):
    """A telemetry source cannot run here (no driver, no daemon, no process); says why."""


class Source(Protocol):
    """One kind of reading taken on every sampler tick.

    ``open()`` does the I/O setup and raises :class:`SourceUnavailable` when the source cannot
    run; ``read()`` must be quick and return flat ``{"prefix.metric_unit": value}`` readings;
    a key missing from one read is recorded as a gap, not an error.
    """

    name: str

    def open(self) -> None:
        """Acquire handles and prime delta counters."""
        ...

    def read(self) -> dict[str, float]:
        """Take one reading."""
        ...

    def close(self) -> None:
        """Release handles; never raises."""
        ...
