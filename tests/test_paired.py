"""Paired Δ with bootstrap CIs over items matched by id, the one verdict vocabulary, and the unpaired fallback.

Run folders are crafted here with records and summaries that agree, as the evaluator writes them."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from sacrebleu.metrics import CHRF

from lingotune.eval.bootstrap import bootstrap_ci, paired_corpus_delta, resample_indices
from lingotune.eval.translation import bleu, bleu_ci, chrf_ci
from lingotune.report.compare import write_comparison
from lingotune.report.paired import (
    BETTER,
    NO_CLEAR_DIFFERENCE,
    WORSE,
    Comparison,
    Side,
    compare,
    delta_cell,
    verdict,
)
from lingotune.report.run_report import write_report

WORDS = ("el río corre hacia el mar bajo un cielo gris mientras los niños juegan en la orilla con sus perros "
         "y la ciudad despierta lentamente").split()


def _metric(values: list[float], resamples: int = 200) -> dict[str, float]:
    value, low, high = bootstrap_ci(values, resamples)
    return {"value": value, "low": low, "high": high}


def _write_task(run: Path, stage: str, task: str, entry: dict, records: list[dict]) -> None:
    """Add one task (summary entry and per-item records) to ``eval/<stage>/`` of a run folder."""
    out = run / "eval" / stage
    out.mkdir(parents=True, exist_ok=True)
    path = out / "summary.json"
    summary = json.loads(path.read_text()) if path.is_file() else {"stage": stage, "tasks": {}}
    summary["tasks"][task] = entry
    path.write_text(json.dumps(summary))
    (out / f"{task}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def _qa(run: Path, stage: str, f1: list[float], ids: list[str] | None = None) -> None:
    ids = ids or [f"q{i}" for i in range(len(f1))]
    records = [{"id": k, "prompt": f"Pregunta {k}", "output": "respuesta", "reference": "ref", "scores": {"f1": v}}
               for k, v in zip(ids, f1, strict=True)]
    _write_task(run, stage, "xquad_es", {"kind": "qa", "language": "es", "n": len(f1), "retention": False,
                                         "metrics": {"f1": _metric(f1)}}, records)


def _side(run: Path, stage: str, task: str) -> Side:
    return Side(run, stage, json.loads((run / "eval" / stage / "summary.json").read_text())["tasks"][task])


def _cells(md: str, *leading: str) -> list[str]:
    for line in md.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if cells[: len(leading)] == list(leading):
            return cells
    raise AssertionError(f"no row {leading} in:\n{md}")


@pytest.fixture
def plus_three(tmp_path: Path) -> Path:
    """100 items with a wide spread (F1 0–90), and an "after" that is exactly 3 points better on every one."""
    a = [float(x) for x in np.random.default_rng(1).uniform(0, 90, 100)]
    _qa(tmp_path, "base", a)
    _qa(tmp_path, "final", [x + 3 for x in a])
    return tmp_path


def test_paired_ci_excludes_zero_where_the_two_cis_overlap(plus_three: Path) -> None:
    a, b = _side(plus_three, "base", "xquad_es"), _side(plus_three, "final", "xquad_es")
    result = compare(a, b, "xquad_es", "f1")
    assert result is not None and result.paired and result.n == 100 and result.resamples == 1000
    (_, _, a_high), (_, b_low, _) = result.before, result.after
    assert b_low < a_high  # the per-system CIs overlap: the old rule called this noise
    assert verdict(Comparison(result.before, result.after, result.delta, unpaired="x")) == NO_CLEAR_DIFFERENCE
    assert result.delta == pytest.approx(3.0) and result.low == pytest.approx(3.0) and result.high == pytest.approx(3.0)
    assert verdict(result) == BETTER and delta_cell(result) == "+3.0 [+3.0, +3.0]"
    assert verdict(compare(b, a, "xquad_es", "f1")) == WORSE
    md = write_report(plus_three)[0].read_text()
    assert _cells(md, "xquad_es", "es", "qa", "f1")[6:] == ["+3.0 [+3.0, +3.0]", BETTER]
    assert "paired bootstrap 95 % CI" in md and "Items per task: xquad_es 100." in md


def test_identical_systems_are_no_clear_difference(tmp_path: Path) -> None:
    values = [float(x) for x in np.random.default_rng(2).choice([0.0, 40.0, 100.0], 50)]
    _qa(tmp_path, "base", values)
    _qa(tmp_path, "final", values[::-1], ids=[f"q{i}" for i in range(50)][::-1])  # other order: match by id
    result = compare(_side(tmp_path, "base", "xquad_es"), _side(tmp_path, "final", "xquad_es"), "xquad_es", "f1")
    assert result is not None and result.paired
    assert (result.delta, result.low, result.high) == (0.0, 0.0, 0.0)
    assert verdict(result) == NO_CLEAR_DIFFERENCE and delta_cell(result) == "+0.0 [+0.0, +0.0]"


def test_noisy_gain_is_better_only_when_paired(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    a = rng.uniform(0, 90, 100)
    _qa(tmp_path, "base", [float(x) for x in a])
    _qa(tmp_path, "final", [float(x) for x in a + 3 + rng.normal(0, 4, 100)])
    result = compare(_side(tmp_path, "base", "xquad_es"), _side(tmp_path, "final", "xquad_es"), "xquad_es", "f1")
    assert result is not None and 0 < result.low < result.delta < result.high and verdict(result) == BETTER
    assert verdict(Comparison(result.before, result.after, result.delta, unpaired="x")) == NO_CLEAR_DIFFERENCE


# --------------------------------------------------------------------------- corpus metrics


def _sentences(seed: int, n: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, int(rng.integers(4, 10)))) for _ in range(n)]


def _perturb(refs: list[str], seed: int, keep: float) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(w if rng.random() < keep else str(rng.choice(WORDS)) for w in r.split()) for r in refs]


def _translation(run: Path, stage: str, hyps: list[str], refs: list[str], language: str = "es") -> None:
    records = [{"id": f"s{i}", "prompt": "Traduce", "output": h, "reference": r, "scores": {}}
               for i, (h, r) in enumerate(zip(hyps, refs, strict=True))]
    chrf_value, chrf_low, chrf_high = chrf_ci(hyps, refs, n_resamples=200)
    bleu_value, bleu_low, bleu_high = bleu_ci(hyps, refs, language, n_resamples=200)
    entry = {"kind": "translation", "language": language, "n": len(hyps), "retention": False,
             "bootstrap_resamples": 200,
             "metrics": {"chrf": {"value": chrf_value, "low": chrf_low, "high": chrf_high},
                         "bleu": {"value": bleu_value, "low": bleu_low, "high": bleu_high}}}
    _write_task(run, stage, "ntrex", entry, records)


def test_chrf_delta_matches_sacrebleu_on_the_same_resamples(tmp_path: Path) -> None:
    refs = _sentences(4, 30)
    hyps_a, hyps_b = _perturb(refs, 5, 0.5), _perturb(refs, 6, 0.7)
    _translation(tmp_path, "base", hyps_a, refs)
    _translation(tmp_path, "final", hyps_b, refs)
    result = compare(_side(tmp_path, "base", "ntrex"), _side(tmp_path, "final", "ntrex"), "ntrex", "chrf")
    assert result is not None and result.paired and result.resamples == 200 and result.n == 30

    indices = np.concatenate(list(resample_indices(30, 200, seed=0)))
    np.testing.assert_array_equal(indices, np.random.default_rng(0).integers(0, 30, size=(200, 30)))
    metric = CHRF()

    def corpus(hyps: list[str], rows: np.ndarray) -> float:
        return metric.corpus_score([hyps[i] for i in rows], [[refs[i] for i in rows]]).score

    everything = np.arange(30)
    deltas = [corpus(hyps_b, row) - corpus(hyps_a, row) for row in indices]
    low, high = np.percentile(deltas, [2.5, 97.5])
    assert result.delta == pytest.approx(corpus(hyps_b, everything) - corpus(hyps_a, everything), abs=1e-9)
    assert (result.low, result.high) == pytest.approx((low, high), abs=1e-9)
    assert paired_corpus_delta(hyps_a, hyps_b, refs, metric, 200) == pytest.approx((result.delta, low, high))


def test_bleu_follows_the_language_like_the_evaluation(tmp_path: Path) -> None:
    refs = ["今日は天気がとても良いので公園に行きます", "私は毎朝コーヒーを飲みながら新聞を読みます",
            "駅の近くに新しいパン屋ができました", "週末は家族と一緒に映画を見に行く予定です"] * 3
    hyps_a = [r[:-3] + "ません" for r in refs]
    hyps_b = [r[:-1] for r in refs]
    assert bleu(hyps_a, refs, "ja") != bleu(hyps_a, refs, tokenize="13a")  # the tokeniser matters here
    _translation(tmp_path, "base", hyps_a, refs, language="ja")
    _translation(tmp_path, "final", hyps_b, refs, language="ja")
    result = compare(_side(tmp_path, "base", "ntrex"), _side(tmp_path, "final", "ntrex"), "ntrex", "bleu")
    assert result is not None and result.paired, result  # records reproduce the summary's BLEU ("char")


# --------------------------------------------------------------------------- unpaired fallbacks


@pytest.mark.parametrize(("damage", "reason"), [
    (lambda run: (run / "eval" / "final" / "xquad_es.jsonl").unlink(), "no per-item records for final"),
    (lambda run: _rewrite(run, lambda r: {**r, "id": "other"} if r["id"] == "q0" else r),
     "ids differ (1 only in base, 1 only in final)"),
    (lambda run: _rewrite(run, lambda r: {**r, "id": "q1"} if r["id"] == "q0" else r), "id q1 twice in final's"),
    (lambda run: _rewrite(run, lambda r: {**r, "scores": {"f1": "high"}}), "a non-numeric f1 in final's records"),
    (lambda run: _rewrite(run, lambda r: {**r, "scores": "garbage"}), "no per-item f1 in final's records"),
    (lambda run: _rewrite(run, lambda r: {**r, "scores": {"f1": 0.0}}), "final's records give 0.0, its summary"),
    (lambda run: (run / "eval" / "final" / "xquad_es.jsonl").write_text("{cut by a cr"),
     "no per-item records for final"),
])
def test_missing_or_mismatched_records_fall_back_to_unpaired(plus_three: Path, damage, reason: str) -> None:
    damage(plus_three)
    result = compare(_side(plus_three, "base", "xquad_es"), _side(plus_three, "final", "xquad_es"), "xquad_es", "f1")
    assert result is not None and not result.paired and reason in str(result.unpaired)
    assert result.delta == pytest.approx(3.0) and verdict(result) == NO_CLEAR_DIFFERENCE  # the two CIs overlap
    md = write_report(plus_three)[0].read_text()
    delta, shown = _cells(md, "xquad_es", "es", "qa", "f1")[6:]
    assert delta.startswith("+3.0 (unpaired: ") and shown == NO_CLEAR_DIFFERENCE
    assert "'unpaired': the per-item records could not be matched" in md


def _rewrite(run: Path, change) -> None:
    path = run / "eval" / "final" / "xquad_es.jsonl"
    rows = [change(json.loads(line)) for line in path.read_text().splitlines()]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_a_single_item_is_not_paired(tmp_path: Path) -> None:
    _qa(tmp_path, "base", [10.0])
    _qa(tmp_path, "final", [60.0])
    result = compare(_side(tmp_path, "base", "xquad_es"), _side(tmp_path, "final", "xquad_es"), "xquad_es", "f1")
    assert result is not None and result.unpaired == "1 item(s) scored in both" and verdict(result) == BETTER


@pytest.mark.parametrize(("before", "after", "expected"), [
    ((10, 8, 12), (15, 12.5, 17), BETTER),
    ((10, 8, 12), (15, 12, 17), NO_CLEAR_DIFFERENCE),  # touching intervals are not a change
    ((10, 8, 12), (5, 3, 7.9), WORSE),
    ((10, 10, 10), (10.1, 10.1, 10.1), BETTER),  # no CI: compare the point values
])
def test_unpaired_verdict_compares_the_two_intervals(before, after, expected: str) -> None:
    assert verdict(Comparison(before, after, after[0] - before[0], unpaired="no records")) == expected
    assert verdict(None) == "—"


def test_fidelity_pairs_the_items_classified_in_both(tmp_path: Path) -> None:
    base = [1, 0, None, 1, 0, 0, None, 1, 0, 0] * 4
    final = [1, 1, 1, None, 1, 0, None, 1, 1, 0] * 4
    for stage, matches in (("base", base), ("final", final)):
        records = [{"id": str(i), "output": "x", "scores": {"fidelity": None if m is None else float(m)}}
                   for i, m in enumerate(matches)]
        classified = [100.0 * m for m in matches if m is not None]
        _write_task(tmp_path, stage, "fid", {"kind": "fidelity", "language": "es", "n": 40, "n_unclassified": 8,
                                             "metrics": {"fidelity": _metric(classified)}}, records)
    result = compare(_side(tmp_path, "base", "fid"), _side(tmp_path, "final", "fid"), "fid", "fidelity")
    both = [k for k in range(40) if base[k] is not None and final[k] is not None]
    assert result is not None and result.paired and result.n == len(both) == 28
    assert result.subset == "classified in both"
    assert result.delta == pytest.approx(100 * np.mean([final[k] - base[k] for k in both]))  # type: ignore[operator]
    md = write_report(tmp_path)[0].read_text()
    assert "fid 28 (classified in both)" in md


def test_judge_scores_pair_by_question_and_turn(tmp_path: Path) -> None:
    scores = [float(x) for x in np.random.default_rng(7).integers(1, 9, 12)]
    for stage, shift in (("base", 0.0), ("final", 1.0)):
        judged = [{"question_id": str(100 + i // 2), "turn": 1 + i % 2, "score": s + shift, "status": "ok"}
                  for i, s in enumerate(scores)]
        judge = tmp_path / "eval" / stage / "judge"
        judge.mkdir(parents=True)
        (judge / "single.jsonl").write_text("".join(json.dumps(r) + "\n" for r in judged))
        entry = {"kind": "judge", "language": "es", "n": 6, "metrics": {
            "judge_score": _metric([s + shift for s in scores]), "win_rate": _metric([50.0, 100.0])}}
        (tmp_path / "eval" / stage / "summary.json").write_text(json.dumps({"tasks": {"mt_bench": entry}}))
    a, b = _side(tmp_path, "base", "mt_bench"), _side(tmp_path, "final", "mt_bench")
    result = compare(a, b, "mt_bench", "judge_score")
    assert result is not None and result.paired and result.n == 12 and verdict(result) == BETTER
    rates = compare(a, b, "mt_bench", "win_rate")
    assert rates is not None and rates.unpaired == "win_rate has no per-item records to pair"


# --------------------------------------------------------------------------- one vocabulary, everywhere


def test_report_and_comparison_give_the_same_verdicts(plus_three: Path, tmp_path_factory) -> None:
    """The same pair of stages as a run report and as ``lingotune compare`` of two run folders."""
    report = write_report(plus_three)[0].read_text()
    root = tmp_path_factory.mktemp("cmp")
    for stage, name in (("base", "before"), ("final", "after")):
        shutil.copytree(plus_three / "eval" / stage, root / name / "eval" / stage)
        (root / name / "run_info.json").write_text(json.dumps({"name": name, "stages": [stage]}))
    text = write_comparison([root / "before", root / "after"], root / "out")[0].read_text()
    headline = _cells(report, "xquad_es", "es", "qa", "f1")
    assert _cells(text, "xquad_es", "es", "f1")[5] == f"{headline[6]} {headline[7]}" == "+3.0 [+3.0, +3.0] better"
    assert _cells(text, "xquad_es", "f1")[6:] == [headline[6], BETTER]  # best per metric: best vs runner-up
    assert "Δ = RUN − before, with a paired bootstrap 95 % CI" in text


def test_samples_in_report_comes_from_the_recipe(plus_three: Path) -> None:
    def sample_rows() -> int:
        md = write_report(plus_three)[0].read_text()
        return sum(line.startswith("| q") for line in md.splitlines())

    assert sample_rows() == 5  # no recipe.yaml: the default
    (plus_three / "recipe.yaml").write_text("name: x\neval:\n  samples_in_report: 2\n")
    assert sample_rows() == 2
    (plus_three / "recipe.yaml").write_text("eval: {samples_in_report: 0}\n")
    assert sample_rows() == 0
    (plus_three / "recipe.yaml").write_text("eval: [unclosed\n")
    assert sample_rows() == 5  # unreadable: the default, never a failed report
