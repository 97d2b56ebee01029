"""``lingotune compare`` on two small, realistic run folders: numbers must be the runs' own."""

from __future__ import annotations

import json
import re
import zlib
from pathlib import Path

import numpy as np
from conftest import SHARED_DATA
from judge_stub import StubJudge
from matplotlib.image import imread

from lingotune.eval.bootstrap import bootstrap_ci
from lingotune.eval.judge.config import BackendSpec
from lingotune.eval.judge.run import task_entry, write_answers
from lingotune.report.compare import write_comparison

QUESTIONS = SHARED_DATA / "mt_bench_x" / "ES" / "question.jsonl"


def _metric(values: list[float]) -> dict[str, float]:
    value, low, high = bootstrap_ci(values, 200)
    return {"value": value, "low": low, "high": high}


def _write_stage(run: Path, stage: str, seed: int, judge_answer: str | None = None) -> None:
    rng = np.random.default_rng(seed)
    out = run / "eval" / stage
    out.mkdir(parents=True)
    f1 = [float(x) for x in rng.choice([0.0, 50.0, 100.0], 20)]
    fid = [float(x) for x in rng.choice([0.0, 1.0], 20)]
    (out / "xquad_es.jsonl").write_text("".join(json.dumps({"id": str(i), "scores": {"f1": v}}) + "\n"
                                                for i, v in enumerate(f1)))
    (out / "fidelity_en.jsonl").write_text("".join(json.dumps({"id": str(i), "scores": {"fidelity": v}}) + "\n"
                                                   for i, v in enumerate(fid)))
    tasks = {"xquad_es": {"kind": "qa", "language": "es", "n": 20, "retention": False, "metrics": {"f1": _metric(f1)}},
             "fidelity_en": {"kind": "fidelity", "language": "en", "n": 20, "retention": True,
                             "metrics": {"fidelity": _metric([100 * v for v in fid])}}}
    (out / "summary.json").write_text(json.dumps({"stage": stage, "tasks": tasks}))
    if judge_answer:
        judge = out / "judge"
        scores = [float(x) for x in rng.integers(1, 11, 6)]
        (judge / "single.jsonl").parent.mkdir()
        (judge / "single.jsonl").write_text("".join(json.dumps({"question_id": str(i), "turn": 1, "score": s,
                                                                "status": "ok"}) + "\n" for i, s in enumerate(scores)))
        qids = [json.loads(line)["question_id"] for line in QUESTIONS.read_text().splitlines()[:2]]
        write_answers(judge / "answers.jsonl", {q: [judge_answer] for q in qids}, run.name)
        summary = {"name": "mt_bench_es", "language": "es", "questions": str(QUESTIONS), "turns": [1],
                   "n_questions": 6, "complete": True, "single": {"score": _metric(scores)},
                   "requests": {"judge": {"requests": 6, "hits": 0, "prompt_tokens": 600, "completion_tokens": 60}}}
        (judge / "summary.json").write_text(json.dumps(summary))
        assert task_entry(summary)["metrics"]["judge_score"]["value"] == np.mean(scores)


def _make_run(root: Path, name: str, stages: list[str], **info) -> Path:
    run = root / name
    for k, stage in enumerate(stages):
        last = k == len(stages) - 1
        _write_stage(run, stage, seed=zlib.crc32(f"{name}/{stage}".encode()),
                     judge_answer=f"Respuesta de {name} en español, bastante completa." if last else None)
    (run / "run_info.json").write_text(json.dumps({"name": name, "model": "smollm2-135m-instruct", "language": "es",
                                                   "stages": stages, **info}))
    return run


def _mean_from_jsonl(path: Path, metric: str, scale: float = 1.0) -> float:
    return float(np.mean([json.loads(line)["scores"][metric] * scale for line in path.read_text().splitlines()]))


def test_comparison_numbers_match_the_runs_jsonl(tmp_path) -> None:
    base = _make_run(tmp_path, "base-eval", ["base"], wall_time_s=61.0, eval_time_s=60.0)
    tuned = _make_run(tmp_path, "quickstart", ["base", "final"], wall_time_s=600.0, train_time_s=420.0,
                      train_tokens=123456)
    with StubJudge(lambda m: "[[A]]") as stub:  # position-biased judge: every pair is a tie
        judge = BackendSpec(model="stub", base_url=stub.base_url, max_retries=0)
        md, html = write_comparison([base, tuned], tmp_path / "cmp", baseline=base, judge=judge)
    text = md.read_text()
    rows = {tuple(c.strip() for c in line.split("|")[1:4]): [c.strip() for c in line.split("|")[4:-1]]
            for line in text.splitlines() if line.startswith("| ") and not line.startswith("| Task")}
    f1_base = _mean_from_jsonl(base / "eval" / "base" / "xquad_es.jsonl", "f1")
    f1_final = _mean_from_jsonl(tuned / "eval" / "final" / "xquad_es.jsonl", "f1")
    f1_row = rows[("xquad_es", "es", "f1")]
    assert f1_row[0].startswith(f"{f1_base:.1f} [") and f1_row[1].startswith(f"{f1_final:.1f} [")
    assert f1_row[2].startswith(f"{f1_final - f1_base:+.1f}")
    fid_final = _mean_from_jsonl(tuned / "eval" / "final" / "fidelity_en.jsonl", "fidelity", 100)
    fid_base_stage = _mean_from_jsonl(tuned / "eval" / "base" / "fidelity_en.jsonl", "fidelity", 100)
    retention_row = rows[("English retention (fidelity_en)", "en", "fidelity: final ÷ base")]
    assert retention_row[1] == f"{fid_final / fid_base_stage * 100:.1f} %" and retention_row[0] == "—"
    single = tuned / "eval" / "final" / "judge" / "single.jsonl"
    scores = [json.loads(x)["score"] for x in single.read_text().splitlines()]
    assert rows[("mt_bench_es", "es", "judge_score (1–10)")][1].startswith(f"{np.mean(scores):.1f} [")
    ties = next(v for k, v in rows.items() if k[2] == "tie_rate")
    wins = next(v for k, v in rows.items() if k[2] == "win_rate")
    assert ties[1].startswith("100.0") and wins[1].startswith("0.0")
    assert "123,456" in text and "10m 00s" in text
    pngs = sorted((tmp_path / "cmp" / "plots").glob("*.png"))
    assert {p.stem for p in pngs} >= {"f1", "fidelity", "judge_score", "win_rate"}
    for png in pngs:
        assert imread(png).ndim == 3  # a real, decodable PNG
    assert html.read_text().count("data:image/png;base64,") == len(pngs)
    assert not re.search(r"<script", html.read_text())
