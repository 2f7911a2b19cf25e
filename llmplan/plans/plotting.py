"""matplotlib for `--plot`, imported only when a plot is asked for (the `plot` extra)."""

from __future__ import annotations

import os

from llmplan.errors import InputError


def pyplot_for(path: str):
    """matplotlib.pyplot on a file back-end, once the folder `path` goes into is known to exist."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(f"cannot write {path}: folder {folder} does not exist")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError("--plot needs matplotlib: pip install 'llmplan[plot]'") from None
    return plt
