"""Options: a settings field that declares its own flag, ini key and environment variable, and
the one resolver.

A dataclass field made by :func:`setting` carries its help text, default, command-line flag
(``--name-with-dashes``), ini key (``stackeval_name``) and environment variable
(``STACKEVAL_NAME``); :func:`options` lists a class's fields as :class:`Option` and
:func:`resolve` builds the class from them (flag, then ini key, then environment, then default).
The settings themselves are in :mod:`stackeval.config`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from stackeval.errors import ConfigError

T = TypeVar("T")


def csv_values(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def ints(value: str) -> tuple[int, ...]:
    return tuple(int(v) for v in value.split(",") if v.strip())


def floats(value: str) -> tuple[float, ...]:
    return tuple(float(v) for v in value.split(",") if v.strip())


@dataclass(frozen=True)
class Option:
    """One setting as a user sets it: flag, ini key, environment variable, help and default."""

    name: str  # the field's name
    default: Any
    help: str
    parse: Callable[[str], Any] = str  # reads the value from a string (flag, ini or env)
    flag: bool = False  # a store_true switch
    many: bool = False  # may be given several times; the values are joined with ","
    shown: str | None = None  # the default in words, where the value alone would say "unset"
    metavar: str | None = None

    @property
    def cli(self) -> str:
        """The command-line flag."""
        return "--" + self.name.replace("_", "-")

    @property
    def ini(self) -> str:
        """The ini key (``[tool.pytest.ini_options]`` in pyproject.toml)."""
        return f"stackeval_{self.name}"

    @property
    def env(self) -> str:
        """The environment variable."""
        return "STACKEVAL_" + self.name.upper()

    @property
    def help_text(self) -> str:
        """The help text with the default and the environment variable."""
        default = self.shown
        if default is None:
            default = (",".join(map(str, self.default)) if isinstance(self.default, tuple)
                       else self.default)
            default = "unset" if default in (None, "", ()) else default
        return f"{self.help} [default: {default}; env {self.env}]"


def setting(default: Any, help: str, *, parse: Callable[[str], Any] | None = None,
            many: bool = False, shown: str | None = None, metavar: str | None = None,
            repr: bool = True) -> Any:
    """A dataclass field that is also an option; ``parse`` defaults from the default's type."""
    meta = {"help": help, "parse": parse, "many": many, "shown": shown, "metavar": metavar}
    return field(default=default, metadata=meta, repr=repr)


def options(cls: type) -> tuple[Option, ...]:
    """The options a settings class declares, in field order."""
    out = []
    for f in fields(cls):
        if "help" not in f.metadata:
            continue  # not an option (the run id)
        meta = f.metadata
        parse = meta["parse"] or _parser_for(f.default)
        out.append(Option(f.name, f.default, meta["help"], parse, flag=isinstance(f.default, bool),
                          many=meta["many"], shown=meta["shown"], metavar=meta["metavar"]))
    return tuple(out)


def _parser_for(default: Any) -> Callable[[str], Any]:
    if isinstance(default, bool):
        return lambda v: v.lower() in ("1", "true", "yes")
    if isinstance(default, tuple):
        return csv_values
    return type(default) if isinstance(default, int | float | Path) else str


def resolve(cls: type[T], get: Callable[[Option], Any], **extra: Any) -> T:
    """The one resolver: each option from ``get`` (command line, then ini; None when unset),
    else its ``STACKEVAL_*`` variable, else its default. ``extra`` sets fields that are not
    options (the run id); a bad value names its flag."""
    values: dict[str, Any] = {}
    for opt in options(cls):
        value = get(opt)
        if isinstance(value, list):  # a ``many`` option given several times
            value = ",".join(value)
        if value in (None, "", ()) and opt.env in os.environ:
            value = os.environ[opt.env]
        if value in (None, "", ()):
            continue
        if isinstance(value, str) and opt.parse is not str:
            try:
                value = opt.parse(value)
            except ValueError as exc:
                raise ConfigError(f"{opt.cli}: cannot read {value!r} ({exc})") from exc
        values[opt.name] = value
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    values.update({k: v for k, v in extra.items() if k in known and v is not None})
    return cls(**values)
