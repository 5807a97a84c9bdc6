"""The course's bash lab: test cases for its three scripts and tolerant checks of their output.

Expected figures are computed here in Python from the input data: the generated file, or any
file of the same format (``check-lab --data``). Checks are lenient on layout (separators,
spacing, 1-2 decimals, tie order at a cut-off) and strict on values and on which label a value
stands next to. Each failure message starts with the sub-check it belongs to ("--age 20-30",
"--name longest", ...), which is what partial credit counts (``Case.checks``).
"""

from __future__ import annotations

from collections.abc import Callable

from stackeval.coding import datagen
from stackeval.coding.bashlab.checks import Data
from stackeval.coding.bashlab.images import imgproc_cases
from stackeval.coding.bashlab.weblog import weblog_cases
from stackeval.coding.bashlab.worldcup import worldcup_cases
from stackeval.coding.cases import Case
from stackeval.errors import ConfigError


def bash_cases(checker: str, script_name: str, script: str, data: Data | None = None) -> list[Case]:
    """The cases of one bash lab task (``checker`` is the task's ``test`` field).

    ``data`` replaces the generated input file of ``worldcup`` and ``weblog``; the expected
    figures are computed from whichever file the script reads.
    """
    builders: dict[str, Callable[..., list[Case]]] = {
        "worldcup": worldcup_cases,
        "weblog": weblog_cases,
        "imgproc": imgproc_cases,
    }
    if checker not in builders:
        raise ConfigError(f"unknown bash lab checker {checker!r}; known: {', '.join(builders)}")
    if data is None:
        return builders[checker](script_name, script)
    if checker not in DATA_FILES:
        raise ConfigError(f"{checker} builds its own input; a data file is for worldcup and weblog")
    return builders[checker](script_name, script, data)


# the input file each data-driven task reads, by checker
DATA_FILES = {"worldcup": datagen.WORLDCUP_FILE, "weblog": datagen.WEBLOG_FILE}
