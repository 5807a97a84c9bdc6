"""State files that hold secrets (gateway keys, tokens): readable by their owner only, always.

``path.write_text()`` followed by ``chmod`` leaves a moment in which the file has the default
mode (often 0644) with the key already in it; :func:`write_private` creates the file with mode
0600, so it is never readable by anyone else, and narrows a file that already existed.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE = 0o600


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (created with mode 0600, never following a symlink)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, PRIVATE)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        os.fchmod(f.fileno(), PRIVATE)  # a file left by an older version may be wider
        f.write(text)
