"""Progress of long operations (model pulls and checks, model loads, ``allure generate``).

The library reports each step on the ``stackeval.progress`` logger at INFO. The CLI shows it
with its logging setup; the pytest plugin writes it to the real stderr (see
:mod:`stackeval.plugin.session`), so a pull or a model load shows while pytest captures the
output of the test that triggered it. Byte counts get a :class:`Meter`: a line every few
seconds where no progress bar can be drawn (pytest, CI logs).
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger("stackeval.progress")


def step(message: str, *args: object) -> None:
    """Report one step of a long operation."""
    log.info(message, *args)


class Meter:
    """``what: 45% (440/980 MB)`` lines, at most one per ``every_s`` seconds, and at the end."""

    def __init__(self, what: str, total: int, *, every_s: float = 5.0,
                 enabled: bool = True) -> None:
        self.what = what
        self.total = max(total, 1)
        self.every_s = every_s
        self.enabled = enabled
        self.done = 0
        self._next = time.monotonic() + every_s

    def update(self, n: int) -> None:
        """Count ``n`` more bytes."""
        self.done += n
        if self.enabled and time.monotonic() >= self._next and self.done < self.total:
            self._next = time.monotonic() + self.every_s
            self._line()

    def _line(self) -> None:
        step("%s: %d%% (%.0f/%.0f MB)", self.what, 100 * self.done // self.total,
             self.done / 1e6, self.total / 1e6)
