"""The per-model ask pool: bounded concurrency, results by key, errors kept per key."""

from __future__ import annotations

import threading
import time

import pytest

from stackeval.scheduler import AskPool


def test_work_overlaps_up_to_the_bound_and_results_come_back_by_key():
    running, peak, lock = 0, 0, threading.Lock()

    def work(i):
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return i * i

    pool = AskPool(lambda model: 3)
    for i in range(9):
        pool.submit("m", ("m", i), lambda i=i: work(i), tokens=lambda r: 1)
    assert [pool.result(("m", i)) for i in range(9)] == [i * i for i in range(9)]
    assert peak == 3
    assert pool.progress["m"].done == 9 and pool.progress["m"].output_tokens == 9
    pool.close()


def test_an_error_belongs_to_its_own_key():
    pool = AskPool(lambda model: 2)

    def boom():
        raise RuntimeError("server gone")

    pool.submit("m", "bad", boom)
    pool.submit("m", "good", lambda: "ok")
    assert pool.result("good") == "ok"
    with pytest.raises(RuntimeError, match="server gone"):
        pool.result("bad")
    # failed work is finished too, so the progress line does not wait for it
    assert pool.progress["m"].done == 2 and pool.progress["m"].busy_since is None
    pool.close()


def test_models_have_separate_bounds_and_close_drops_pending_work():
    started = []
    gate = threading.Event()
    pool = AskPool(lambda model: 1)

    def work(tag):
        started.append(tag)
        gate.wait(5)
        return tag

    for i in range(3):
        pool.submit("a", ("a", i), lambda i=i: work(("a", i)))
    pool.submit("b", ("b", 0), lambda: work(("b", 0)))
    time.sleep(0.1)
    assert sorted(started) == [("a", 0), ("b", 0)]  # one at a time per model, models apart
    pool.close()
    gate.set()
    assert pool.result(("a", 0)) == ("a", 0)
    assert pool.progress["a"].submitted == 3
    pool.submit("a", ("a", 9), lambda: "late")  # closed: ignored
    assert ("a", 9) not in pool


def test_progress_line_says_model_count_rate_and_time_left(monkeypatch):
    import stackeval.scheduler as sched

    now = [1000.0]
    monkeypatch.setattr(sched.time, "monotonic", lambda: now[0])
    progress = sched.ModelProgress(submitted=100, busy_since=now[0])
    assert "starting" in progress.line("m")
    now[0] += 60
    progress.done, progress.output_tokens = 25, 3000
    line = progress.line("qwen")
    assert line.startswith("qwen: 25/100 answered, 50.0 output tok/s, 1m00s asking, ~3m00s left")


def test_progress_clock_runs_only_while_work_is_pending():
    """Between a model's coding and its Q&A the perf tests submit nothing: that idle time must
    count neither in the rate nor in the time left."""
    pool = AskPool(lambda model: 2)
    for i in range(2):
        pool.submit("m", ("coding", i), lambda: time.sleep(0.1) or "x", tokens=lambda r: 10)
    for i in range(2):
        pool.result(("coding", i))
    progress = pool.progress["m"]
    busy = progress.elapsed
    assert progress.busy_since is None and busy >= 0.1
    time.sleep(0.5)  # the perf tests run; nothing is submitted
    assert progress.elapsed == busy
    gate = threading.Event()
    pool.submit("m", ("qa", 0), lambda: gate.wait(5) and "y", tokens=lambda r: 5)
    time.sleep(0.05)
    assert progress.line("m").startswith("m: 2/3 answered")
    assert progress.elapsed < busy + 0.4  # counting the idle half second would make it >= 0.55
    gate.set()
    assert pool.result(("qa", 0)) == "y"
    assert progress.done == 3 and progress.output_tokens == 25 and progress.busy_since is None
    pool.close()
