"""What ``lingotune serve`` hands to ``transformers serve`` (fast: tiny model, no server started)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lingotune.core.errors import ModelSourceError
from lingotune.inference.serve import servable_model, serve_command


def test_run_folder_serves_its_merged_model(tiny_model, tmp_path) -> None:
    run = tmp_path / "run"
    shutil.copytree(tiny_model.path, run / "model")
    assert servable_model(str(run)) == str((run / "model").resolve())
    assert servable_model("tiny-random") == str(Path(tiny_model.path).resolve())


def test_folder_without_a_model_is_a_user_error(tmp_path) -> None:
    with pytest.raises(ModelSourceError, match="run folder"):
        servable_model(str(tmp_path))


def test_command_binds_where_asked_and_pins_the_model() -> None:
    command = serve_command("/m", "127.0.0.1", 8123)
    assert command[command.index("--host") + 1] == "127.0.0.1" and "/m" in command and "serve" in command
    assert "--continuous-batching" in serve_command("/m", "127.0.0.1", 1, continuous_batching=True)
