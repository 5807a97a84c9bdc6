"""Open WebUI's API: create the first admin, connect it to the gateway, read its version."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from stackeval.errors import StackError
from stackeval.stack.provision.http import ServiceClient

log = logging.getLogger(__name__)


class OpenWebUIClient(ServiceClient):
    """Open WebUI on one base URL (``http://127.0.0.1:8080``); keeps the admin's bearer token."""

    def version(self) -> str:
        """``GET /api/version``."""
        return str(self._call("GET", "/api/version").get("version", "unknown"))

    def create_admin(self, name: str, email: str, password: str) -> str:
        """Sign up the first user (who becomes admin); if signup is closed, sign in instead."""
        resp = self._request("POST", "/api/v1/auths/signup",
                             {"name": name, "email": email, "password": password})
        if resp.status_code in (400, 403):  # already registered, or signup closed
            return self.signin(email, password)
        data = self._check(resp, "POST /api/v1/auths/signup")
        if data.get("role") != "admin":
            raise StackError(f"Open WebUI at {self.base_url} made {email} a {data.get('role')!r} "
                             "user, not admin: its data volume already has users — start from "
                             "a fresh volume")
        return self._use(data)

    def signin(self, email: str, password: str) -> str:
        """Sign in; wrong credentials give a one-line cause and what to do."""
        resp = self._request("POST", "/api/v1/auths/signin",
                             {"email": email, "password": password})
        if resp.status_code in (400, 401, 403):
            raise StackError(f"Open WebUI at {self.base_url} refused {email} "
                             f"({_detail(resp)}) — its data volume holds another admin; remove "
                             "the volume or sign in with that account")
        return self._use(self._check(resp, "POST /api/v1/auths/signin"))

    def connect_openai(self, base_url: str, key: str) -> None:
        """Point Open WebUI's OpenAI connection at the gateway (``POST /openai/config/update``)."""
        self._call("POST", "/openai/config/update", {
            "ENABLE_OPENAI_API": True,
            "OPENAI_API_BASE_URLS": [base_url],
            "OPENAI_API_KEYS": [key],
            "OPENAI_API_CONFIGS": {"0": {"enable": True}},  # required, even if empty
        })
        log.info("open-webui: OpenAI connection -> %s", base_url)

    def _use(self, data: dict[str, Any]) -> str:
        token = str(data["token"])
        self._http.headers["Authorization"] = f"Bearer {token}"
        return token

    def _request(self, method: str, path: str, body: Any = None) -> httpx.Response:
        try:
            return self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise StackError(f"Open WebUI at {self.base_url} did not answer {method} {path}: "
                             f"{exc!r}") from exc

    def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        return self._check(self._request(method, path, body), f"{method} {path}")

    def _check(self, resp: httpx.Response, what: str) -> dict[str, Any]:
        if resp.status_code >= 400:
            raise StackError(f"Open WebUI {what} answered HTTP {resp.status_code}: "
                             f"{_detail(resp)}")
        return resp.json()


def _detail(resp: httpx.Response) -> str:
    try:
        return str(resp.json().get("detail", resp.text[:200]))
    except ValueError:
        return resp.text[:200]
