"""Stack profiles: embedded, compose, external."""

from stackeval.stack.base import Endpoint, Stack

__all__ = ["Endpoint", "Stack"]
