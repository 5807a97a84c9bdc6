"""A daemon thread that reads every source on a fixed-rate schedule and builds a Trace."""

from __future__ import annotations

import logging
import threading
import time
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import replace
from types import TracebackType
from typing import Self

from stackeval.errors import ConfigError
from stackeval.telemetry.containers import DockerSource
from stackeval.telemetry.gpu import GpuSource
from stackeval.telemetry.process import ProcessSource
from stackeval.telemetry.source import Source, SourceUnavailable
from stackeval.telemetry.system import SystemSource
from stackeval.telemetry.trace import NAN, TIME_COLUMNS, Mark, Trace

log = logging.getLogger(__name__)

MAX_READ_FAILURES = 10  # consecutive failed reads before a source is dropped


class Sampler:
    """Samples system, process, GPU and container readings at ``rate_hz`` in the background.

    ``with Sampler(pids=[server.pid]) as s: ...`` then ``s.trace``; or ``start()`` / ``stop()``.
    A source that cannot run is logged once at INFO and listed in ``Trace.unavailable``.
    ``baseline_s`` samples that long inside ``start()`` to measure idle GPU power;
    ``baseline_w`` gives it instead.
    """

    def __init__(
        self,
        rate_hz: float = 10.0,
        pids: Sequence[int] | Mapping[str, int] = (),
        containers: Sequence[str] = (),
        gpu: bool = True,
        *,
        per_core: bool = False,
        baseline_s: float = 0.0,
        baseline_w: float | Mapping[str, float] | None = None,
        docker_interval_s: float = 1.0,
        sources: Sequence[Source] = (),
    ) -> None:
        if not rate_hz > 0:
            raise ConfigError(f"telemetry rate_hz must be > 0, got {rate_hz!r}")
        self.rate_hz = rate_hz
        self.baseline_s = baseline_s
        self._baseline_arg = baseline_w
        self.sources: list[Source] = [SystemSource(per_core=per_core)]
        if pids:
            self.sources.append(ProcessSource(pids))
        if gpu:
            self.sources.append(GpuSource())
        if containers:
            self.sources.append(DockerSource(containers, interval_s=docker_interval_s))
        self.sources.extend(sources)
        self.unavailable: dict[str, str] = {}
        self.trace: Trace | None = None
        """The finished trace, set by :meth:`stop`."""
        self._active: list[Source] = []
        self._failures: dict[str, int] = {}
        self._columns: dict[str, int] = {c: i for i, c in enumerate(TIME_COLUMNS)}
        self._rows: list[array[float]] = []
        self._marks: list[Mark] = []
        self._baseline: float | Mapping[str, float] | None = None
        self._overruns = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Sampler:
        """Open the sources and start sampling; blocks for ``baseline_s`` if set."""
        if self._thread is not None:
            raise RuntimeError("Sampler already started")
        for src in self.sources:
            try:
                src.open()
            except SourceUnavailable as exc:
                self._unavailable(src, str(exc))
                continue
            except Exception as exc:
                log.warning("%s telemetry failed to open", src.name, exc_info=True)
                self._unavailable(src, f"open failed: {exc!r}")
                continue
            self._active.append(src)
        self._thread = threading.Thread(target=self._run, name="stackeval-sampler", daemon=True)
        self._thread.start()
        self._set_baseline()
        return self

    def mark(self, label: str) -> None:
        """Note an event (e.g. a test boundary) at the current time."""
        m = Mark(time.perf_counter(), time.time(), label)
        with self._lock:
            self._marks.append(m)

    def snapshot(self) -> Trace:
        """The trace so far, while sampling goes on."""
        with self._lock:
            ncols = len(self._columns)
            trace = Trace(
                columns=tuple(self._columns),
                rows=tuple(tuple(r) + (NAN,) * (ncols - len(r)) for r in self._rows),
                marks=tuple(self._marks),
                rate_hz=self.rate_hz,
                unavailable=dict(self.unavailable),
                overruns=self._overruns,
            )
            base = self._baseline
        if base is None:
            return trace
        if not isinstance(base, Mapping):
            base = dict.fromkeys(trace.gpus, float(base))
        return replace(trace, baseline_w=dict(base))

    def stop(self) -> Trace:
        """Stop sampling, close the sources and return the trace (the same one if called again)."""
        if self.trace is not None:
            return self.trace
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            if self._thread.is_alive():
                log.warning("telemetry sampler thread did not stop within 5 s (a source is stuck)")
        for src in self._active:
            try:
                src.close()
            except Exception:
                log.debug("closing %s telemetry failed", src.name, exc_info=True)
        self.trace = self.snapshot()
        return self.trace

    @property
    def native_thread_id(self) -> int | None:
        """OS id of the sampling thread, for measuring its own CPU cost."""
        return None if self._thread is None else self._thread.native_id

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _unavailable(self, src: Source, reason: str) -> None:
        log.info("%s telemetry unavailable: %s", src.name, reason)
        with self._lock:
            self.unavailable[src.name] = reason

    def _run(self) -> None:
        period = 1.0 / self.rate_hz
        t0 = time.perf_counter()
        tick = 1
        # Each tick is due at t0 + tick * period, so a slow read delays one sample rather than
        # shifting every later one (as sleep(period) would). The first sample comes one period
        # in, so CPU % deltas cover a full period.
        while not self._stop.wait(max(0.0, t0 + tick * period - time.perf_counter())):
            self._sample()
            behind = int((time.perf_counter() - t0) / period) - tick
            if behind > 0:
                with self._lock:
                    self._overruns += behind
            tick += 1 + max(behind, 0)

    def _sample(self) -> None:
        t, wall = time.perf_counter(), time.time()
        values: dict[str, float] = {}
        for src in list(self._active):
            try:
                values.update(src.read())
            except Exception as exc:  # noqa: BLE001 -- telemetry must never take the run down
                self._read_failed(src, exc)
            else:
                self._failures[src.name] = 0
        with self._lock:
            for key in values:
                if key not in self._columns:
                    self._columns[key] = len(self._columns)
            row = array("d", [t, wall]) + array("d", [NAN]) * (len(self._columns) - 2)
            for key, v in values.items():
                row[self._columns[key]] = v
            self._rows.append(row)

    def _read_failed(self, src: Source, exc: Exception) -> None:
        n = self._failures[src.name] = self._failures.get(src.name, 0) + 1
        if n == 1:
            log.warning("%s telemetry read failed", src.name, exc_info=exc)
        if n >= MAX_READ_FAILURES:
            self._active.remove(src)
            try:
                src.close()
            except Exception:
                log.debug("closing %s telemetry failed", src.name, exc_info=True)
            self._unavailable(src, f"dropped after {n} failed reads: {exc!r}")

    def _set_baseline(self) -> None:
        arg = self._baseline_arg
        if (
            arg is None
            and self.baseline_s > 0
            and any(isinstance(s, GpuSource) for s in self._active)
        ):
            time.sleep(self.baseline_s)
            self.mark("baseline_end")
            # Counter delta over time where the GPU has one: NVML's power reading is a ~1 s
            # average on some boards and instantaneous on others.
            arg = {g: e.mean_w for g, e in self.snapshot().energy().items() if e.mean_w is not None}
        with self._lock:
            self._baseline = arg
