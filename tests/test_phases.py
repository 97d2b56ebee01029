"""Multi-phase training: hand-off of weights between phases, per-phase LR, evaluation after each phase,
one loss curve across phases, and resume inside phase 2 after a kill."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lingotune.plan import load_recipe
from lingotune.plan.planner import phase_train_spec

REPO = Path(__file__).resolve().parent.parent
RECIPE = REPO / "tests" / "assets" / "tiny_phases.yaml"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lingotune.cli", "run", str(RECIPE), *args], cwd=REPO,
                          capture_output=True, text=True)


def metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line]


@pytest.fixture(scope="module")
def phased_run(tmp_path_factory, tiny_model) -> Path:
    run_dir = tmp_path_factory.mktemp("phases") / "run"
    done = run(f"output_dir={run_dir}")
    assert done.returncode == 0, done.stderr[-3000:]
    return run_dir


def test_phase_learning_rates():
    recipe = load_recipe(RECIPE)
    assert phase_train_spec(recipe, 0).learning_rate == pytest.approx(1e-3)
    assert phase_train_spec(recipe, 1).learning_rate == pytest.approx(5e-4)
    assert phase_train_spec(recipe, 1).max_steps == 30


def test_phase_two_starts_from_phase_one_weights(phased_run):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    phase1 = phased_run / "phases" / "1-principles" / "model"
    phase2 = phased_run / "phases" / "2-parameters"
    adapter_config = json.loads((phase2 / "adapter" / "adapter_config.json").read_text())
    assert Path(adapter_config["base_model_name_or_path"]) == phase1
    rebuilt = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(phase1), phase2 / "adapter")
    rebuilt = rebuilt.merge_and_unload().state_dict()
    saved = AutoModelForCausalLM.from_pretrained(phase2 / "model").state_dict()
    base = AutoModelForCausalLM.from_pretrained(json.loads(
        (phased_run / "phases" / "1-principles" / "adapter" / "adapter_config.json").read_text()
    )["base_model_name_or_path"]).state_dict()
    first = AutoModelForCausalLM.from_pretrained(phase1).state_dict()
    for name in saved:
        assert (rebuilt[name] - saved[name]).abs().max() < 1e-6, name
    assert any((first[n] - base[n]).abs().max() > 0 for n in first), "phase 1 changed nothing"


def test_one_loss_curve_with_evaluation_after_each_phase(phased_run):
    records = [r for r in metrics(phased_run) if "loss" in r]
    assert [r["step"] for r in records] == list(range(1, 35))
    assert {r["phase"] for r in records[:4]} == {"principles"} and {r["phase"] for r in records[4:]} == {"parameters"}
    info = json.loads((phased_run / "run_info.json").read_text())
    assert info["stages"] == ["base", "principles", "final"]
    assert (phased_run / "eval" / "principles" / "summary.json").exists()
    assert "English retention" in (phased_run / "report.md").read_text()


def test_resume_inside_phase_two(phased_run, tmp_path):
    run_dir = tmp_path / "killed"
    args = [f"output_dir={run_dir}", "eval=null"]
    process = subprocess.Popen([sys.executable, "-m", "lingotune.cli", "run", str(RECIPE), *args], cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = run_dir / "phases" / "2-parameters" / "checkpoints" / "checkpoint-4" / "trainer_state.json"
    deadline = time.time() + 300
    while not checkpoint.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert checkpoint.exists() and not (run_dir / "steps" / "phase-parameters.json").exists()
    resumed = run(*args, "train.resume=true")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "phase:principles: already done, skipped" in " ".join(resumed.stderr.split())
    expected = {r["step"]: r["loss"] for r in metrics(phased_run) if "loss" in r}
    got = {r["step"]: r["loss"] for r in metrics(run_dir) if "loss" in r}
    assert sorted(got) == list(range(1, 35))
    assert got[34] == pytest.approx(expected[34], rel=1e-4, abs=1e-5)


def test_optimizer_state_can_be_carried_into_the_next_phase(tiny_model, tmp_path):
    def final_loss(run_dir: Path, *extra: str) -> tuple[float, str]:
        done = run(f"output_dir={run_dir}", "eval=null", "train.method=full", "phases.1.max_steps=4", *extra)
        assert done.returncode == 0, done.stderr[-3000:]
        return [r for r in metrics(run_dir) if "loss" in r][-1]["loss"], done.stderr

    fresh, _ = final_loss(tmp_path / "fresh")
    carried, log = final_loss(tmp_path / "carried", "phases.1.fresh_optimizer=false")
    assert "optimizer state carried over" in " ".join(log.split())
    assert (tmp_path / "carried" / "phases" / "1-principles" / "optimizer.pt").exists()
    assert not (tmp_path / "fresh" / "phases" / "1-principles" / "optimizer.pt").exists()
    assert carried != pytest.approx(fresh, abs=1e-7), "the carried AdamW moments changed nothing"


def test_carrying_the_optimizer_is_refused_with_lora():
    from lingotune.core.errors import RecipeError

    with pytest.raises(RecipeError, match=r"phases.1.fresh_optimizer: false needs train.method: full"):
        load_recipe(RECIPE, ["phases.1.fresh_optimizer=false"])
