"""Where lingotune keeps things between runs.

The cache (converted checkpoints, base-model evaluations) follows XDG so that it is shared by all
runs on a machine, and ``LINGOTUNE_CACHE`` overrides it (tests point it at a temporary folder).
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    explicit = os.environ.get("LINGOTUNE_CACHE")
    if explicit:
        root = Path(explicit)
    else:
        root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lingotune"
    root.mkdir(parents=True, exist_ok=True)
    return root


def repo_root() -> Path:
    """The checkout's root, for recipes that name data relative to it."""
    return Path(__file__).resolve().parent.parent
