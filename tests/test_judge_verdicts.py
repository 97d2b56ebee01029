"""Judging end to end against a scripted judge: garbage verdicts, repairs, a position-biased judge,
multi-turn prompts and the wrong-language rule (fast: the judge is a stub, lingotune is real)."""

from __future__ import annotations

import json

import pytest
from conftest import SHARED_DATA
from judge_stub import StubJudge

from lingotune.eval.judge.config import BackendSpec, JudgeSpec
from lingotune.eval.judge.run import run_judge, write_answers
from lingotune.inference.backends import RequestCache

QUESTIONS = SHARED_DATA / "mt_bench_x" / "ES" / "question.jsonl"
GOOD = "La fotosíntesis es el proceso por el que las plantas convierten la luz en energía química."
WORSE = "Las plantas usan la luz del sol para crecer un poco más cada día en el jardín."
ENGLISH = "Photosynthesis is how plants turn sunlight into chemical energy for their growth."


def _spec(tmp_path, base_url: str, **overrides) -> JudgeSpec:
    qids = [json.loads(line)["question_id"] for line in QUESTIONS.read_text().splitlines()[:3]]
    answers, baseline = tmp_path / "model.jsonl", tmp_path / "baseline.jsonl"
    write_answers(answers, {q: [GOOD, GOOD + " Segunda respuesta en español."] for q in qids}, "model")
    write_answers(baseline, {q: [WORSE, WORSE + " Otra respuesta en español."] for q in qids}, "base")
    fields = dict(questions=str(QUESTIONS), language="es", max_items=3, answers=str(answers),
                  baseline_answers=str(baseline), mode="both", parse_retries=1, bootstrap_resamples=200,
                  judge=BackendSpec(model="stub", base_url=base_url, max_retries=0),
                  cache_path=str(tmp_path / "cache.sqlite"))
    return JudgeSpec(**(fields | overrides))


