"""SIGTERM handled like Ctrl-C, so whatever a run started is stopped and its records are kept.

Python's default for SIGTERM (what CI runners, ``timeout`` and ``kill`` send) ends the process
at once: no ``finally``, no fixture teardown, no session end. The model servers and the gateway
run in sessions of their own (a Ctrl-C in the terminal must not reach them before the harness
has finished with them), so they would keep running. :func:`interrupt_on` turns the signals it
is given into a :class:`Terminated` exception in the main thread instead, which pytest and
``with stack:`` treat like Ctrl-C. Only the first signal raises: a second one while everything
is being stopped is noted and ignored, so the cleanup itself is not cut short.

Once everything is stopped, :meth:`Interrupts.exit_if_threads_linger` ends a process that a
busy worker thread would otherwise keep alive (Python waits for non-daemon threads at exit,
e.g. a request blocked until its 120 s read timeout).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)


class Terminated(KeyboardInterrupt):
    """A termination signal arrived; raised once, in the main thread."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


class Interrupts:
    """The installed handler: whether it fired, and how to put the previous handlers back."""

    def __init__(self) -> None:
        self.fired: int | None = None  # the signal that arrived first
        self.stopping = False  # set once the cleanup has begun: signals are noted, not raised
        self._previous: dict[int, Any] = {}
        self._handler: Callable[[int, FrameType | None], None] | None = None

    def hold(self) -> None:
        """From now on a signal is noted and ignored: what is left to do is the stopping."""
        self.stopping = True

    def restore(self) -> None:
        """Put the previous handlers back (where ours is still the one installed)."""
        for signum, old in self._previous.items():
            if signal.getsignal(signum) is self._handler:
                signal.signal(signum, old if old is not None else signal.SIG_DFL)

    def exit_if_threads_linger(self, status: int, grace_s: float = 10.0) -> None:
        """After a signal: give other non-daemon threads ``grace_s`` to end, then end the
        process with ``status`` rather than wait for them (what was written is on disk)."""
        if self.fired is None:
            return
        me = threading.current_thread()
        deadline = time.monotonic() + grace_s
        for t in threading.enumerate():
            if t is not me and not t.daemon:
                t.join(max(0.0, deadline - time.monotonic()))
        busy = [t.name for t in threading.enumerate() if t is not me and not t.daemon
                and t.is_alive()]
        if not busy:
            return
        print(f"stackeval: {len(busy)} thread(s) still busy {grace_s:.0f} s after "
              f"{signal.Signals(self.fired).name} ({', '.join(busy[:3])}); exiting without them",
              file=sys.stderr, flush=True)
        sys.stdout.flush()
        logging.shutdown()
        os._exit(status)


def interrupt_on(signals: Iterable[int] = (signal.SIGTERM,),
                 on_signal: Callable[[int], None] | None = None) -> Interrupts:
    """Raise :class:`Terminated` on the first of ``signals``; ``restore()`` the result to put
    the previous handlers back. ``on_signal(signum)`` runs first (e.g. to pass the signal on
    to worker processes). Does nothing outside the main thread, where handlers cannot be set."""
    state = Interrupts()
    if threading.current_thread() is not threading.main_thread():
        return state

    def handler(signum: int, frame: FrameType | None) -> None:
        first = state.fired is None
        if first:
            state.fired = signum
            if on_signal is not None:
                try:
                    on_signal(signum)
                except Exception:  # noqa: BLE001 -- the stop must go on whatever this does
                    log.warning("passing on %s failed", signal.Signals(signum).name,
                                exc_info=True)
        if not first or state.stopping:
            print(f"stackeval: {signal.Signals(signum).name}: still stopping what this run "
                  "started", file=sys.stderr, flush=True)
            return
        raise Terminated(signum)

    state._handler = handler
    for signum in signals:
        state._previous[signum] = signal.signal(signum, handler)
    return state


def wait_forever() -> None:
    """Sleep until a signal handler raises (``stackeval serve`` after the stack is up)."""
    while True:
        signal.pause()
