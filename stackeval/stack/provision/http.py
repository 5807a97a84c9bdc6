"""The base of the provisioning clients: one httpx pool on one base URL, closed on exit."""

from __future__ import annotations

from typing import Self

import httpx


class ServiceClient:
    """An httpx client on a service's base URL; ``transport`` lets tests replay transcripts."""

    def __init__(self, base_url: str, *, timeout_s: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, transport=transport, trust_env=False,
                                  timeout=httpx.Timeout(timeout_s, connect=10.0))

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
