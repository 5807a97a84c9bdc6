"""Several external endpoints in one run: ``--endpoint NAME=URL`` (repeatable, comma-separated).

Each endpoint has its own key, read only from the environment (``STACKEVAL_ENDPOINT_<NAME>_KEY``,
NAME upper-cased with other characters as ``_``; never the shared ``--api-key``, so one server's
key is never sent to another), and may have its own concurrency (``NAME=URL?concurrency=N`` or
``STACKEVAL_ENDPOINT_<NAME>_CONCURRENCY``: asks in flight per model there; else
``--ask-concurrency``). A ``--models`` entry ``NAME/model`` runs ``model`` on endpoint NAME; a
plain name is allowed only when there is one endpoint. The entry as written is the run's model
name, so the same model on two servers gives two rows, and records and report say where each ran.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stackeval.config import Settings
from stackeval.errors import ConfigError, StackError
from stackeval.records import ServedModel
from stackeval.stack.base import Endpoint, Stack
from stackeval.stack.external import check_endpoint

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")
_KEYS = ("concurrency",)


@dataclass(frozen=True)
class NamedEndpoint:
    """One ``--endpoint`` entry with its key (from the environment) and concurrency."""

    name: str
    base_url: str
    api_key: str | None = field(default=None, repr=False)
    concurrency: int = 0  # 0: --ask-concurrency, else the run's default

    @property
    def key_env(self) -> str:
        """The environment variable holding this endpoint's key."""
        return env_name(self.name, "KEY")


def env_name(name: str, what: str) -> str:
    """``STACKEVAL_ENDPOINT_<NAME>_<WHAT>`` for endpoint ``name``."""
    return f"STACKEVAL_ENDPOINT_{re.sub(r'[^A-Z0-9]', '_', name.upper())}_{what}"


def parse_endpoints(entries: tuple[str, ...] | list[str],
                    environ: Mapping[str, str] = os.environ) -> dict[str, NamedEndpoint]:
    """``a=http://h1:8000/v1?concurrency=8`` entries, by name; a bad entry names itself."""
    out: dict[str, NamedEndpoint] = {}
    for entry in entries:
        name, eq, rest = entry.strip().partition("=")
        if not eq or not rest:
            raise ConfigError(f"--endpoint {entry!r}: expected NAME=URL, e.g. "
                              f"gpu1=http://10.0.0.5:8000/v1")
        if not _NAME.match(name):
            raise ConfigError(f"--endpoint {entry!r}: the name must start with a letter and hold "
                              f"only letters, digits, '-' and '_'")
        url, _, query = rest.partition("?")
        if not re.match(r"https?://[^/]", url):
            raise ConfigError(f"--endpoint {entry!r}: the URL must start with http:// or "
                              f"https://")
        options = {}
        for part in filter(None, query.split("&")):
            key, sep, value = part.partition("=")
            if not sep or key not in _KEYS:
                raise ConfigError(f"--endpoint {entry!r}: unknown option {part!r}; known: "
                                  f"{', '.join(_KEYS)}")
            options[key] = value
        text = options.get("concurrency") or environ.get(env_name(name, "CONCURRENCY"), "0")
        if not text.isdigit():
            raise ConfigError(f"--endpoint {name}: concurrency must be a whole number >= 0, "
                              f"not {text!r}")
        if name in out:
            raise ConfigError(f"--endpoint {name} is given twice")
        out[name] = NamedEndpoint(name, url.rstrip("/"), environ.get(env_name(name, "KEY")) or
                                  None, int(text))
    return out


