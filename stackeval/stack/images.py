"""Local images for the compose profile in CI, built without any registry.

``debootstrap`` makes a Debian rootfs that ``docker import`` turns into the base image; on top of
it an inference image (llama.cpp's server via xllamacpp, smollm2:135m baked in) and a gateway
image (LiteLLM proxy). A second debootstrap rootfs, with ImageMagick, becomes the code
sandbox's image (``DockerSandbox``'s default, ``stackeval-sandbox:latest``). Wheels are downloaded
on the host, pinned to this venv's versions, and installed inside with ``--no-index``. A build is
skipped when the image already exists with the same inputs (their hash is the
``stackeval.inputs`` label), so CI can call this every time.

    python -m stackeval.stack.images [--force]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackeval.errors import StackError
from stackeval.sandbox.container import DEFAULT_IMAGE as SANDBOX_IMAGE
from stackeval.stack import runtime

log = logging.getLogger(__name__)

STACK_DIR = Path(__file__).resolve().parents[2] / "stack"
BASE_IMAGE = "stackeval/debian-base:bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "libgomp1", "ca-certificates")
# What model-written code may use: HumanEval needs python3, the bash lab bash, coreutils, awk
# (minbase has mawk) and ImageMagick with SVG (the -extra coders) and its default font.
SANDBOX_PACKAGES = ("python3", "bash", "coreutils", "imagemagick",
                    "libmagickcore-6.q16-6-extra", "fonts-urw-base35")
INPUTS_LABEL = "stackeval.inputs"
DEFAULT_MIRROR = "http://deb.debian.org/debian"


@dataclass(frozen=True)
class ImageSpec:
    """A local image: its tag, build folder under stack/images and what goes into the context."""

    tag: str
    folder: str
    requirements: tuple[str, ...]  # distributions, pinned here or to the host venv's versions
    files: tuple[tuple[Path, str], ...] = ()  # (source, name in the context)
    model: str | None = None  # a catalog model copied in as model.gguf


IMAGES: tuple[ImageSpec, ...] = (
    ImageSpec("stackeval/llama-server:local", "llama-server", runtime.XLLAMACPP_REQUIREMENTS,
              files=((Path(__file__).with_name("llama_server.py"), "llama_server.py"),),
              model="smollm2:135m"),
    # prisma: LiteLLM's proxy imports it while answering a bad key (a 401 becomes a 500 without).
    # async-timeout: redis needs it below Python 3.11.3 (Debian has 3.11.2), a marker that
    # `pip download` on the host evaluates against the host's newer interpreter.
    ImageSpec("stackeval/litellm-gateway:local", "litellm-gateway",
              (*runtime.LITELLM_REQUIREMENTS, "async-timeout>=4.0.3"),
              files=((STACK_DIR / "images" / "litellm-gateway" / "gateway.py", "gateway.py"),)),
)


def docker_client(timeout_s: int = 900) -> Any:
    """A Docker SDK client with a long read timeout (builds print nothing for minutes)."""
    from stackeval.stack.engine import connect

    return connect(timeout_s)


def ensure_images(client: Any = None, *, force: bool = False,
                  cache_dir: Path | None = None) -> dict[str, float]:
    """Build whatever is missing or stale; returns seconds spent per tag (0.0 when skipped)."""
    client = client or docker_client()
    from stackeval.models.cache import default_cache_dir

    work = (cache_dir or default_cache_dir()) / "images"
    times = {BASE_IMAGE: _ensure_base(client, force=force)}
    base_id = client.images.get(BASE_IMAGE).id
    for spec in IMAGES:
        times[spec.tag] = _ensure_image(client, spec, base_id, work / spec.folder, force=force)
    times[SANDBOX_IMAGE] = _ensure_sandbox(client, force=force)
    return times


def _ensure_base(client: Any, *, force: bool) -> float:
    import docker

    if not force:
        try:
            client.images.get(BASE_IMAGE)
            log.info("%s exists; skipped", BASE_IMAGE)
            return 0.0
        except docker.errors.ImageNotFound:
            pass
    return _debootstrap_image(client, BASE_IMAGE, BASE_PACKAGES)


def _ensure_sandbox(client: Any, *, force: bool) -> float:
    import docker

    digest = _inputs_hash("bookworm", *SANDBOX_PACKAGES)
    if not force:
        try:
            if client.images.get(SANDBOX_IMAGE).labels.get(INPUTS_LABEL) == digest:
                log.info("%s is up to date; skipped", SANDBOX_IMAGE)
                return 0.0
        except docker.errors.ImageNotFound:
            pass
    took = _debootstrap_image(client, SANDBOX_IMAGE, SANDBOX_PACKAGES,
                              changes=[f"LABEL {INPUTS_LABEL}={digest}"])
    client.images.prune(filters={"dangling": True, "label": INPUTS_LABEL})  # the replaced one
    return took


def _debootstrap_image(client: Any, image: str, packages: Iterable[str], *,
                       changes: list[str] | None = None) -> float:
    """Debootstrap a minbase bookworm with ``packages`` and ``docker import`` it as ``image``."""
    if shutil.which("debootstrap") is None:
        raise StackError("debootstrap is not installed — apt-get install debootstrap "
                         "(.ci/docker.sh does this)")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="stackeval-rootfs-", dir="/var/tmp") as tmp:
        rootfs, tarball = Path(tmp) / "rootfs", Path(tmp) / "rootfs.tar"
        log.info("debootstrap bookworm for %s from %s (a minute or two)", image, apt_mirror())
        _run(["debootstrap", "--variant=minbase", "--include=" + ",".join(packages),
              "bookworm", str(rootfs), apt_mirror()], "debootstrap")
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for path in (rootfs / junk).glob("*"):
                if path.is_file():
                    path.unlink()
        if (rootfs / "usr/bin/fc-cache").exists():
            # Font packages configured later touch font dirs after fontconfig cached them; a
            # stale cache on the read-only root makes every ImageMagick call warn on stderr.
            _run(["chroot", str(rootfs), "fc-cache", "-f"], "fc-cache")
        # posix (pax) keeps sub-second mtimes, which fontconfig compares with its caches
        _run(["tar", "--format=posix", "-C", str(rootfs), "-cf", str(tarball), "."], "tar")
        repo, tag = image.split(":")
        client.api.import_image_from_file(str(tarball), repository=repo, tag=tag,
                                          changes=changes)
    took = time.perf_counter() - started
    log.info("imported %s in %.0f s", image, took)
    return took


def apt_mirror() -> str:
    """This host's Debian mirror (the URIs line of debian.sources), so debootstrap uses it too."""
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.exists():
        match = re.search(r"^URIs:\s*(\S+)", sources.read_text(), re.MULTILINE)
        if match:
            return match.group(1)
    legacy = Path("/etc/apt/sources.list")
    if legacy.exists():
        match = re.search(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+bookworm\s", legacy.read_text(),
                          re.MULTILINE)
        if match:
            return match.group(1)
    return DEFAULT_MIRROR


