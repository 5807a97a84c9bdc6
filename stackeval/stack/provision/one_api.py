"""One-API's admin API: log in as root, replace the default password, add a channel, mint a token.

Every reply is ``{"success": bool, "message": str, "data": ...}`` with HTTP 200 even on failure,
so ``success`` is what is checked. The session cookie from ``/api/user/login`` authenticates the
rest (songquanpeng/one-api v0.6.x; see ../shared/STACK-APIS.md).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx

from stackeval.errors import StackError
from stackeval.stack.provision.http import ServiceClient

log = logging.getLogger(__name__)

DEFAULT_ROOT_PASSWORD = "123456"  # what One-API gives root on an empty database
CHANNEL_OLLAMA = 30
CHANNEL_OPENAI_COMPATIBLE = 50  # base_url must end in /v1


@dataclass(frozen=True)
class OneApiAccess:
    """What provisioning leaves behind: the API key clients send and root's password."""

    token: str = field(repr=False)  # "sk-…"
    root_password: str = field(repr=False)
    version: str = "unknown"


class OneApiClient(ServiceClient):
    """One-API's ``/api`` admin endpoints on one base URL (``http://127.0.0.1:3000``)."""

    def status(self) -> dict[str, Any]:
        """``GET /api/status``: version and site options."""
        return self._call("GET", "/api/status") or {}

    def login(self, username: str, password: str) -> None:
        """Start a session; wrong credentials give a one-line cause and what to do."""
        resp = self._post("/api/user/login", {"username": username, "password": password})
        body = _body(resp)
        if not body.get("success"):
            raise StackError(
                f"One-API at {self.base_url} refused user {username!r} "
                f"({body.get('message') or f'HTTP {resp.status_code}'}) — a fresh data volume "
                f"has password {DEFAULT_ROOT_PASSWORD}; for a reused one set "
                "ONE_API_ROOT_PASSWORD to root's current password, or remove the volume")

    def change_password(self, new_password: str) -> None:
        """``PUT /api/user/self``; One-API wants 8–20 characters."""
        self._call("PUT", "/api/user/self", {"password": new_password})

    def add_channel(self, name: str, channel_type: int, base_url: str, models: list[str],
                    key: str = "stackeval") -> None:
        """A channel routing ``models`` to ``base_url`` (the key must be non-empty)."""
        self._call("POST", "/api/channel/", {
            "name": name, "type": channel_type, "key": key, "base_url": base_url,
            "models": ",".join(models), "group": "default", "model_mapping": "",
        })

    def create_token(self, name: str) -> str:
        """An unlimited, never-expiring API key, returned as clients send it (``sk-…``)."""
        data = self._call("POST", "/api/token/", {
            "name": name, "remain_quota": 0, "unlimited_quota": True, "expired_time": -1,
        })
        key = (data or {}).get("key") if isinstance(data, dict) else None
        if not key:  # releases before v0.6.4 return no data: find the token by name
            tokens = self._call("GET", "/api/token/?p=0") or []
            key = next((t["key"] for t in tokens if t.get("name") == name), None)
        if not key:
            raise StackError(f"One-API at {self.base_url} created token {name!r} but did not "
                             "return its key — create one in the web UI and use --stack external")
        return key if key.startswith("sk-") else "sk-" + key

    def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        try:
            return self._http.post(path, json=body)
        except httpx.HTTPError as exc:
            raise StackError(f"One-API at {self.base_url} did not answer POST {path}: "
                             f"{exc!r}") from exc

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            resp = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise StackError(f"One-API at {self.base_url} did not answer {method} {path}: "
                             f"{exc!r}") from exc
        payload = _body(resp)
        if resp.status_code >= 400 or not payload.get("success"):
            raise StackError(f"One-API {method} {path} failed: "
                             f"{payload.get('message') or f'HTTP {resp.status_code}'}")
        return payload.get("data")


def _body(resp: httpx.Response) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError:
        return {"success": False, "message": f"HTTP {resp.status_code}: {resp.text[:200]}"}
    return data if isinstance(data, dict) else {"success": False, "message": str(data)[:200]}


def provision_one_api(client: OneApiClient, *, models: list[str], upstream: str,
                      ollama: bool = True, password: str = DEFAULT_ROOT_PASSWORD,
                      new_password: str | None = None) -> OneApiAccess:
    """Log in as root, replace the default password, add one channel for ``models``, mint a key."""
    version = str(client.status().get("version", "unknown"))
    client.login("root", password)
    if password == DEFAULT_ROOT_PASSWORD:
        password = new_password or secrets.token_urlsafe(12)  # 16 characters
        client.change_password(password)
    client.add_channel("stackeval", CHANNEL_OLLAMA if ollama else CHANNEL_OPENAI_COMPATIBLE,
                       upstream, models)
    token = client.create_token("stackeval")
    log.info("one-api %s: channel to %s for %s; token minted", version, upstream,
             ", ".join(models))
    return OneApiAccess(token, password, version)
