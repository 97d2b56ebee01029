"""``lingotune data tag`` / ``data codeswitch`` / ``data stats`` on code-mixed files, end to end."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from lingotune.cli import app
from lingotune.language.conll import read_conll

runner = CliRunner()
REPO = Path(__file__).resolve().parent.parent
SENTIMIX_EVAL = REPO / "data" / "codeswitch" / "sentimix" / "sentimix_hinglish.eval.conll"


def invoke(*args: str):
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    assert "Traceback" not in result.output, result.output
    return result


def test_tag_a_conll_file_reports_accuracy_against_its_gold_tags(tmp_path):
    out = tmp_path / "tagged.conll"
    result = invoke("data", "tag", str(SENTIMIX_EVAL), "--out", str(out))
    assert result.exit_code == 0
    gold, tagged = read_conll(SENTIMIX_EVAL), read_conll(out)
    assert [u.tokens for u in gold] == [u.tokens for u in tagged] and [u.uid for u in tagged] == [u.uid for u in gold]
    text = " ".join(result.output.split())
    accuracy = float(re.search(r"accuracy\W+([\d.]+) %", text).group(1))
    pairs = [(g, p) for a, b in zip(gold, tagged, strict=True) for g, p in zip(a.tags, b.tags, strict=True)]
    assert abs(accuracy - 100 * sum(g == p for g, p in pairs) / len(pairs)) < 0.051
    assert accuracy > 80  # SentiMix's own tags are noisy (handles tagged Hin/Eng); docs/measurements/issue13


def test_tag_plain_text_one_utterance_per_line(tmp_path):
    text = tmp_path / "chat.txt"
    text.write_text("yaar this movie was bahut accha 😂\n\nमुझे यह पसंद है, really!\n", encoding="utf-8")
    result = invoke("data", "tag", str(text))
    assert result.exit_code == 0
    tagged = read_conll(tmp_path / "chat.tagged.conll")
    assert len(tagged) == 2
    first = dict(zip(tagged[0].tokens, tagged[0].tags, strict=True))
    assert first["movie"] == "en" and first["bahut"] == "hi" and first["😂"] == "other"
    assert set(tagged[1].tags) == {"hi", "other", "en"} and tagged[1].tags[0] == "hi"


def test_codeswitch_writes_summary_scores_and_histogram(tmp_path):
    result = invoke("data", "codeswitch", str(SENTIMIX_EVAL), "--out", str(tmp_path / "cs"))
    assert result.exit_code == 0
    summary = json.loads((tmp_path / "cs" / "summary.json").read_text())
    rows = [json.loads(line) for line in (tmp_path / "cs" / "utterances.jsonl").read_text().splitlines()]
    assert summary["utterances"] == len(rows) == 283 and summary["language_names"] == "en, hi"
    # per-utterance values are written to 6 decimals
    assert abs(summary["mean_s_index"] - sum(r["s_index"] for r in rows) / len(rows)) < 1e-6
    assert (tmp_path / "cs" / "histogram.png").read_bytes()[:4] == b"\x89PNG"
    assert "mean S-index" in result.output and "the file's own tags" in result.output
    retagged = invoke("data", "codeswitch", str(SENTIMIX_EVAL), "--retag", "--out", str(tmp_path / "cs2"))
    assert retagged.exit_code == 0 and "tagger hinglish" in retagged.output


def test_stats_of_a_conll_file_include_code_switching():
    result = invoke("data", "stats", str(SENTIMIX_EVAL), "--language", "hi")
    assert result.exit_code == 0 and "code-switching" in result.output and "M-index" in result.output


def test_bad_conll_and_tagger_inputs_fail_with_one_message(tmp_path):
    bad = tmp_path / "bad.conll"
    bad.write_text("yaar\tHin\nhello\n", encoding="utf-8")
    result = invoke("data", "codeswitch", str(bad))
    assert result.exit_code != 0 and "bad.conll:2" in result.output and "no tag column" in result.output
    text = tmp_path / "t.txt"
    text.write_text("hola amigo\n", encoding="utf-8")
    result = invoke("data", "tag", str(text), "--tagger", "lingua:en")
    assert result.exit_code != 0 and "lingua:LANG1,LANG2" in result.output


def test_shipped_recipe_runs_on_the_tiny_model(tmp_path):
    """Plumbing: every step of recipes/codeswitch_hinglish.yaml (both experts, the four task kinds, the
    report) on the tiny random model with 2 steps and 5 items per task."""
    from tests.test_run_tiny import lingotune

    overrides = ["model.source=tiny-random", "train.max_steps=2", "train.dtype=float32", f"output_dir={tmp_path}"]
    overrides += [f"eval.tasks.{k}.{key}={value}" for k in range(4) for key, value in
                  (("max_items", 5), ("max_new_tokens", 6))]
    done = lingotune("run", str(REPO / "recipes" / "codeswitch_hinglish.yaml"), *overrides)
    assert done.returncode == 0, done.stderr[-3000:]
    info = json.loads((tmp_path / "run_info.json").read_text())
    assert info["finished"] and info["stages"] == ["base", "unbalanced", "balanced"]
    expected = {"sentiment_hi": {"accuracy", "macro_f1", "unparseable"},
                "rewrite_hi": {"chrf", "s_index", "s_index_gap", "cmi", "loop"}, "parse_hi": {"exact_match", "chrf"},
                "rewrite_es_unseen": {"chrf", "s_index", "s_index_gap", "cmi", "loop"}}
    for stage in info["stages"]:
        tasks = json.loads((tmp_path / "eval" / stage / "summary.json").read_text())["tasks"]
        assert {name: set(entry["metrics"]) for name, entry in tasks.items()} == expected
    assert "drawn across switching levels" in done.stdout + done.stderr
    notes = (tmp_path / "experts" / "balanced" / "data_notes.md").read_text()
    assert notes.count("drawn across switching levels") == 3 and "| > 0.35 |" in notes
    assert not (tmp_path / "experts" / "unbalanced" / "data_notes.md").exists()
    assert "| balanced | expert" in (tmp_path / "report.md").read_text()