def _ensure_image(client: Any, spec: ImageSpec, base_id: str, context: Path, *,
                  force: bool) -> float:
    import docker

    requirements = pinned(spec.requirements)
    dockerfile = STACK_DIR / "images" / spec.folder / "Dockerfile"
    model_sha = _model_sha(spec.model) if spec.model else ""
    digest = _inputs_hash(base_id, dockerfile.read_bytes(), "\n".join(requirements), model_sha,
                          *(src.read_bytes() for src, _ in spec.files))
    if not force:
        try:
            if client.images.get(spec.tag).labels.get(INPUTS_LABEL) == digest:
                log.info("%s is up to date; skipped", spec.tag)
                return 0.0
        except docker.errors.ImageNotFound:
            pass
    started = time.perf_counter()
    _assemble_context(spec, context, dockerfile, requirements)
    log.info("building %s", spec.tag)
    lines: list[str] = []
    try:
        for event in client.api.build(path=str(context), tag=spec.tag, rm=True, forcerm=True,
                                      labels={INPUTS_LABEL: digest}, decode=True):
            if "error" in event:
                raise StackError(f"building {spec.tag} failed: {event['error'].strip()}\n"
                                 + "\n".join(lines[-30:]))
            text = event.get("stream", "").rstrip()
            if text:
                lines.append(text)
                log.debug("%s", text)
    except docker.errors.APIError as exc:
        raise StackError(f"building {spec.tag} failed: {exc.explanation or exc}") from exc
    # The legacy builder leaves the build stage untagged, and a rebuild untags the old image:
    # drop those (only ours carry these labels).
    for label in ("stackeval.stage=build", INPUTS_LABEL):
        client.images.prune(filters={"dangling": True, "label": label})
    took = time.perf_counter() - started
    log.info("built %s in %.0f s", spec.tag, took)
    return took


