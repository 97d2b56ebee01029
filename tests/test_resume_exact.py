"""A resumed run repeats the uninterrupted one step for step, wherever it was killed (lingotune.train.resume).

The tiny recipe keeps 28 of its 48 examples (the rest exceed max_length), so with batch 4 an epoch is 7 steps.
One run, killed with SIGKILL after checkpoint 10 (inside epoch 2), resumed and killed after checkpoint 14 (an
epoch boundary), resumed and killed after checkpoint 16 (inside epoch 3, written by a run that resumed at the
boundary), resumed to the end (18: inside epoch 3, so the last epoch is partial), is compared with one
uninterrupted run: every step's loss and the final model. A finished run, rerun with ``train.resume=true``,
must not train (the Trainer used to take a 19th step), whether its final model was written or not.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TINY = REPO / "tests" / "assets" / "tiny.yaml"
MAX_STEPS = 18
SAVE_STEPS = 2
COMMON = ("eval=null", f"train.max_steps={MAX_STEPS}", f"train.save_steps={SAVE_STEPS}")
KILL_AT = (10, 14, 16)  # inside epoch 2, the end of epoch 2, inside epoch 3 (7 steps per epoch)
FINAL_FILES = ("model/model.safetensors", "adapter/adapter_model.safetensors")
# One thread per run: on 2 cores shared with other work, the 18 steps took 41.6 s with torch's 2 threads
# (OpenMP threads spin while they wait for a core) and 1.6 s with one; the results are the same bytes.
# COLUMNS: console lines long enough that the checked messages are not wrapped.
ENV = {"OMP_NUM_THREADS": "1", "COLUMNS": "400"}


def start(run_dir: Path, *args: str) -> subprocess.Popen:
    """``lingotune run`` in the background, its console output in ``RUN_DIR.log`` (next to the run folder)."""
    command = [sys.executable, "-m", "lingotune.cli", "run", str(TINY), *COMMON, f"output_dir={run_dir}", *args]
    with run_dir.with_name(f"{run_dir.name}.log").open("a") as log:  # the child keeps its own copy
        return subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **ENV})


def finish(process: subprocess.Popen, run_dir: Path) -> str:
    """Wait for a run started with :func:`start`; its console output (whitespace collapsed)."""
    process.wait(timeout=600)
    log = run_dir.with_name(f"{run_dir.name}.log").read_text()
    assert process.returncode == 0, log[-3000:]
    return " ".join(log.split())


def complete(trainer_state: Path) -> bool:
    """trainer_state.json is written last, but not atomically: wait until it parses."""
    try:
        return "global_step" in json.loads(trainer_state.read_text())
    except (OSError, ValueError):
        return False


def kill_after(process: subprocess.Popen, run_dir: Path, step: int) -> None:
    """SIGKILL the run as soon as its checkpoint-``step`` is complete.

    Steps take ~0.1 s here, so a poll can be late: a file named like the next checkpoint's folder (put there
    before the run starts, see :func:`start_killable`) makes its save fail, so the run stops there by itself
    if the kill comes late, before it wrote anything newer than checkpoint-``step``: either way the newest
    complete checkpoint is checkpoint-``step``.
    """
    state = run_dir / "checkpoints" / f"checkpoint-{step}" / "trainer_state.json"
    deadline = time.time() + 300
    while not complete(state) and time.time() < deadline and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    (run_dir / "checkpoints" / f"checkpoint-{step + SAVE_STEPS}").unlink()
    assert complete(state), f"checkpoint-{step} was not written before the deadline"


def start_killable(run_dir: Path, step: int) -> subprocess.Popen:
    """Start (or resume: ``train.resume=true`` on an empty folder starts afresh, and lets the folder exist
    beforehand) a run that :func:`kill_after` will stop after checkpoint-``step``."""
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    (run_dir / "checkpoints" / f"checkpoint-{step + SAVE_STEPS}").write_text("not a checkpoint: stops the run\n")
    return start(run_dir, "train.resume=true")


def losses(run_dir: Path) -> dict[int, float]:
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line]
    steps = [r["step"] for r in records if "loss" in r]
    assert len(steps) == len(set(steps)), f"a step was logged twice: {steps}"
    return {r["step"]: r["loss"] for r in records if "loss" in r}


def assert_same_losses(got: dict[int, float], expected: dict[int, float], steps: range) -> None:
    assert sorted(got) == list(steps)
    for step in steps:
        assert got[step] == pytest.approx(expected[step], rel=1e-5), f"step {step}"


def checkpoints(run_dir: Path) -> list[int]:
    return sorted(int(p.name.split("-")[1]) for p in (run_dir / "checkpoints").glob("checkpoint-*"))


def file_bytes(run_dir: Path) -> dict[str, bytes]:
    return {name: (run_dir / name).read_bytes() for name in FINAL_FILES}


def train_result(run_dir: Path) -> dict:
    return json.loads((run_dir / "train_result.json").read_text())


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_model) -> dict:
    """All runs of this module, side by side where they are independent (2 cores: most of a run's time is
    the single-threaded start-up): the uninterrupted run; the run killed at each of KILL_AT in turn and
    resumed (with what it had logged after each segment); two copies of the finished uninterrupted run,
    one without its final model, rerun with ``train.resume=true``."""
    root = tmp_path_factory.mktemp("resume-exact")
    straight, killed = root / "straight", root / "killed"
    straight_run = start(straight)
    result: dict = {"straight": straight, "killed": killed, "snapshots": {}}
    finished: dict[str, subprocess.Popen] = {}
    for step in KILL_AT:
        process = start_killable(killed, step)
        if not finished and straight_run.poll() is not None:
            finished = rerun_finished(straight_run, straight, root)
        kill_after(process, killed, step)
        result["snapshots"][step] = losses(killed)
    process = start(killed, "train.resume=true")
    finished = finished or rerun_finished(straight_run, straight, root)
    result["killed_log"] = finish(process, killed)
    for name, rerun in finished.items():
        result[f"{name}_log"] = finish(rerun, root / name)
    return result


def rerun_finished(straight_run: subprocess.Popen, straight: Path, root: Path) -> dict[str, subprocess.Popen]:
    """Once the uninterrupted run is done: rerun a copy of it ("finished": e.g. killed during the final
    evaluation, or just rerun) and a copy without model/, adapter/ and train_result.json ("unsaved": killed
    after the last checkpoint, before the final model was written). Both lose the run plan's done marker of
    the training step, as a kill before it was written would: the trainer itself must then not step again
    (with the marker the plan skips the step, tested in test_resume_plan.py)."""
    finish(straight_run, straight)
    assert checkpoints(straight) == [MAX_STEPS - 2, MAX_STEPS]
    shutil.copytree(straight, root / "finished")
    shutil.copytree(straight, root / "unsaved")
    for name in ("finished", "unsaved"):
        (root / name / "steps" / "train.json").unlink()
    for name in ("model", "adapter"):
        shutil.rmtree(root / "unsaved" / name)
    (root / "unsaved" / "train_result.json").unlink()
    return {name: start(root / name, "train.resume=true") for name in ("finished", "unsaved")}


def test_resume_inside_an_epoch_repeats_every_step(runs):
    """Resumed from checkpoint-10 (step 3 of epoch 2): steps 11-14 as uninterrupted, so is every step before."""
    expected, after_second_kill = losses(runs["straight"]), runs["snapshots"][14]
    assert max(runs["snapshots"][10]) < 14 <= max(after_second_kill)
    assert_same_losses(after_second_kill, expected, range(1, max(after_second_kill) + 1))


def test_resume_at_an_epoch_boundary_and_after_it_repeats_every_step(runs):
    """Resumed from checkpoint-14 (the end of epoch 2), then from checkpoint-16, which that resumed run wrote:
    all 18 steps equal the uninterrupted run's, and so does the final model, byte for byte."""
    killed, straight = runs["killed"], runs["straight"]
    assert "Resuming from" in runs["killed_log"] and "checkpoint-16" in runs["killed_log"]
    assert_same_losses(losses(killed), losses(straight), range(1, MAX_STEPS + 1))
    # (not [16, 18]: the Trainer rotates checkpoints by directory mtime, and a kill inside the rotation
    # leaves a partly deleted older checkpoint with a new mtime, which a later rotation then keeps)
    assert max(checkpoints(killed)) == MAX_STEPS
    assert file_bytes(killed) == file_bytes(straight)
    assert train_result(killed)["global_step"] == train_result(straight)["global_step"] == MAX_STEPS
    # the mean over all 18 steps, not over the 2 the last resumed run took
    assert train_result(killed)["train_loss"] == pytest.approx(train_result(straight)["train_loss"], rel=1e-9)