def _rows(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_garbage_is_retried_then_recorded_unparseable_never_counted(tmp_path) -> None:
    with StubJudge(lambda m: "Both answers are lovely, I cannot decide.") as stub:
        summary = run_judge(_spec(tmp_path, stub.base_url), tmp_path / "out")
        # 3 single + 6 pairwise games, each asked twice (the original and one repair turn)
        assert len(stub.requests) == 18
        repair = stub.requests[-1]["messages"]
        assert repair[-2]["role"] == "assistant" and "required format" in repair[-1]["content"]
    single = _rows(tmp_path / "out" / "single.jsonl")
    assert all(r["status"] == "unparseable" and r["score"] is None and r["attempts"] == 2 for r in single)
    assert all(len(r["judge_outputs"]) == 2 and r["detected_language"] == "es" for r in single)
    assert summary["single"]["n_unparseable"] == 3 and summary["single"]["score"] is None
    assert summary["pairwise"]["n_unparseable"] == 3 and summary["pairwise"]["n_decided"] == 0
    assert summary["pairwise"]["win_rate"] is None and summary["complete"] is True


def test_repair_turn_recovers_a_verdict(tmp_path) -> None:
    def reply(messages):
        return "[[8]]" if messages[-1]["content"].startswith("Your reply did not") else "muy buena respuesta"

    with StubJudge(reply) as stub:
        summary = run_judge(_spec(tmp_path, stub.base_url, mode="single"), tmp_path / "out")
    rows = _rows(tmp_path / "out" / "single.jsonl")
    assert [r["score"] for r in rows] == [8.0] * 3 and all(r["attempts"] == 2 for r in rows)
    assert summary["single"]["score"]["value"] == 8.0


def test_judge_biased_to_position_a_gives_ties_not_wins(tmp_path) -> None:
    with StubJudge(lambda m: "Assistant A is clearly better. [[A]]") as stub:
        summary = run_judge(_spec(tmp_path, stub.base_url, mode="pairwise"), tmp_path / "out")
        games = [r["messages"][1]["content"] for r in stub.requests]
    pairs = _rows(tmp_path / "out" / "pairwise.jsonl")
    assert all(r["game1"] == "A" and r["game2"] == "A" and r["outcome"] == "tie" for r in pairs)
    assert summary["pairwise"]["wins"] == 0 and summary["pairwise"]["ties"] == 3
    assert summary["pairwise"]["tie_rate"]["value"] == 100.0
    # both orders were really asked: the model's answer is first in one game and second in the other
    assert sum(g.index(GOOD) < g.index(WORSE) for g in games) == 3 == sum(g.index(GOOD) > g.index(WORSE) for g in games)


def test_consistent_judge_gives_wins_and_multi_turn_uses_the_second_turn(tmp_path) -> None:
    def prefers_photosynthesis(messages):
        text = messages[1]["content"]
        marker = "### Asistente A:" if "### Asistente A:" in text else "Asistente A]"
        a_part = text.split(marker, 1)[1]
        a_is_good = a_part.find(GOOD) != -1 and (a_part.find(WORSE) == -1 or a_part.find(GOOD) < a_part.find(WORSE))
        return "[[A]]" if a_is_good else "[[B]]"

    with StubJudge(prefers_photosynthesis) as stub:
        summary = run_judge(_spec(tmp_path, stub.base_url, mode="pairwise", turns=[1, 2]), tmp_path / "out")
        second_turn = [r for r in stub.requests if "Segunda respuesta" in r["messages"][1]["content"]]
    assert summary["pairwise"]["wins"] == 6 and summary["pairwise"]["win_rate"]["value"] == 100.0
    assert second_turn and all("segunda pregunta" in r["messages"][0]["content"] for r in second_turn)
    assert {r["turn"] for r in _rows(tmp_path / "out" / "pairwise.jsonl")} == {1, 2}


def test_wrong_language_answer_scores_one_and_the_rule_is_in_the_prompt(tmp_path) -> None:
    qids = [json.loads(line)["question_id"] for line in QUESTIONS.read_text().splitlines()[:3]]
    english = tmp_path / "english.jsonl"
    write_answers(english, {q: [ENGLISH] for q in qids}, "english")
    with StubJudge(lambda m: "Great content. [[9]]") as stub:
        run_judge(_spec(tmp_path, stub.base_url, mode="single", answers=str(english)), tmp_path / "out")
        assert all("must answer in Spanish" in r["messages"][0]["content"] for r in stub.requests)
    rows = _rows(tmp_path / "out" / "single.jsonl")
    assert all(r["judge_score"] == 9.0 and r["score"] == 1.0 and r["override"] == "wrong_language" for r in rows)
    assert all(r["detected_language"] == "en" and r["language_ok"] is False for r in rows)


def test_rerun_is_served_from_the_cache(tmp_path) -> None:
    with StubJudge(lambda m: "[[6]]") as stub:
        run_judge(_spec(tmp_path, stub.base_url), tmp_path / "out")
        sent = len(stub.requests)
        summary = run_judge(_spec(tmp_path, stub.base_url), tmp_path / "out2",
                            cache=RequestCache(tmp_path / "cache.sqlite"))
        assert len(stub.requests) == sent and summary["requests"]["judge"]["requests"] == 0
        assert summary["requests"]["judge"]["hits"] == sent


def test_pipeline_hook_judges_base_then_final_against_base(tmp_path, tiny_model) -> None:
    from types import SimpleNamespace

    from lingotune.core.context import RunContext
    from lingotune.core.layout import RunLayout
    from lingotune.eval.judge.run import judge_stage

    with StubJudge(lambda m: "[[C]] [[5]]" if "[[A]]" in m[0]["content"] else "[[5]]") as stub:
        spec = _spec(tmp_path, stub.base_url, answers=None, baseline_answers="stage:base", max_items=2,
                     max_new_tokens=4)
        eval_spec = SimpleNamespace(judge=spec, dtype="float32", batch_size=4)
        ctx = RunContext(RunLayout(tmp_path))
        base = judge_stage(tiny_model, eval_spec, ctx, "base")
        final = judge_stage(tiny_model, eval_spec, ctx, "final")
    assert "pairwise" not in base and base["single"]["n"] == 2  # nothing to compare the base with
    assert final["pairwise"]["baseline"] == "baseline" and final["pairwise"]["n"] == 2
    stage = json.loads((tmp_path / "eval" / "final" / "summary.json").read_text())
    assert stage["tasks"]["judge"]["kind"] == "judge" and "judge_score" in stage["tasks"]["judge"]["metrics"]
    assert final["requests"]["answers"]["requests"] == 0  # same model, same prompts: answers came from the cache


def test_judged_answers_are_checked_for_echo_and_paired_like_any_metric(tmp_path) -> None:
    """A judge offline may be too weak to notice an answer that copies the question: the checks count it."""
    rows = [json.loads(line) for line in QUESTIONS.read_text().splitlines()[:3]]
    echoing = tmp_path / "echo.jsonl"
    write_answers(echoing, {r["question_id"]: [r["turns"][0]] for r in rows[:2]} | {rows[2]["question_id"]: [GOOD]},
                  "echo")
    with StubJudge(lambda m: "Great content. [[8]]") as stub:
        summary = run_judge(_spec(tmp_path, stub.base_url, mode="single", answers=str(echoing)), tmp_path / "out")
    checks = _rows(tmp_path / "out" / "checks.jsonl")
    assert [c["scores"]["echo"] for c in checks] == [1.0, 1.0, 0.0]
    assert summary["answer_checks"]["n_echo"] == 2
    from lingotune.eval.judge.run import task_entry

    entry = task_entry(summary)
    assert entry["metrics"]["echo"]["value"] == pytest.approx(200 / 3)
    assert entry["metrics"]["judge_score"]["value"] == 8.0  # the stub judge did not notice
