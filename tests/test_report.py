"""The run report: numbers, verdicts, plots, escaping, and robustness to half-written run directories."""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib.image as mpimg
import pytest

from lingotune.report.run_report import (
    Estimate,
    load_stage_summary,
    retention,
    stage_names,
    write_report,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SCRIPT = "<script>alert('pwned')</script>"
LONG_PROMPT = "Contexto: " + "El río | corre\nhacia el mar. " * 40 + "FIN-DEL-PROMPT"


def _m(value: float, low: float, high: float) -> dict[str, float]:
    return {"value": value, "low": low, "high": high}


# Metric values chosen so each verdict occurs: better, worse, no clear difference, and a zero "before" for n/a.
# The per-item records below do not reproduce these values, so the headline falls back to "unpaired".
STAGES: dict[str, dict[str, dict]] = {
    "base": {
        "xquad_es": {"kind": "qa", "language": "es", "n": 120, "retention": False,
                     "metrics": {"f1": _m(12.3, 9.8, 15.1), "em": _m(4.1, 2.0, 6.5)}},
        "fidelity_es": {"kind": "fidelity", "language": "es", "n": 80, "retention": False,
                        "n_unclassified": 3,
                        "metrics": {"fidelity": _m(61.0, 52.0, 70.0)}},
        "ntrex_en_es": {"kind": "translation", "language": "es", "n": 100, "retention": False,
                        "metrics": {"chrf": _m(30.0, 28.0, 32.0), "bleu": _m(10.0, 9.0, 11.0)}},
        "xquad_en": {"kind": "qa", "language": "en", "n": 120, "retention": True,
                     "metrics": {"f1": _m(50.0, 45.0, 55.0), "em": _m(0.0, 0.0, 0.0)}},
    },
    "final": {
        "xquad_es": {"kind": "qa", "language": "es", "n": 120, "retention": False,
                     "metrics": {"f1": _m(40.2, 35.0, 45.5), "em": _m(5.0, 3.0, 7.5)}},
        "fidelity_es": {"kind": "fidelity", "language": "es", "n": 80, "retention": False,
                        "n_unclassified": 1,
                        "metrics": {"fidelity": _m(91.0, 84.0, 96.0)}},
        "ntrex_en_es": {"kind": "translation", "language": "es", "n": 100, "retention": False,
                        "metrics": {"chrf": _m(29.5, 27.0, 31.0), "bleu": _m(6.0, 5.0, 7.0)}},
        "xquad_en": {"kind": "qa", "language": "en", "n": 120, "retention": True,
                     "metrics": {"f1": _m(45.0, 40.0, 50.0), "em": _m(2.0, 0.0, 4.0)}},
    },
}

RECIPE = """\
name: es-sft
model: smollm2-135m-instruct
language: es
# a comment with ``` backticks that must not end the code block
train:
  epochs: 2
  learning_rate: 2.0e-4
"""


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _items(stage: str, task: str) -> list[dict]:
    """Six items; the "final" file lists them in reverse so matching must go by id, not position."""
    items = []
    for i in range(6):
        output = f"{stage} answer {i} for {task}"
        if stage == "final" and task == "xquad_es" and i == 1:
            output = f"Respuesta {SCRIPT} fin"
        items.append({
            "id": f"{task}-{i}",
            "prompt": LONG_PROMPT if i == 0 else f"Pregunta {i} de {task}",
            "output": output,
            "reference": [f"ref {i}", f"alt {i}"] if task == "ntrex_en_es" else f"ref {i}",
            "scores": {"f1": 10.0 * i + (50 if stage == "final" else 0)},
            "detected_language": "es" if stage == "final" else "en",
        })
    return items[::-1] if stage == "final" else items


def _metrics_rows(n_steps: int = 30) -> list[dict]:
    rows = [{"step": s, "epoch": s / 15, "loss": 3.0 * 0.95**s + 0.05 * (s % 3),
             "learning_rate": 2e-4 * (1 - s / n_steps), "phase": "translated_sft" if s <= 15 else "x_cit"}
            for s in range(1, n_steps + 1)]
    return rows + [{"step": n_steps, "train_runtime": 123.4, "train_loss": 1.2}]


def make_run(root: Path, stages: dict[str, dict] = STAGES, metrics: bool = True,
             stage_order: list[str] | None = None) -> Path:
    """A run directory as the trainer and evaluator write it."""
    run_dir = root / "runs" / "es-sft"
    for stage, tasks in stages.items():
        stage_dir = run_dir / "eval" / stage
        stage_dir.mkdir(parents=True)
        summary = {"stage": stage, "model": "smollm2-135m-instruct", "tasks": tasks}
        (stage_dir / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
        for task in tasks:
            _write_jsonl(stage_dir / f"{task}.jsonl", _items(stage, task))
    info = {"name": "es-sft", "model": "smollm2-135m-instruct", "language": "es", "wall_time_s": 3725.5,
            "train_time_s": 3000.0, "eval_time_s": 600.25, "train_tokens": 1234567, "train_examples": 5000,
            "finished": True, "device": "cpu"}
    if stage_order is not None:
        info["stages"] = stage_order
    (run_dir / "run_info.json").write_text(json.dumps(info), encoding="utf-8")
    (run_dir / "recipe.yaml").write_text(RECIPE, encoding="utf-8")
    if metrics:
        rows = _metrics_rows()
        text = "".join(json.dumps(r) + "\n" for r in rows) + '{"step": 31, "loss": 0.'  # cut by a crash
        (run_dir / "metrics.jsonl").write_text(text, encoding="utf-8")
    return run_dir


def _cells(line: str) -> list[str]:
    """Cells of a Markdown table line, splitting only on unescaped pipes."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def _row(md: str, *leading: str) -> list[str]:
    """The first table row whose first cells are ``leading``."""
    for line in md.splitlines():
        if line.startswith("|"):
            cells = _cells(line)
            if cells[: len(leading)] == list(leading):
                return cells
    raise AssertionError(f"no row {leading} in:\n{md}")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    run_dir = make_run(tmp_path_factory.mktemp("report"))
    md_path, html_path = write_report(run_dir)
    return run_dir, md_path.read_text(encoding="utf-8"), html_path.read_text(encoding="utf-8")


def test_writes_both_files(report: tuple[Path, str, str]) -> None:
    run_dir, md, page = report
    assert (run_dir / "report.md").is_file() and (run_dir / "report.html").is_file()
    assert md.startswith("# lingotune run report: es-sft")
    assert page.startswith("<!DOCTYPE html>")


def test_header_has_run_details(report: tuple[Path, str, str]) -> None:
    _, md, _ = report
    assert _row(md, "Model") == ["Model", "smollm2-135m-instruct"]
    assert _row(md, "Target language")[1] == "es"
    assert _row(md, "Wall time")[1] == "1h 02m 06s (3725.5 s)"
    assert _row(md, "Eval time")[1] == "10m 00s (600.2 s)"
    assert _row(md, "Train tokens")[1] == "1,234,567"
    assert _row(md, "Train examples")[1] == "5,000"


@pytest.mark.parametrize(("task", "metric", "before", "after", "delta", "expected"), [
    ("xquad_es", "f1", "12.3 [9.8, 15.1]", "40.2 [35.0, 45.5]", "+27.9", "better"),
    ("xquad_es", "em", "4.1 [2.0, 6.5]", "5.0 [3.0, 7.5]", "+0.9", "no clear difference"),
    ("fidelity_es", "fidelity", "61.0 [52.0, 70.0]", "91.0 [84.0, 96.0]", "+30.0", "better"),
    ("ntrex_en_es", "chrf", "30.0 [28.0, 32.0]", "29.5 [27.0, 31.0]", "-0.5", "no clear difference"),
    ("ntrex_en_es", "bleu", "10.0 [9.0, 11.0]", "6.0 [5.0, 7.0]", "-4.0", "worse"),
    ("xquad_en", "f1", "50.0 [45.0, 55.0]", "45.0 [40.0, 50.0]", "-5.0", "no clear difference"),
])
def test_headline_numbers_and_verdicts(report: tuple[Path, str, str], task: str, metric: str, before: str,
                                       after: str, delta: str, expected: str) -> None:
    _, md, _ = report
    entry = STAGES["final"][task]
    row = _row(md, task, entry["language"], entry["kind"], metric)
    assert row[4:6] == [before, after] and row[7] == expected
    assert row[6].startswith(f"{delta} (unpaired: ")


def test_retention_rows(report: tuple[Path, str, str]) -> None:
    _, md, _ = report
    f1 = _row(md, "English retention (xquad_en)", "en", "retention", "f1")
    assert f1[5] == "90.0 %"  # 45.0 / 50.0
    em = _row(md, "English retention (xquad_en)", "en", "retention", "em")
    assert em[5] == "n/a"  # before is 0: no division by zero
    assert not any(line.startswith("| English retention (xquad_es)") for line in md.splitlines())


def test_pngs_are_written_and_valid(report: tuple[Path, str, str]) -> None:
    run_dir, md, _ = report
    names = ["loss.png", "metric_f1.png", "metric_em.png", "metric_fidelity.png", "metric_chrf.png",
             "metric_bleu.png"]
    for name in names:
        path = run_dir / "plots" / name
        data = path.read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 1024, name
        assert mpimg.imread(path).shape[0] > 100
        assert f"](plots/{name})" in md


def test_html_is_self_contained_and_escaped(report: tuple[Path, str, str]) -> None:
    run_dir, md, page = report
    assert page.count("data:image/png;base64,") == len(list((run_dir / "plots").glob("*.png"))) == 6
    assert "plots/" not in page.replace("data:image/png", "")  # no external image links
    assert SCRIPT not in page and SCRIPT not in md
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in page
    assert "&lt;script&gt;" in md


def test_samples_match_by_id_and_escape_markdown(report: tuple[Path, str, str]) -> None:
    _, md, page = report
    headers = _row(md, "ID")
    assert headers == ["ID", "Prompt", "Reference", "Output (base)", "Output (final)", "Scores"]
    row = _row(md, "xquad_es-3")
    assert row[3:5] == ["base answer 3 for xquad_es", "final answer 3 for xquad_es"]
    assert row[5] == "f1: 30.0 → 80.0<br>lang: en → es"
    assert _row(md, "ntrex_en_es-2")[2] == "ref 2<br>alt 2"
    assert not any(line.startswith("| xquad_es-5 ") for line in md.splitlines())  # only the first five
    first = next(line for line in md.splitlines() if line.startswith("| xquad_es-0 "))
    assert len(_cells(first)) == 6  # the prompt's "|" and newlines did not break the row
    assert "\\|" in first and "<br>" in first
    assert "FIN-DEL-PROMPT" not in first and "…" in first  # truncated in Markdown...
    assert "<details><summary>" in page and "FIN-DEL-PROMPT" in page  # ...and complete in HTML


def test_recipe_is_verbatim(report: tuple[Path, str, str]) -> None:
    _, md, page = report
    assert f"````yaml\n{RECIPE}````" in md  # fence longer than the recipe's own backticks
    assert "# a comment with ``` backticks" in page


def test_loss_curve_note_and_skipped_lines(report: tuple[Path, str, str]) -> None:
    _, md, _ = report
    assert "metrics.jsonl: 1 unreadable line(s) skipped." in md


def test_missing_metrics_jsonl(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, metrics=False)
    md_path, _ = write_report(run_dir)
    md = md_path.read_text(encoding="utf-8")
    assert "No loss curve" in md
    assert not (run_dir / "plots" / "loss.png").exists()
    assert (run_dir / "plots" / "metric_f1.png").is_file()


def test_single_stage(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, stages={"base": STAGES["base"]})
    md_path, html_path = write_report(run_dir)
    md = md_path.read_text(encoding="utf-8")
    assert _row(md, "Task") == ["Task", "Language", "Kind", "Metric", "base"]
    assert _row(md, "xquad_es", "es", "qa", "f1")[4] == "12.3 [9.8, 15.1]"
    assert "Verdict" not in md and "English retention" not in md
    assert "No evaluation summary for stage 'final'" in md
    assert _row(md, "ID") == ["ID", "Prompt", "Reference", "Output (base)", "Scores"]
    assert "data:image/png;base64," in html_path.read_text(encoding="utf-8")


def test_task_in_one_stage_only(tmp_path: Path) -> None:
    final = {**STAGES["final"], "extra_es": {"kind": "qa", "language": "es", "n": 10, "retention": False,
                                             "metrics": {"f1": _m(33.3, 20.0, 40.0)}}}
    base = {k: v for k, v in STAGES["base"].items() if k != "fidelity_es"}
    run_dir = make_run(tmp_path, stages={"base": base, "final": final})
    md = write_report(run_dir)[0].read_text(encoding="utf-8")
    assert _row(md, "extra_es", "es", "qa", "f1")[4:] == ["—", "33.3 [20.0, 40.0]", "—", "—"]
    assert _row(md, "fidelity_es", "es", "fidelity", "fidelity")[4:] == ["—", "91.0 [84.0, 96.0]", "—", "—"]
    assert _row(md, "fidelity_es-1")[3:5] == ["—", "final answer 1 for fidelity_es"]  # no "before" output


def test_three_stages_get_a_per_stage_table(tmp_path: Path) -> None:
    stages = {"base": STAGES["base"], "phase1": STAGES["base"], "final": STAGES["final"]}
    run_dir = make_run(tmp_path, stages=stages, stage_order=["base", "phase1", "final"])
    md = write_report(run_dir)[0].read_text(encoding="utf-8")
    assert "## Per-stage results" in md
    assert _row(md, "Task", "Metric") == ["Task", "Metric", "base", "phase1", "final", "phase1 vs base",
                                          "final vs base"]
    assert _row(md, "xquad_es", "f1")[:5] == ["xquad_es", "f1", "12.3 [9.8, 15.1]", "12.3 [9.8, 15.1]",
                                              "40.2 [35.0, 45.5]"]


def test_two_stages_have_no_per_stage_table(report: tuple[Path, str, str]) -> None:
    assert "Per-stage results" not in report[1]


def test_stage_names_order(tmp_path: Path) -> None:
    for stage in ("final", "zeta", "base", "phase1"):
        (tmp_path / "eval" / stage).mkdir(parents=True)
    assert stage_names(tmp_path) == ["base", "phase1", "zeta", "final"]
    (tmp_path / "run_info.json").write_text(json.dumps({"stages": ["base", "zeta", "phase1", "final"]}))
    assert stage_names(tmp_path) == ["base", "zeta", "phase1", "final"]
    assert stage_names(tmp_path / "nowhere") == []


def test_load_stage_summary(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path)
    assert load_stage_summary(run_dir, "base")["tasks"]["xquad_es"]["n"] == 120
    assert load_stage_summary(run_dir, "phase9") == {"stage": "phase9", "tasks": {}}


def test_corrupt_summary_and_empty_run_do_not_crash(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path)
    (run_dir / "eval" / "final" / "summary.json").write_text("{not json")
    md = write_report(run_dir)[0].read_text(encoding="utf-8")
    assert "Could not read the summary of stage 'final'" in md
    empty = tmp_path / "empty"
    empty.mkdir()
    md = write_report(empty)[0].read_text(encoding="utf-8")
    assert "No evaluation results found" in md and "recipe.yaml is missing" in md


def test_retention_rule() -> None:
    assert retention(Estimate(40.0), Estimate(30.0)) == "75.0 %"
    assert retention(Estimate(0.0), Estimate(30.0)) == "n/a"
    assert retention(None, Estimate(30.0)) == "—"


def test_unclassified_fidelity_answers_are_reported(tmp_path: Path) -> None:
    run = tmp_path / "run"
    for stage, unclassified in (("base", 2), ("final", 7)):
        (run / "eval" / stage).mkdir(parents=True)
        task = {"kind": "fidelity", "language": "es", "n": 80, "retention": False, "n_unclassified": unclassified,
                "metrics": {"fidelity": {"value": 80.0, "low": 70.0, "high": 90.0}}}
        (run / "eval" / stage / "summary.json").write_text(json.dumps({"stage": stage, "tasks": {"fid": task}}))
    md, _ = write_report(run)
    assert "fid (base: 2 of 80, final: 7 of 80)" in md.read_text()