def assign_models(models: tuple[str, ...] | list[str], endpoints: Mapping[str, NamedEndpoint]
                  ) -> dict[str, tuple[str, str]]:
    """Each ``--models`` entry -> (endpoint name, model name sent there)."""
    if not models:
        raise ConfigError("--endpoint needs --models: NAME/model entries naming what each "
                          "endpoint serves")
    out: dict[str, tuple[str, str]] = {}
    for entry in models:
        prefix, slash, rest = entry.partition("/")
        if slash and prefix in endpoints and rest:
            out[entry] = (prefix, rest)
        elif len(endpoints) == 1:
            out[entry] = (next(iter(endpoints)), entry)
        else:
            raise ConfigError(f"--models {entry!r}: which endpoint? write NAME/model with NAME "
                              f"one of {', '.join(endpoints)}")
    unused = [n for n in endpoints if n not in {ep for ep, _ in out.values()}]
    if unused:
        raise ConfigError(f"--endpoint {', '.join(unused)}: no --models entry runs there "
                          f"(write NAME/model)")
    return out


def _own_hints(message: str, ep: NamedEndpoint) -> str:
    """The single-endpoint check's hints, pointed at this endpoint's option and variable."""
    for shared in ("STACKEVAL_API_KEY (or --api-key)", "--api-key / STACKEVAL_API_KEY"):
        message = message.replace(shared, ep.key_env)
    return message.replace("--base-url / STACKEVAL_BASE_URL", f"--endpoint {ep.name}")


class MultiEndpointStack(Stack):
    """Nothing is started; each model is reached at its own endpoint with that endpoint's key."""

    profile = "external"

    def __init__(self, settings: Settings, models: list[str],
                 environ: Mapping[str, str] = os.environ) -> None:
        self.settings = settings
        self.endpoints = parse_endpoints(settings.endpoint, environ)
        self.placement = assign_models(models, self.endpoints)

    def start(self) -> None:
        """Check each endpoint once: it answers, takes its key and lists its models."""
        for name, ep in self.endpoints.items():
            remote = [m for e, m in self.placement.values() if e == name]
            try:
                check_endpoint(ep.base_url, ep.api_key, remote,
                               timeout_s=min(15.0, self.settings.start_timeout))
            except StackError as exc:  # UnknownModel is a ConfigError: its hint is --models
                raise type(exc)(f"--endpoint {name}: {_own_hints(str(exc), ep)}") from exc
            except ConfigError as exc:
                raise type(exc)(f"--endpoint {name}: {exc}") from exc

    def stop(self) -> None:
        """Nothing to stop."""

    def models(self) -> list[str]:
        """The ``--models`` entries, as written."""
        return list(self.placement)

    def where(self, model: str) -> NamedEndpoint:
        """The endpoint ``model`` runs on."""
        if model not in self.placement:
            raise ConfigError(f"model {model!r} is not in --models ({', '.join(self.placement)})")
        return self.endpoints[self.placement[model][0]]

    def endpoint(self, model: str) -> Endpoint:
        """The model's own endpoint, its key, and the name that endpoint knows it by."""
        ep = self.where(model)
        return Endpoint(ep.base_url, self.placement[model][1], ep.api_key, "gateway")

    def concurrency(self, model: str) -> int:
        """Asks in flight for ``model`` set on its endpoint (0: not set there)."""
        return self.where(model).concurrency

    def served(self, model: str) -> ServedModel:
        """Only the name and where it ran are known; the server does not tell us its file."""
        ep = self.where(model)
        return ServedModel(name=self.placement[model][1], server=f"external endpoint {ep.name}",
                           gateway=ep.base_url)

    def describe(self) -> dict[str, Any]:
        """Profile, each endpoint and where each model ran (keys never included)."""
        return {
            "profile": self.profile,
            "gateway": ", ".join(f"{n} {ep.base_url}" for n, ep in self.endpoints.items()),
            "endpoints": {n: {"base_url": ep.base_url, "key_from": ep.key_env if ep.api_key
                              else None, "concurrency": ep.concurrency or None}
                          for n, ep in self.endpoints.items()},
            "servers": {m: f"{ep} {self.endpoints[ep].base_url}"
                        for m, (ep, _) in self.placement.items()},
        }
