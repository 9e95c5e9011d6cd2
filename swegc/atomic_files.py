"""Writing a file so that a reader never sees half of it (the build's shards, card, manifest).

Its own module because the dataset writer and the build layout both write this way and the
layout must not import the dataset writer (which reads the layout).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: Path, write: Callable[[str], object]) -> None:
    """Writes through a temporary file in the same folder, so a reader never sees half a file.

    ``write`` gets the temporary file's path and writes the whole content there; it then
    replaces ``path`` in one step (``os.replace``), or is removed if ``write`` failed.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = str(path.with_name(f".{path.name}.{os.getpid()}.tmp"))  # normal permissions, unlike mkstemp
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
