"""Shared fixtures. The model cache is per test session (tiny model) unless LINGOTUNE_CACHE is set,
in which case real-model tests reuse an already converted SmolLM2."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
QUICKSTART_DATA = REPO / "data" / "quickstart"

os.environ.setdefault("LINGOTUNE_QUIET", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Runs train inline unless a test asks for a process of their own (tests/test_distributed.py): a new
# process per training step would add its imports (seconds) to every run the suite makes.
os.environ.setdefault("LINGOTUNE_LAUNCHER", "inline")


@pytest.fixture(scope="session")
def tiny_model():
    from lingotune.models.sources import resolve_model

    return resolve_model("tiny-random")


@pytest.fixture(scope="session")
def smollm2():
    from lingotune.models.sources import resolve_model

    return resolve_model("smollm2-135m-instruct")
