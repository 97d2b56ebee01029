"""Each kind of user mistake gives one clear message (no traceback) and a non-zero exit."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from lingotune.cli import app

runner = CliRunner()
REPO = Path(__file__).resolve().parent.parent


def invoke(*args: str):
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    assert "Traceback" not in result.output
    return result


def test_bad_recipe_key(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: x\nlanguage: es\nmodel:\n  sorce: tiny-random\n")
    result = invoke("run", str(recipe))
    assert result.exit_code == 2
    assert "r.yaml:4: unknown key 'model.sorce'" in " ".join(result.output.split())


def test_bad_data_records_are_all_reported(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text('{"instruction": "a", "output": "b"}\n{"instruction": 3}\nnot json\n')
    result = invoke("data", "validate", str(data), "--format", "alpaca", "--language", "es")
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert "d.jsonl:2" in output and "d.jsonl:3" in output and "2 bad record(s)" in output


def test_missing_model_path(tmp_path):
    result = invoke("models", "prepare", str(tmp_path / "no-such-model"))
    assert result.exit_code == 2
    assert "does not exist" in " ".join(result.output.split())


def test_unknown_model_name_lists_the_embedded_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = invoke("models", "prepare", "no-such-org/no-such-model")
    assert result.exit_code == 2
    output = " ".join(result.output.split())
    assert "not found" in output and "smollm2-135m-instruct" in output


def test_data_stats_reports_fertility_per_language(tiny_model):
    fixture = REPO / "data" / "quickstart" / "ntrex" / "ntrex.en-es.eval.tsv"
    result = invoke("data", "stats", str(fixture), "--format", "parallel", "--language", "es", "-s", "en",
                    "--model", "tiny-random")
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line.split("│")[2:] for line in result.output.splitlines() if "│" in line}
    assert set(rows) >= {"en", "es", "total"}
    words, tokens, fertility = (float(rows["es"][i].strip().replace(",", "")) for i in (1, 3, 4))
    assert fertility == round(tokens / words, 2)
