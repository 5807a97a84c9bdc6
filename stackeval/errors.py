"""The one error tree of stackeval.

    StackEvalError
    ├── ConfigError          bad option, bad fixture file (names the file, line or option)
    │   └── UnknownModel     a model name the catalog does not know (lists the known ones)
    ├── PullError            a model could not be fetched or failed verification
    ├── StackError           a stack could not be started or stopped
    │   └── StackNotReady    a readiness wait ran out (names URL, expectation, log tail)
    ├── ClientError          a request failed (names endpoint and model, never the key)
    │   ├── RequestTimeout   no answer within the deadline
    │   ├── ServerError      5xx or 429 after the retries ran out
    │   ├── ContextOverflow  the prompt does not fit the served context
    │   └── ServerGone       the server died; later requests fail fast
    ├── GraderError          an answer could not be graded (kept apart from "wrong")
    ├── SandboxError         untrusted code could not be run safely
    └── SourceUnavailable    a telemetry source (NVML, Docker) is absent (stackeval.telemetry)

Third-party errors (httpx, subprocess, docker) are translated at the boundary with ``from exc``.
"""

from __future__ import annotations


class StackEvalError(Exception):
    """Root of every error stackeval raises on purpose."""


class ConfigError(StackEvalError):
    """An option, ini value or fixture file is invalid."""


class UnknownModel(ConfigError):
    """A model name that is neither in the catalog nor a local ``.gguf`` path."""


class PullError(StackEvalError):
    """A model could not be downloaded, assembled or verified."""


class StackError(StackEvalError):
    """A stack could not be started, reached or stopped."""


class StackNotReady(StackError):
    """A readiness wait ran past its deadline."""


class ClientError(StackEvalError):
    """A request to an endpoint failed."""


class RequestTimeout(ClientError):
    """The endpoint did not answer within the deadline."""


class ServerError(ClientError):
    """The endpoint kept answering 5xx/429 after the retries."""


class ContextOverflow(ClientError):
    """The prompt plus requested output exceeds the model's context window."""


class ServerGone(ClientError):
    """The server process died or stopped accepting connections."""


class GraderError(StackEvalError):
    """An answer could not be graded (a grader spec or judge failure, not a wrong answer)."""


class SandboxError(StackEvalError):
    """Untrusted code could not be run in a sandbox."""
