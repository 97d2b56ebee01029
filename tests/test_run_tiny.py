"""End-to-end ``lingotune run`` on the tiny random model, through the real CLI, and resume after a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TINY = REPO / "tests" / "assets" / "tiny.yaml"


def lingotune(*args: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lingotune.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=REPO, **kwargs)


def losses(run_dir: Path) -> dict[int, float]:
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line]
    return {r["step"]: r["loss"] for r in lines if "loss" in r}


def run_in_tmp(tmp_path_factory, recipe: Path) -> Path:
    """``lingotune run RECIPE`` into a fresh temporary run folder; fails the test on a non-zero exit."""
    run_dir = tmp_path_factory.mktemp("runs") / recipe.stem
    done = lingotune("run", str(recipe), f"output_dir={run_dir}")
    assert done.returncode == 0, done.stderr[-3000:]
    return run_dir


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, tiny_model) -> Path:
    return run_in_tmp(tmp_path_factory, TINY)


def test_run_writes_complete_run_folder(tiny_run):
    for name in ("recipe.yaml", "run_info.json", "metrics.jsonl", "report.md", "report.html"):
        assert (tiny_run / name).is_file(), name
    info = json.loads((tiny_run / "run_info.json").read_text())
    assert info["finished"] and info["stages"] == ["base", "final"]
    assert sorted(losses(tiny_run)) == [1, 2, 3, 4, 5, 6]
    for stage in ("base", "final"):
        summary = json.loads((tiny_run / "eval" / stage / "summary.json").read_text())
        assert set(summary["tasks"]) == {"fidelity_es", "xquad_es", "ntrex_en_es", "xquad_en"}
        records = (tiny_run / "eval" / stage / "xquad_es.jsonl").read_text().splitlines()
        assert len(records) == 4 and {"prompt", "output", "reference", "scores"} <= set(json.loads(records[0]))


def test_every_step_records_its_time_and_peak_memory(tiny_run):
    markers = {p.stem: json.loads(p.read_text()) for p in (tiny_run / "steps").glob("*.json")}
    assert set(markers) == {"eval-base", "train", "eval-final", "report"}
    # the process holds torch and a model while training: well above an empty interpreter, far below the machine
    assert all(100 < markers[name]["peak_rss_mb"] < 16_000 for name in ("eval-base", "train", "eval-final"))
    assert all(50 < markers[name]["rss_start_mb"] <= markers[name]["peak_rss_mb"] for name in markers)
    report = (tiny_run / "report.md").read_text()
    table = report[report.index("## Time and memory per step"):].split("\n## ")[0]
    assert [line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| eval:") or
            line.startswith("| train")] == ["eval:base", "train", "eval:final"]


def test_report_command_rebuilds_the_report(tiny_run):
    (tiny_run / "report.md").unlink()
    done = lingotune("report", str(tiny_run))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "English retention (xquad_en)" in (tiny_run / "report.md").read_text()
    bad = lingotune("report", str(tiny_run / "checkpoints"))
    assert bad.returncode == 2 and "no eval/ folder" in " ".join(bad.stderr.split())


def test_final_model_and_adapter_load_with_plain_transformers(tiny_run):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    merged = AutoModelForCausalLM.from_pretrained(tiny_run / "model")
    AutoTokenizer.from_pretrained(tiny_run / "model")
    config = json.loads((tiny_run / "adapter" / "adapter_config.json").read_text())
    base = AutoModelForCausalLM.from_pretrained(config["base_model_name_or_path"])
    with_adapter = PeftModel.from_pretrained(base, tiny_run / "adapter").merge_and_unload()
    for (name, a), (_, b) in zip(merged.state_dict().items(), with_adapter.state_dict().items(), strict=True):
        assert a.shape == b.shape and (a - b).abs().max() < 1e-5, name


def test_base_evaluation_is_cached(tiny_run, tmp_path):
    done = lingotune("eval", str(TINY), f"output_dir={tmp_path / 'again'}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "cached evaluation" in done.stderr + done.stdout
    first = (tiny_run / "eval" / "base" / "xquad_es.jsonl").read_text()
    assert (tmp_path / "again" / "eval" / "base" / "xquad_es.jsonl").read_text() == first


def test_resume_after_kill_matches_uninterrupted_run(tiny_model, tmp_path):
    common = ["eval=null", "train.max_steps=40", "train.save_steps=2"]
    straight = lingotune("run", str(TINY), f"output_dir={tmp_path / 'straight'}", *common)
    assert straight.returncode == 0, straight.stderr[-3000:]
    run_dir = tmp_path / "killed"
    args = ["run", str(TINY), f"output_dir={run_dir}", *common]
    process = subprocess.Popen([sys.executable, "-m", "lingotune.cli", *args], cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = run_dir / "checkpoints" / "checkpoint-4" / "trainer_state.json"
    deadline = time.time() + 300
    while not checkpoint.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert checkpoint.exists(), "no checkpoint was written before the deadline"
    assert not (run_dir / "model").exists(), "the run finished before it could be killed"
    killed_at = max(losses(run_dir))
    resumed = lingotune(*args, "train.resume=true")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    expected, got = losses(tmp_path / "straight"), losses(run_dir)
    assert killed_at < 40
    assert sorted(got) == list(range(1, 41))
    assert got[40] == pytest.approx(expected[40], rel=1e-4, abs=1e-5)


def test_compare_real_run_against_base_evaluation(tiny_run, tmp_path):
    from matplotlib.image import imread

    base_dir = tmp_path / "base-eval"
    done = lingotune("eval", str(TINY), f"output_dir={base_dir}")
    assert done.returncode == 0, done.stderr[-2000:]
    out = tmp_path / "comparison"
    done = lingotune("compare", str(base_dir), str(tiny_run), "--out", str(out), env={"COLUMNS": "200"})
    assert done.returncode == 0, done.stderr[-2000:]
    markdown = (out / "comparison.md").read_text()
    for run_dir, stage in ((tiny_run, "final"), (base_dir, "base")):
        for task in ("xquad_es", "ntrex_en_es"):
            metric = "f1" if task == "xquad_es" else "chrf"
            scores = [json.loads(line)["scores"][metric]
                      for line in (run_dir / "eval" / stage / f"{task}.jsonl").read_text().splitlines()]
            if metric == "f1":  # per-item F1 averages to the task's F1; chrF is a corpus metric
                assert f"{sum(scores) / len(scores):.1f}" in markdown
            summary = json.loads((run_dir / "eval" / stage / "summary.json").read_text())
            assert f"{summary['tasks'][task]['metrics'][metric]['value']:.1f}" in markdown
    pngs = list((out / "plots").glob("*.png"))
    assert pngs and all(imread(png).size > 0 for png in pngs)


def _table_rows(markdown: str, width: int) -> list[list[str]]:
    return [[c.strip() for c in line.split("|")[1:-1]] for line in markdown.splitlines()
            if line.startswith("| ") and len(line.split("|")) == width + 2]


def test_report_and_compare_give_the_same_verdicts(tiny_run, tmp_path):
    """base → final in the run's report and ``lingotune compare`` of the same two stages: same Δ, same words."""
    from lingotune.report.paired import VERDICTS

    base_dir = tmp_path / "base-eval"
    done = lingotune("eval", str(TINY), f"output_dir={base_dir}")  # the cached base: the same records
    assert done.returncode == 0, done.stderr[-2000:]
    done = lingotune("compare", str(base_dir), str(tiny_run), "--out", str(tmp_path / "cmp"))
    assert done.returncode == 0, done.stderr[-2000:]
    comparison = {tuple(r[:3]): r[5] for r in _table_rows((tmp_path / "cmp" / "comparison.md").read_text(), 6)}
    headline = [r for r in _table_rows((tiny_run / "report.md").read_text(), 8) if r[7] in VERDICTS]
    assert headline, "no verdicts in the run report"
    assert any("[" in r[6] for r in headline), "nothing was paired: the test would prove nothing"
    for task, language, _, metric, _, _, delta, verdict in headline:
        assert comparison[(task, language, metric)] == f"{delta} {verdict}", (task, metric)
