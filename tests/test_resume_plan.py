"""Resume at the plan level: a run killed during evaluation, or rerun after it finished, never trains
again, and what it then evaluates is the model the uninterrupted run evaluated."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_run_tiny import REPO, TINY, lingotune, losses


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def metrics_of(run_dir: Path, stage: str) -> dict:
    tasks = json.loads((run_dir / "eval" / stage / "summary.json").read_text())["tasks"]
    return {task: entry["metrics"] for task, entry in tasks.items()}


@pytest.fixture(scope="module")
def straight(tiny_model, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("straight") / "run"
    done = lingotune("run", str(TINY), f"output_dir={run_dir}")
    assert done.returncode == 0, done.stderr[-3000:]
    return run_dir


def test_rerunning_a_finished_run_trains_and_evaluates_nothing(straight):
    model = straight / "model" / "model.safetensors"
    before = (digest(model), sorted(p.name for p in (straight / "checkpoints").iterdir()),
              (straight / "metrics.jsonl").read_text(), metrics_of(straight, "final"))
    done = lingotune("run", str(TINY), f"output_dir={straight}", "train.resume=true")
    assert done.returncode == 0, done.stderr[-3000:]
    out = " ".join(done.stderr.split())
    for step in ("eval:base", "train", "eval:final"):
        assert f"{step}: already done, skipped" in out
    assert "Training" not in out and "Resuming from" not in out
    after = (digest(model), sorted(p.name for p in (straight / "checkpoints").iterdir()),
             (straight / "metrics.jsonl").read_text(), metrics_of(straight, "final"))
    assert after == before


def test_kill_during_final_evaluation_resumes_without_training(straight, tmp_path):
    run_dir = tmp_path / "killed"
    args = ["run", str(TINY), f"output_dir={run_dir}"]
    process = subprocess.Popen([sys.executable, "-m", "lingotune.cli", *args], cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    evaluating = run_dir / "eval" / "final"
    deadline = time.time() + 600
    while not evaluating.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert (run_dir / "steps" / "train.json").is_file(), "killed before training finished"
    assert not (run_dir / "steps" / "eval-final.json").exists(), "the final evaluation finished before the kill"
    model_digest = digest(run_dir / "model" / "model.safetensors")
    resumed = lingotune(*args, "train.resume=true")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "train: already done, skipped" in " ".join(resumed.stderr.split())
    assert digest(run_dir / "model" / "model.safetensors") == model_digest
    assert losses(run_dir) == losses(straight)
    assert metrics_of(run_dir, "final") == metrics_of(straight, "final")
    assert digest(run_dir / "model" / "model.safetensors") == digest(straight / "model" / "model.safetensors")
    info = json.loads((run_dir / "run_info.json").read_text())
    assert info["finished"] and info["stages"] == ["base", "final"]
