"""Where lingotune keeps things between runs.

The cache (converted checkpoints, base-model evaluations) follows XDG so that it is shared by all
runs on a machine, and ``LINGOTUNE_CACHE`` overrides it (tests point it at a temporary folder).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
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
    return Path(__file__).resolve().parents[2]


def build_once(target: Path, build: Callable[[Path, Path], str], force: bool = False) -> Path:
    """A cached folder, built on first use by ``build(out, scratch)``.

    The build writes into a temporary sibling that is renamed into place, with a ``.complete`` marker
    holding what ``build`` returns, only when it finishes: a killed or failed build never leaves a
    folder that looks ready, and the next run simply builds again.
    """
    if (target / ".complete").exists() and not force:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        out, scratch = staging / "out", staging / "scratch"
        out.mkdir()
        scratch.mkdir()
        marker = build(out, scratch)
        (out / ".complete").write_text(f"{marker}\n")
        shutil.rmtree(target, ignore_errors=True)
        out.replace(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
