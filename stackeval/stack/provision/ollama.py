"""Ollama's native API: pull or import models, load and unload them, read its own timings."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from tqdm import tqdm

from stackeval.errors import PullError, StackError
from stackeval.stack.provision.http import ServiceClient

log = logging.getLogger(__name__)

PULL_HINT = ("check the name and tag at https://ollama.com/library, or (offline) use "
             "--model-source import to load the catalog's GGUF file")


@dataclass(frozen=True)
class NativeMetrics:
    """Ollama's counters from the final ``/api/generate`` chunk (sent in ns, kept in seconds)."""

    model: str
    eval_count: int | None = None
    eval_duration_s: float | None = None
    prompt_eval_count: int | None = None
    prompt_eval_duration_s: float | None = None
    load_duration_s: float | None = None
    total_duration_s: float | None = None
    done_reason: str | None = None

    @classmethod
    def from_response(cls, data: dict[str, Any]) -> NativeMetrics:
        """Read the final chunk; every field is omitempty upstream, so absent stays None."""
        def secs(key: str) -> float | None:
            return data[key] / 1e9 if data.get(key) is not None else None

        return cls(model=data.get("model", ""), eval_count=data.get("eval_count"),
                   eval_duration_s=secs("eval_duration"),
                   prompt_eval_count=data.get("prompt_eval_count"),
                   prompt_eval_duration_s=secs("prompt_eval_duration"),
                   load_duration_s=secs("load_duration"), total_duration_s=secs("total_duration"),
                   done_reason=data.get("done_reason"))

    @property
    def decode_tokens_per_s(self) -> float | None:
        """Server-side decode rate: eval_count over eval_duration."""
        if not self.eval_count or not self.eval_duration_s:
            return None
        return self.eval_count / self.eval_duration_s

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with the derived decode rate."""
        return {**asdict(self), "decode_tokens_per_s": self.decode_tokens_per_s}


class OllamaClient(ServiceClient):
    """Ollama's ``/api`` endpoints on one base URL (``http://127.0.0.1:11434``)."""

    def __init__(self, base_url: str, *, timeout_s: float = 60.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(base_url, timeout_s=timeout_s, transport=transport)

    def version(self) -> str:
        """The server's version string."""
        return str(self._json("GET", "/api/version").get("version", "unknown"))

    def models(self) -> dict[str, dict[str, Any]]:
        """Local models by name, as ``/api/tags`` lists them."""
        return {m["name"]: m for m in self._json("GET", "/api/tags").get("models", [])}

    def pull(self, model: str, *, progress: bool = True) -> None:
        """``POST /api/pull`` with a progress bar; PullError names the model and what to do."""
        log.info("ollama: pulling %s", model)
        last = ""
        with tqdm(desc=f"pull {model}", unit="B", unit_scale=True, disable=not progress) as bar:
            with self._http.stream("POST", "/api/pull", json={"model": model, "stream": True},
                                   timeout=httpx.Timeout(None, connect=10.0)) as resp:
                if resp.status_code >= 400:
                    raise PullError(f"Ollama cannot pull {model!r}: "
                                    f"{_error(resp.read(), resp.status_code)} — {PULL_HINT}")
                for line in resp.iter_lines():
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    if "error" in event:
                        raise PullError(f"Ollama cannot pull {model!r}: {event['error']} — "
                                        f"{PULL_HINT}")
                    last = event.get("status", last)
                    if event.get("total"):
                        bar.total = event["total"]
                        bar.n = event.get("completed", 0)
                        bar.set_postfix_str(last[:24], refresh=True)
        if last != "success":
            raise PullError(f"Ollama's pull of {model!r} ended without success (last status "
                            f"{last!r}) — retry; see the ollama container log")

    def import_gguf(self, model: str, path: Path, *, sha256: str | None = None,
                    parameters: dict[str, Any] | None = None, progress: bool = True) -> None:
        """Upload a local GGUF as a blob (skipped if Ollama has it) and create ``model`` from it."""
        digest = "sha256:" + (sha256 or _sha256(path))
        if self._http.head(f"/api/blobs/{digest}").status_code != 200:
            size = path.stat().st_size
            with tqdm(desc=f"upload {path.name}", total=size, unit="B", unit_scale=True,
                      disable=not progress) as bar:
                resp = self._http.post(f"/api/blobs/{digest}", content=_chunks(path, bar),
                                       headers={"Content-Length": str(size)},
                                       timeout=httpx.Timeout(None, connect=10.0))
            if resp.status_code not in (200, 201):
                raise PullError(f"Ollama refused the blob {path} ({digest[:19]}…): "
                                f"{_error(resp.content, resp.status_code)} — is the file intact?")
        body: dict[str, Any] = {"model": model, "files": {_gguf_name(path): digest},
                                "stream": False}
        if parameters:
            body["parameters"] = parameters
        data = self._json("POST", "/api/create", body, timeout=httpx.Timeout(600, connect=10))
        if data.get("status") != "success":
            raise PullError(f"Ollama could not create {model!r} from {path}: {data}")
        log.info("ollama: imported %s as %s", path, model)

    def load(self, model: str, keep_alive: str = "30m") -> float:
        """Load a model into memory (an empty generate); returns the seconds it took."""
        started = time.perf_counter()
        self._json("POST", "/api/generate", {"model": model, "keep_alive": keep_alive},
                   unknown=model)
        return time.perf_counter() - started

    def unload(self, model: str) -> None:
        """Drop a model from memory now."""
        self._json("POST", "/api/generate", {"model": model, "keep_alive": 0}, unknown=model)

    def generate_metrics(self, model: str, prompt: str, **options: Any) -> NativeMetrics:
        """One non-streamed ``/api/generate``; its final chunk carries Ollama's own timings."""
        body = {"model": model, "prompt": prompt, "stream": False, "options": options}
        return NativeMetrics.from_response(self._json("POST", "/api/generate", body,
                                                      unknown=model))

    def _json(self, method: str, path: str, body: dict[str, Any] | None = None, *,
              unknown: str | None = None, timeout: httpx.Timeout | None = None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"json": body} if body is not None else {}
        if timeout is not None:
            kwargs["timeout"] = timeout
        try:
            resp = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise StackError(f"Ollama at {self.base_url} did not answer {method} {path}: "
                             f"{exc!r}") from exc
        if resp.status_code == 404 and unknown:
            raise StackError(f"Ollama does not have model {unknown!r} "
                             f"({_error(resp.content, 404)}) — pull it first (the compose "
                             "profile pulls every --models name at start)")
        if resp.status_code >= 400:
            raise StackError(f"Ollama {method} {path} answered "
                             f"{_error(resp.content, resp.status_code)}")
        return resp.json() if resp.content else {}


def _error(content: bytes, status: int) -> str:
    try:
        return f"HTTP {status}: {json.loads(content)['error']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {status}: {content.decode(errors='replace')[:200]}"


def _gguf_name(path: Path) -> str:
    # Ollama recognises a GGUF by suffix (or magic bytes); cached files may lack the suffix.
    return path.name if path.suffix == ".gguf" else path.name + ".gguf"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _chunks(path: Path, bar: tqdm) -> Any:
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            bar.update(len(block))
            yield block