def pinned(requirements: Iterable[str]) -> list[str]:
    """Requirements pinned to the versions installed in this venv (``litellm[proxy]==1.2.3``)."""
    out = []
    for req in requirements:
        if re.search(r"[<>=]", req):
            out.append(req)  # already constrained
            continue
        name = req.split("[")[0]
        try:
            out.append(f"{req}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError as exc:
            raise StackError(f"{name} is not installed in this venv; the image pins its "
                             "version from here — pip install it first") from exc
    return out


def _assemble_context(spec: ImageSpec, context: Path, dockerfile: Path,
                      requirements: list[str]) -> None:
    wheels = context / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    shutil.copy2(dockerfile, context / "Dockerfile")
    for src, name in spec.files:
        shutil.copy2(src, context / name)
    (wheels / "requirements.txt").write_text("\n".join(requirements) + "\n")
    constraints = context / "constraints.txt"
    constraints.write_text(_host_constraints())
    # Same interpreter minor as Debian bookworm's python3 (3.11); binary wheels only, since
    # the image has no compiler. Files already in wheels/ are reused.
    _run([sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
          "--python-version", "3.11", "-c", str(constraints), "-d", str(wheels),
          "-r", str(wheels / "requirements.txt")], f"pip download for {spec.tag}")
    if spec.model:
        target = context / "model.gguf"
        source = _model_path(spec.model)
        if not target.exists() or target.stat().st_size != source.stat().st_size:
            target.unlink(missing_ok=True)
            try:
                os.link(source, target)
            except OSError:
                shutil.copy2(source, target)


def _host_constraints() -> str:
    pins = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name and name.lower() != "stackeval":
            pins[name.lower()] = f"{name}=={dist.version}"
    # The images' programs are not installed here but in the runtime venv, whose lock pins them.
    for line in runtime.LOCK_FILE.read_text().splitlines():
        name = line.partition("==")[0].strip()
        if name and not name.startswith("#"):
            pins.setdefault(name.lower(), line.strip())
    return "\n".join(sorted(pins.values())) + "\n"


def _model_path(name: str) -> Path:
    from stackeval.models.cache import default_cache_dir
    from stackeval.models.catalog import load_catalog
    from stackeval.models.pull import pull
    from stackeval.models.resolve import resolve

    return pull(resolve(name, load_catalog()), default_cache_dir(), progress=True).path


def _model_sha(name: str) -> str:
    from stackeval.models.catalog import load_catalog
    from stackeval.models.resolve import resolve

    return resolve(name, load_catalog()).sha256 or ""


def _inputs_hash(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big") + data)
    return h.hexdigest()[:16]


def _run(argv: list[str], what: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-20:])
        raise StackError(f"{what} failed (exit {proc.returncode}): {' '.join(argv[:3])} ...\n"
                         f"{tail}")


def main(argv: list[str] | None = None) -> int:
    """Build the CI images; print what was built and how long it took."""
    parser = argparse.ArgumentParser(prog="python -m stackeval.stack.images",
                                     description="Build stackeval's local CI images.")
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        times = ensure_images(force=args.force)
    except StackError as exc:
        log.error("%s", exc)
        return 1
    for tag, took in times.items():
        log.info("%-36s %s", tag, f"{took:.0f} s" if took else "up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
