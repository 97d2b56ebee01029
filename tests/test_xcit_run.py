"""X-CIT and PLUG recipes end to end on the tiny model: phases with self-paced learning, the two-turn
and PLUG inference protocols, and the SPL log and plot in the run folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run(recipe: str, run_dir: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "lingotune.cli", "run", f"tests/assets/{recipe}",
                           f"output_dir={run_dir}"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]


def test_xcit_phases_with_self_paced_learning_and_two_turn_eval(tiny_model, tmp_path):
    run("tiny_xcit.yaml", tmp_path / "x")
    phase = tmp_path / "x" / "phases" / "2-parameters"
    log = [json.loads(line) for line in (phase / "spl.jsonl").read_text().splitlines()]
    selected = [entry["n_selected"] for entry in log]
    assert selected == sorted(selected) and selected[-1] == log[-1]["n_total"] and selected[0] < selected[-1]
    assert (phase / "spl.png").stat().st_size > 1000
    assert "spl_2-parameters.png" in (tmp_path / "x" / "report.md").read_text()
    record = json.loads((tmp_path / "x" / "eval" / "final" / "xquad_es_two_turn.jsonl").read_text().splitlines()[0])
    assert "first_turn" in record
    summary = json.loads((tmp_path / "x" / "eval" / "final" / "summary.json").read_text())
    assert summary["tasks"]["xquad_es_two_turn"]["protocol"] == "two_turn"
    phases = {r.get("phase") for r in map(json.loads, (tmp_path / "x" / "metrics.jsonl").read_text().splitlines())}
    assert phases == {"principles", "parameters"}


def test_plug_baseline_records_label_extraction(tiny_model, tmp_path):
    run("tiny_plug.yaml", tmp_path / "p")
    summary = json.loads((tmp_path / "p" / "eval" / "final" / "summary.json").read_text())
    task = summary["tasks"]["xquad_es_plug"]
    assert task["protocol"] == "plug" and 0 <= task["label_missing"] <= 3
    record = json.loads((tmp_path / "p" / "eval" / "final" / "xquad_es_plug.jsonl").read_text().splitlines()[0])
    assert "raw_output" in record and "label_found" in record


def test_xcit_for_a_language_whose_files_are_not_in_the_repo(tiny_model, tmp_path):
    """Hindi XQuAD from ../shared (not shipped here), under its ISO 639-3 code, with a user-given cue."""
    from conftest import SHARED_DATA

    xquad = SHARED_DATA / "xquad"
    cue = "अब उत्तर हिंदी में दें।"
    source, task = "phases.1.data.sources.0", "eval.tasks.0"
    overrides = [
        "language=hin", f"{source}.path={xquad / 'xquad.hi.json'}", f"{source}.english_path={xquad / 'xquad.en.json'}",
        f"{source}.language=hin", f"{source}.cue={cue}", f"{source}.subset_fraction=0.005",
        f"{task}.path={xquad / 'xquad.hi.json'}", f"{task}.language=hin", f"{task}.cue={cue}",
        "train.max_length=4096", f"output_dir={tmp_path / 'hin'}",
    ]
    done = subprocess.run([sys.executable, "-m", "lingotune.cli", "run", "tests/assets/tiny_xcit.yaml", *overrides],
                          cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads((tmp_path / "hin" / "eval" / "final" / "xquad_es_two_turn.jsonl").read_text().splitlines()[0])
    assert any("\u0900" <= ch <= "\u097f" for ch in record["prompt"]), "the evaluation prompt is not the Hindi one"
    summary = json.loads((tmp_path / "hin" / "eval" / "final" / "summary.json").read_text())
    assert summary["tasks"]["xquad_es_two_turn"]["language"] == "hin"
