"""Questions → answers (model under test) → verdicts (judge) → JSONL per item + summary.

Layout under ``out_dir``: ``answers.jsonl`` (FastChat model_answer format, so another run can use
it as a pairwise baseline), ``single.jsonl`` and ``pairwise.jsonl`` (one record per question and
turn: verdict, status ok/unparseable/error, raw judge outputs, the answer's detected language),
and ``summary.json`` (mean rating and win/tie/loss rates with bootstrap 95 % CIs, counts of
unparseable and failed verdicts, request counts). Every request goes through the request cache,
so a rerun after an interruption only sends what is missing, and a complete rerun sends nothing.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from lingotune.core.context import RunContext
from lingotune.core.errors import DataError
from lingotune.core.progress import console
from lingotune.eval.answer_checks import check_answer, check_metrics
from lingotune.eval.answers_file import Answers, load_answers, read_jsonl
from lingotune.eval.bootstrap import bootstrap_ci
from lingotune.eval.fidelity import detect_language, language_matches
from lingotune.eval.judge.ask import CHOICE_FORMAT, RATING_FORMAT, ask_judge
from lingotune.eval.judge.config import JudgeSpec
from lingotune.eval.judge.pairwise import apply_language_rule, combine, pair_messages, pair_prompt
from lingotune.eval.judge.parse import parse_choice, parse_rating
from lingotune.eval.judge.prompts import load_judge_prompts
from lingotune.eval.judge.single import Question, single_messages, single_prompt, use_reference
from lingotune.inference.backends import ChatBackend, RequestCache, make_backend

__all__ = ["load_answers", "load_questions", "run_judge", "task_entry"]


def load_questions(path: str | Path, max_items: int | None = None,
                   reference_answers: str | Path | None = None) -> list[Question]:
    """MT-Bench question.jsonl, the first ``max_items`` in file order, with reference answers attached."""
    refs = load_answers(reference_answers) if reference_answers else {}
    questions = []
    for row in read_jsonl(path)[:max_items]:
        where = str(row.get("question_id", "?"))
        if not isinstance(row.get("turns"), list) or "question_id" not in row:
            raise DataError(str(path), where, "an MT-Bench question needs question_id and turns")
        qid = str(row["question_id"])
        questions.append(Question(qid, str(row.get("category", "general")), [str(t) for t in row["turns"]],
                                  refs.get(qid) or [str(r) for r in row.get("reference") or []]))
    return questions


def write_answers(path: Path, answers: Answers, model_id: str) -> None:
    rows = [{"question_id": qid, "model_id": model_id, "choices": [{"index": 0, "turns": turns}]}
            for qid, turns in answers.items()]
    _write_jsonl(path, rows)


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write beside and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    tmp.replace(path)


def generate_answers(backend: ChatBackend, questions: list[Question], turns: list[int],
                     max_new_tokens: int) -> tuple[Answers, int]:
    """Answers turn by turn (turn 2 sees the model's own turn-1 answer), greedy for reproducibility.

    Returns the answers and how many requests failed; a question with a failed turn is left out."""
    params = {"max_tokens": max_new_tokens, "temperature": 0.0}
    answers: Answers = {q.id: [] for q in questions}
    failed: set[str] = set()
    for turn in range(1, max(turns) + 1):
        asked = [q for q in questions if len(q.turns) >= turn and q.id not in failed]
        conversations = []
        for q in asked:
            conv: list[dict[str, str]] = []
            for k in range(turn - 1):
                conv += [{"role": "user", "content": q.turns[k]}, {"role": "assistant", "content": answers[q.id][k]}]
            conversations.append(conv + [{"role": "user", "content": q.turns[turn - 1]}])
        results = backend.complete_many([(c, params) for c in conversations], f"Answering (turn {turn})")
        for q, result in zip(asked, results, strict=True):
            if result.text is None:
                failed.add(q.id)
            else:
                answers[q.id].append(result.text.strip())
    return {qid: a for qid, a in answers.items() if qid not in failed and a}, len(failed)


def _language(text: str, target: str) -> tuple[str | None, bool | None]:
    detected = detect_language(text)
    return detected, None if detected is None else language_matches(detected, target)


def _metric(values: list[float], resamples: int) -> dict[str, float] | None:
    if not values:
        return None
    value, low, high = bootstrap_ci(values, resamples)
    return {"value": value, "low": low, "high": high}


def judge_single(spec: JudgeSpec, judge: ChatBackend, prompts, questions: list[Question],
                 answers: Answers) -> list[dict[str, Any]]:
    jobs = [(q, t) for q in questions for t in spec.turns if len(answers.get(q.id, [])) >= t and len(q.turns) >= t]
    conversations = []
    for q, turn in jobs:
        prompt = single_prompt(prompts, q, turn, spec.reference)
        conversations.append(single_messages(prompt, q, answers[q.id], turn, use_reference(q, spec.reference)))
    params = {"max_tokens": spec.judge_max_tokens, "temperature": spec.judge_temperature}
    results = ask_judge(judge, conversations, parse_rating, params, retries=spec.parse_retries, fmt=RATING_FORMAT,
                        description="Judging (single)")
    records = []
    for (q, turn), result in zip(jobs, results, strict=True):
        detected, language_ok = _language(answers[q.id][turn - 1], spec.language)
        score = result.verdict.value if result.status == "ok" else None
        override = spec.enforce_language and score is not None and language_ok is False and score != 1.0
        records.append({
            "question_id": q.id, "category": q.category, "turn": turn,
            "prompt": single_prompt(prompts, q, turn, spec.reference).name,
            "reference_used": use_reference(q, spec.reference), "answer": answers[q.id][turn - 1],
            "detected_language": detected, "language_ok": language_ok,
            "status": result.status, "judge_score": score, "score": 1.0 if override else score,
            "override": "wrong_language" if override else None, "parse_error": result.verdict.error,
            "judge_outputs": result.outputs, "errors": result.errors,
            "attempts": len(result.outputs) + len(result.errors),
        })
    return records


def judge_pairwise(spec: JudgeSpec, judge: ChatBackend, prompts, questions: list[Question], answers: Answers,
                   baseline: Answers) -> list[dict[str, Any]]:
    jobs = [(q, t) for q in questions for t in spec.turns
            if min(len(answers.get(q.id, [])), len(baseline.get(q.id, []))) >= t and len(q.turns) >= t]
    conversations = []
    for q, turn in jobs:
        prompt, ref = pair_prompt(prompts, q, turn, spec.reference), use_reference(q, spec.reference)
        conversations.append(pair_messages(prompt, q, answers[q.id], baseline[q.id], turn, ref))  # game 1
        conversations.append(pair_messages(prompt, q, baseline[q.id], answers[q.id], turn, ref))  # game 2 (swapped)
    params = {"max_tokens": spec.judge_max_tokens, "temperature": spec.judge_temperature}
    results = ask_judge(judge, conversations, parse_choice, params, retries=spec.parse_retries, fmt=CHOICE_FORMAT,
                        description="Judging (pairwise, both orders)")
    records = []
    for k, (q, turn) in enumerate(jobs):
        game1, game2 = results[2 * k], results[2 * k + 1]
        v1 = game1.verdict.value if game1.status == "ok" else None
        v2 = game2.verdict.value if game2.status == "ok" else None
        model_lang, model_ok = _language(answers[q.id][turn - 1], spec.language)
        base_lang, base_ok = _language(baseline[q.id][turn - 1], spec.language)
        judged = combine(v1, v2)  # type: ignore[arg-type]
        outcome, overridden = (apply_language_rule(judged, model_ok, base_ok) if spec.enforce_language
                               else (judged, False))
        statuses = {game1.status, game2.status}
        status = "error" if "error" in statuses else "unparseable" if "unparseable" in statuses else "ok"
        records.append({
            "question_id": q.id, "category": q.category, "turn": turn, "baseline": spec.baseline_name,
            "prompt": pair_prompt(prompts, q, turn, spec.reference).name,
            "game1": v1, "game2": v2, "judge_outcome": judged, "outcome": outcome,
            "override": "wrong_language" if overridden else None, "status": status,
            "detected_language": model_lang, "language_ok": model_ok,
            "baseline_detected_language": base_lang, "baseline_language_ok": base_ok,
            "parse_errors": [game1.verdict.error, game2.verdict.error],
            "judge_outputs": [game1.outputs, game2.outputs], "errors": game1.errors + game2.errors,
        })
    return records


def summarize_single(records: list[dict[str, Any]], resamples: int) -> dict[str, Any]:
    scores = [r["score"] for r in records if r["score"] is not None]
    by_turn = {str(t): _metric([r["score"] for r in records if r["turn"] == t and r["score"] is not None], resamples)
               for t in sorted({r["turn"] for r in records})}
    return {"n": len(records), "n_scored": len(scores),
            "n_unparseable": sum(r["status"] == "unparseable" for r in records),
            "n_errors": sum(r["status"] == "error" for r in records),
            "n_wrong_language": sum(r["language_ok"] is False for r in records),
            "n_overridden": sum(r["override"] is not None for r in records),
            "score": _metric(scores, resamples), "by_turn": by_turn}


def summarize_pairwise(records: list[dict[str, Any]], resamples: int) -> dict[str, Any]:
    """Rates on 0–100 over pairs with a verdict; FastChat's adjusted win rate counts a tie as half."""
    outcomes = [r["outcome"] for r in records if r["outcome"] is not None]
    rates = {f"{name}_rate": _metric([100.0 * (o == name) for o in outcomes], resamples)
             for name in ("win", "tie", "loss")}
    adjusted = _metric([{"win": 100.0, "tie": 50.0, "loss": 0.0}[o] for o in outcomes], resamples)
    return {"n": len(records), "n_decided": len(outcomes),
            "n_unparseable": sum(r["status"] == "unparseable" for r in records),
            "n_errors": sum(r["status"] == "error" for r in records),
            "wins": outcomes.count("win"), "ties": outcomes.count("tie"), "losses": outcomes.count("loss"),
            **rates, "win_rate_adjusted": adjusted}


def check_judge_answers(questions: list[Question], answers: Answers, turns: list[int],
                        resamples: int) -> dict[str, Any]:
    """Echo / loop / too-short checks of the answers being judged (per question and turn), like every
    open-ended task's: a judge offline may be too weak to notice an answer that copies the question."""
    records, checked = [], []
    for q in questions:
        for turn in turns:
            if len(q.turns) >= turn and len(answers.get(q.id, [])) >= turn:
                check = check_answer(q.turns[turn - 1], answers[q.id][turn - 1])
                checked.append(check)
                records.append({"id": f"{q.id}/{turn}", "prompt": q.turns[turn - 1],
                                "output": answers[q.id][turn - 1], "reference": "", "scores": check.scores(),
                                "echo_share": check.echo_share, "loop_share": check.loop_share})
    metrics, extra = check_metrics(checked, resamples) if checked else ({}, {})
    return {"metrics": metrics, **extra.get("answer_checks", {}), "records": records}


def run_judge(spec: JudgeSpec, out_dir: str | Path, *, model_backend: ChatBackend | None = None,
              judge_backend: ChatBackend | None = None, baseline: Answers | None = None,
              cache: RequestCache | None = None, model_name: str = "model") -> dict[str, Any]:
    """Judge one model; answers come from ``spec.answers`` or are generated with ``model_backend``."""
    started = time.time()
    out_dir = Path(out_dir)
    cache = cache or RequestCache(spec.cache_path)
    judge = judge_backend or make_backend(spec.judge, cache)
    prompts = load_judge_prompts(spec.judge_prompts, spec.language)
    questions = load_questions(spec.questions, spec.max_items, spec.reference_answers)
    failed_answers = 0
    if spec.answers:
        answers = load_answers(spec.answers)
    elif model_backend is not None:
        answers, failed_answers = generate_answers(model_backend, questions, spec.turns, spec.max_new_tokens)
    else:
        raise DataError("eval.judge", "answers", "no answers file and no model to generate answers with")
    write_answers(out_dir / "answers.jsonl", answers, model_name)
    summary: dict[str, Any] = {"name": spec.name, "language": spec.language, "model": model_name,
                               "judge": judge.identity, "judge_prompts": next(iter(prompts.values())).source,
                               "questions": spec.questions, "n_questions": len(questions), "turns": spec.turns,
                               "answer_failures": failed_answers, "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    checks = check_judge_answers(questions, answers, spec.turns, spec.bootstrap_resamples)
    _write_jsonl(out_dir / "checks.jsonl", checks.pop("records"))
    summary["answer_checks"] = checks
    if spec.mode in ("single", "both"):
        single = judge_single(spec, judge, prompts, questions, answers)
        _write_jsonl(out_dir / "single.jsonl", single)
        summary["single"] = summarize_single(single, spec.bootstrap_resamples)
    if spec.mode in ("pairwise", "both"):
        if baseline is None and spec.baseline_answers and not spec.baseline_answers.startswith("stage:"):
            baseline = load_answers(spec.baseline_answers)
        if baseline is None:
            raise DataError("eval.judge", "baseline_answers", "pairwise judging needs baseline answers")
        pairs = judge_pairwise(spec, judge, prompts, questions, answers, baseline)
        _write_jsonl(out_dir / "pairwise.jsonl", pairs)
        summary["pairwise"] = {"baseline": spec.baseline_name, **summarize_pairwise(pairs, spec.bootstrap_resamples)}
    errors = failed_answers + sum(summary.get(k, {}).get("n_errors", 0) for k in ("single", "pairwise"))
    summary["complete"] = errors == 0
    summary["requests"] = {"judge": judge.stats.as_dict(),
                           "answers": model_backend.stats.as_dict() if model_backend is not None else None}
    summary["cache"] = str(cache.path)
    summary["wall_time_s"] = time.time() - started
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    if errors:
        console.print(f"[yellow]{errors} request(s) failed (see status 'error' in {out_dir}); answers received "
                      "are cached: rerun to resume[/yellow]")
    return summary


def task_entry(summary: dict[str, Any]) -> dict[str, Any]:
    """The judge as a task of a stage's ``summary.json``, so reports show it beside the other metrics.

    ``judge_score`` is on MT-Bench's 1–10 scale; rates are 0–100."""
    metrics: dict[str, Any] = {}
    if summary.get("single", {}).get("score"):
        metrics["judge_score"] = summary["single"]["score"]
    for name in ("win_rate", "tie_rate", "loss_rate", "win_rate_adjusted"):
        if summary.get("pairwise", {}).get(name):
            metrics[name] = summary["pairwise"][name]
    metrics.update((summary.get("answer_checks") or {}).get("metrics") or {})
    return {"kind": "judge", "language": summary["language"], "n": summary["n_questions"], "metrics": metrics,
            "retention": False, "complete": summary["complete"]}


def judge_stage(model: Any, eval_spec: Any, ctx: RunContext, stage: str) -> dict[str, Any] | None:
    """Judge a stage's model with ``eval_spec.judge`` and add it to the stage summary.

    ``model`` is the stage's ``ResolvedModel``; its answers are generated locally, loaded with the
    run's ``trust_remote_code`` like every other load. ``baseline_answers: "stage:base"`` judges "final"
    against the same run's base answers, so ``lingotune run`` reports the adaptation's win rate against
    the model it started from."""
    from lingotune.inference.backends import LocalBackend

    spec: JudgeSpec | None = getattr(eval_spec, "judge", None)
    if spec is None:
        return None
    out_dir = ctx.layout.eval_dir(stage) / "judge"
    cache = RequestCache(spec.cache_path)
    baseline = None
    if spec.mode != "single" and spec.baseline_answers and spec.baseline_answers.startswith("stage:"):
        base_file = ctx.layout.eval_dir(spec.baseline_answers.split(":", 1)[1]) / "judge" / "answers.jsonl"
        if base_file.is_file() and base_file.parent.parent.name != stage:
            baseline = load_answers(base_file)
    if spec.mode != "single" and baseline is None and (spec.baseline_answers or "").startswith("stage:"):
        spec = spec.model_copy(update={"mode": "single"})  # the base stage itself: nothing to compare with yet
    local = LocalBackend(model, dtype=ctx.resolve_dtype(eval_spec.dtype), batch_size=eval_spec.batch_size,
                         cache=cache, trust_remote_code=ctx.trust_remote_code)
    summary = run_judge(spec, out_dir, model_backend=local, baseline=baseline, cache=cache, model_name=model.name)
    stage_summary = ctx.layout.summary(stage)
    current = json.loads(stage_summary.read_text(encoding="utf-8")) if stage_summary.is_file() else {"tasks": {}}
    current.setdefault("tasks", {})[spec.name] = task_entry(summary)
    stage_summary.write_text(json.dumps(current, indent=2, ensure_ascii=False), encoding="utf-8")
    return summary
