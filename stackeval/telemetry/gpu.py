"""NVIDIA GPU readings and inventory via NVML (package ``nvidia-ml-py``)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from stackeval.telemetry.source import SourceUnavailable

log = logging.getLogger(__name__)

_MIB = 1024 * 1024

# Errors after which a field is never asked for again on that GPU.
_PERMANENT = ("NVMLError_NotSupported", "NVMLError_FunctionNotFound", "NVMLError_NoPermission")


def _text(value: Any) -> str:
    # Older nvidia-ml-py releases return bytes.
    return value.decode() if isinstance(value, bytes) else str(value)


def _why(exc: Exception) -> str:
    hints = {
        "NVMLError_LibraryNotFound": "no NVIDIA driver installed (libnvidia-ml not found)",
        "NVMLError_DriverNotLoaded": "NVIDIA driver not loaded",
        "NVMLError_NoPermission": "no permission to query the GPU",
    }
    name = type(exc).__name__
    return f"{hints.get(name, str(exc))} ({name})"


def _nvml() -> Any:
    """Import pynvml and init NVML, or raise SourceUnavailable saying why not."""
    try:
        import pynvml
    except ImportError as exc:
        raise SourceUnavailable("nvidia-ml-py is not installed") from exc
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        raise SourceUnavailable(_why(exc)) from exc
    return pynvml


def _readers(nv: Any) -> dict[str, Callable[[Any], dict[str, float]]]:
    """Per-GPU readers, each named for the NVML call it makes."""

    def util(h: Any) -> dict[str, float]:
        u = nv.nvmlDeviceGetUtilizationRates(h)
        return {"util_percent": float(u.gpu), "mem_util_percent": float(u.memory)}

    def memory(h: Any) -> dict[str, float]:
        m = nv.nvmlDeviceGetMemoryInfo(h)
        return {"mem_used_mib": m.used / _MIB, "mem_total_mib": m.total / _MIB}

    def processes(h: Any) -> dict[str, float]:
        # usedGpuMemory is None where the driver cannot attribute memory (e.g. some containers).
        # Pids are as NVML sees them, i.e. host pids when running in a container.
        return {
            f"pid{p.pid}.mem_mib": p.usedGpuMemory / _MIB
            for p in nv.nvmlDeviceGetComputeRunningProcesses(h)
            if p.usedGpuMemory is not None
        }

    return {
        "utilization": util,
        "memory": memory,
        "power": lambda h: {"power_w": nv.nvmlDeviceGetPowerUsage(h) / 1000.0},
        "temperature": lambda h: {
            "temp_c": float(nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU))
        },
        "sm_clock": lambda h: {
            "sm_clock_mhz": float(nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_SM))
        },
        # Millijoules since the driver loaded; Trace turns deltas into joules.
        "energy": lambda h: {"energy_mj": float(nv.nvmlDeviceGetTotalEnergyConsumption(h))},
        "processes": processes,
    }


class GpuSource:
    """Per GPU ``gpu<i>.*``: utilization, memory, power, temperature, SM clock, energy counter,
    per-process memory. Fields a GPU does not support are dropped after the first try."""

    name = "gpu"

    def __init__(self) -> None:
        self._nv: Any = None
        self._handles: list[Any] = []
        self._readers: dict[str, Callable[[Any], dict[str, float]]] = {}
        self._skip: set[tuple[int, str]] = set()
        self.unsupported: dict[str, str] = {}
        """``"gpu<i>.<reader>" -> NVML error name`` for fields this GPU does not offer."""

    def open(self) -> None:
        """Init NVML and get a handle per GPU."""
        nv = _nvml()
        try:
            count = nv.nvmlDeviceGetCount()
            self._handles = [nv.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except nv.NVMLError as exc:
            nv.nvmlShutdown()
            raise SourceUnavailable(_why(exc)) from exc
        if not self._handles:
            nv.nvmlShutdown()
            raise SourceUnavailable("NVML found no GPU")
        self._nv = nv
        self._readers = _readers(nv)

    def read(self) -> dict[str, float]:
        """Take one reading."""
        out: dict[str, float] = {}
        for i, h in enumerate(self._handles):
            for key, reader in self._readers.items():
                if (i, key) in self._skip:
                    continue
                try:
                    values = reader(h)
                except self._nv.NVMLError as exc:
                    self._failed(i, key, exc)
                    continue
                out.update({f"gpu{i}.{k}": v for k, v in values.items()})
        return out

    def close(self) -> None:
        """Shut NVML down."""
        if self._nv is not None:
            try:
                self._nv.nvmlShutdown()
            except self._nv.NVMLError:
                log.debug("nvmlShutdown failed", exc_info=True)
            self._nv = None
        self._handles = []

    def _failed(self, i: int, key: str, exc: Exception) -> None:
        name = type(exc).__name__
        if name in _PERMANENT:
            self._skip.add((i, key))
            self.unsupported[f"gpu{i}.{key}"] = name
            log.debug("gpu%d %s not available: %s", i, key, name)
        else:
            log.debug("gpu%d %s read failed: %s", i, key, name)  # transient; retried next tick


def gpu_info() -> list[dict[str, Any]]:
    """Name, memory, driver and CUDA version of each NVIDIA GPU; ``[]`` when there is none."""
    try:
        nv = _nvml()
    except SourceUnavailable as exc:
        log.info("no NVIDIA GPU info: %s", exc)
        return []
    try:
        driver = _text(nv.nvmlSystemGetDriverVersion())
        cuda_int = nv.nvmlSystemGetCudaDriverVersion()  # e.g. 12040
        cuda = f"{cuda_int // 1000}.{cuda_int % 1000 // 10}"
        gpus = []
        for i in range(nv.nvmlDeviceGetCount()):
            h = nv.nvmlDeviceGetHandleByIndex(i)
            info: dict[str, Any] = {
                "index": i,
                "name": _text(nv.nvmlDeviceGetName(h)),
                "memory_total_mib": nv.nvmlDeviceGetMemoryInfo(h).total / _MIB,
                "driver_version": driver,
                "cuda_version": cuda,
            }
            # Optional extras, absent on some boards.
            with contextlib.suppress(nv.NVMLError):
                info["uuid"] = _text(nv.nvmlDeviceGetUUID(h))
            with contextlib.suppress(nv.NVMLError):
                info["power_limit_w"] = nv.nvmlDeviceGetPowerManagementLimit(h) / 1000.0
            gpus.append(info)
        return gpus
    except nv.NVMLError as exc:
        log.info("no NVIDIA GPU info: %s", _why(exc))
        return []
    finally:
        nv.nvmlShutdown()
