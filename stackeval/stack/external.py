"""The external profile: endpoints the user already runs (One-API, Ollama, vLLM, an LLMaaS).

Nothing is started, but the endpoint is checked once at start (``GET <base>/models``): it must
answer, accept the key and list every model asked for. Each failure is one line naming the URL
or the key, so a wrong URL or key ends the run at once instead of costing every test its
retries.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import httpx

from stackeval.errors import StackError, UnknownModel
from stackeval.models.catalog import ModelSpec
from stackeval.records import ServedModel
from stackeval.stack.base import Endpoint, Stack

log = logging.getLogger(__name__)

_KEY_HINT = "set STACKEVAL_API_KEY (or --api-key) to a key it accepts"


def _body(resp: httpx.Response, limit: int = 160) -> str:
    text = " ".join(resp.text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _key_refused(resp: httpx.Response) -> bool:
    # LiteLLM without a database answers a key it does not know with 400 "No connected db.".
    return resp.status_code in (401, 403) or (
        resp.status_code == 400 and ("no_db_connection" in resp.text
                                     or "No connected db" in resp.text))


def check_endpoint(base_url: str, api_key: str | None, models: list[str], *,
                   timeout_s: float = 15.0,
                   transport: httpx.BaseTransport | None = None) -> list[str] | None:
    """Check that ``base_url`` answers, accepts ``api_key`` and lists ``models``.

    Returns the models it lists (None when it has no ``/models``); raises StackError or
    UnknownModel with one line that names the URL or the key (never the key's value).
    """
    url = f"{base_url}/models"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0))
    try:
        with httpx.Client(timeout=timeout, transport=transport) as client:
            resp = client.get(url, headers=headers)
    except httpx.HTTPError as exc:
        raise StackError(f"external endpoint {base_url} is not reachable: {type(exc).__name__}"
                         f" ({exc or 'no answer'}); check --base-url / STACKEVAL_BASE_URL"
                         ) from exc
    if _key_refused(resp):
        what = ("refused the API key from --api-key / STACKEVAL_API_KEY" if api_key
                else "needs an API key and none was given")
        raise StackError(f"external endpoint {base_url} {what} (HTTP {resp.status_code}: "
                         f"{_body(resp)}); {_KEY_HINT}")
    if resp.status_code == 404:
        log.warning("external endpoint %s has no /models: the model names are not checked",
                    base_url)
        return None
    if resp.status_code >= 400:
        raise StackError(f"external endpoint {url} answered HTTP {resp.status_code}: "
                         f"{_body(resp)}")
    try:
        listed = [str(m["id"]) for m in resp.json()["data"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise StackError(f"external endpoint {url} did not answer with an OpenAI model list: "
                         f"{_body(resp)}") from exc
    missing = [m for m in models if m not in listed and f"{m}:latest" not in listed]
    if missing:
        raise UnknownModel(f"external endpoint {base_url} does not list "
                           f"{', '.join(map(repr, missing))} (it lists: "
                           f"{', '.join(listed) or 'nothing'}); choose with --models")
    return listed


class ExternalStack(Stack):
    """Nothing is started or stopped; every model is reached through ``--base-url``."""

    profile = "external"

    def __init__(self, specs: Sequence[ModelSpec], *, base_url: str,
                 api_key: str | None = None) -> None:
        self._models = [spec.name for spec in specs]
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key

    def start(self) -> None:
        """Nothing to start: check once that the endpoint answers, takes the key and lists
        the models."""
        check_endpoint(self.base_url, self.api_key, self._models)

    def stop(self) -> None:
        """Nothing to stop."""

    def models(self) -> list[str]:
        """The models named with --models."""
        return list(self._models)

    def endpoint(self, model: str) -> Endpoint:
        """The user's base URL and key."""
        return Endpoint(self.base_url, model, self.api_key, "gateway")

    def served(self, model: str) -> ServedModel:
        """Only the name is known; the server does not tell us its file."""
        return ServedModel(name=model, server="external", gateway=self.base_url)

    def describe(self) -> dict[str, Any]:
        """Profile and base URL (the key is never included)."""
        return {"profile": self.profile, "gateway": self.base_url}
