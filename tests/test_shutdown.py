"""SIGTERM raised as an interrupt once; later signals, and any during the cleanup, are noted."""

from __future__ import annotations

import os
import signal

import pytest

from stackeval import shutdown


def test_first_sigterm_raises_later_ones_are_noted(capsys):
    passed_on: list[int] = []
    interrupts = shutdown.interrupt_on((signal.SIGTERM,), passed_on.append)
    try:
        with pytest.raises(shutdown.Terminated, match="stopped by SIGTERM") as info:
            os.kill(os.getpid(), signal.SIGTERM)
            signal.sigtimedwait([], 0.1)  # let the handler run
        assert isinstance(info.value, KeyboardInterrupt)  # pytest and `with` treat it as Ctrl-C
        os.kill(os.getpid(), signal.SIGTERM)  # while stopping: no second exception
        assert interrupts.fired == signal.SIGTERM and passed_on == [signal.SIGTERM]
        assert "still stopping" in capsys.readouterr().err
    finally:
        interrupts.restore()
    assert signal.getsignal(signal.SIGTERM) is not None
    assert signal.getsignal(signal.SIGTERM) != interrupts._handler


def test_a_signal_during_the_cleanup_does_not_cut_it_short(capsys):
    interrupts = shutdown.interrupt_on((signal.SIGTERM,))
    try:
        interrupts.hold()
        os.kill(os.getpid(), signal.SIGTERM)  # no exception: the stopping goes on
        assert interrupts.fired == signal.SIGTERM
    finally:
        interrupts.restore()
    interrupts.exit_if_threads_linger(0, grace_s=0.1)  # no other thread: returns