def test_rerun_of_a_finished_run_does_not_train(runs):
    """Killed after the final model was written (e.g. during the final evaluation), or just rerun."""
    run_dir, straight = runs["killed"].with_name("finished"), runs["straight"]
    assert "Training had finished (step 18); reusing the final model" in runs["finished_log"]
    assert checkpoints(run_dir) == [MAX_STEPS - 2, MAX_STEPS], "trained past max_steps"
    assert losses(run_dir) == losses(straight)
    assert file_bytes(run_dir) == file_bytes(straight)
    assert train_result(run_dir) == train_result(straight)


def test_finished_run_killed_before_its_final_model_was_written(runs):
    """Killed after the last checkpoint, before model/ existed: the model is written from that checkpoint,
    without another step, byte for byte the uninterrupted run's."""
    run_dir, straight = runs["killed"].with_name("unsaved"), runs["straight"]
    assert "the final model was not written; writing it from checkpoint-18" in runs["unsaved_log"]
    assert checkpoints(run_dir) == [MAX_STEPS - 2, MAX_STEPS], "trained past max_steps"
    assert losses(run_dir) == losses(straight)
    assert file_bytes(run_dir) == file_bytes(straight)
    assert train_result(run_dir)["train_loss"] == pytest.approx(train_result(straight)["train_loss"], rel=1e-9)


def test_last_checkpoint_skips_a_trainer_state_cut_short(tmp_path):
    from lingotune.train.sft import last_checkpoint

    for step, text in ((2, '{"global_step": 2}'), (4, ""), (6, '{"global_step": 6, "log_hist')):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text(text)
    (tmp_path / "checkpoint-8").mkdir()
    assert last_checkpoint(tmp_path) == tmp_path / "checkpoint-2"


def test_whole_run_loss_weights_each_log_by_its_steps():
    from lingotune.train.resume import whole_run_loss

    history = [{"step": 2, "loss": 1.0}, {"step": 3, "loss": 4.0}, {"step": 3, "train_loss": 9.0},
               {"step": 6, "loss": 2.0}]
    assert whole_run_loss(history) == pytest.approx((2 * 1.0 + 4.0 + 3 * 2.0) / 6)
    assert whole_run_loss([]) is None
