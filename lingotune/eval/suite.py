"""Run an ``eval:`` section's tasks on one model and write per-item records plus a summary.

Layout written under ``<run>/eval/<stage>/``: ``<task>.jsonl`` (prompt, output, reference,
per-item scores, detected language) and ``summary.json`` (each metric with a bootstrap 95 % CI).
The base model's results are cached by (model fingerprint, task config, generation settings), so a
second run on the same base does not generate again. What a task kind loads and how it scores is
its own module's (``eval/tasks/``); this file is the loop around them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

from lingotune.core.context import RunContext
from lingotune.core.paths import cache_dir
from lingotune.core.progress import console
from lingotune.eval.fidelity import fidelity_scores
from lingotune.eval.generation import Generate, ServedGeneration, local_generation
from lingotune.eval.spec import EvalSpec
from lingotune.eval.tasks import EvalItem, TaskSpec
from lingotune.models.fingerprint import model_fingerprint
from lingotune.models.sources import ResolvedModel

EVAL_VERSION = 3  # bump when scoring or generation changes, to invalidate cached base evaluations
# (2: answer checks; 3: shared prompt beginnings encoded once, so a run's stages share one generation path)


def score_task(task: TaskSpec, items: list[EvalItem], outputs: list[str], resamples: int):
    """Per-item records and the task's summary entry; every metric on a 0–100 scale."""
    detections = fidelity_scores(outputs, task.language)
    scored = task.score(items, outputs, detections, resamples)
    summary: dict[str, Any] = {"kind": task.kind_name, "language": task.language, "n": len(items),
                               "retention": task.retention, "metrics": scored.metrics,
                               "bootstrap_resamples": resamples, **scored.extra}
    records = []
    for item, output, score, detection in zip(items, outputs, scored.per_item, detections, strict=True):
        prompt = item.conversation[-1]["content"] if item.conversation else ""
        records.append({"id": item.id, "prompt": prompt, "output": output, "reference": item.reference,
                        "scores": score, "detected_language": detection["detected"]})
    return records, summary


def apply_protocol(task: TaskSpec, items: list[EvalItem], first: list[str], generate: Generate,
                   stage: str) -> tuple[list[str], list[dict[str, Any]]]:
    """The answer that is scored, per X-CIT's inference protocols (methods.md §1.3).

    direct: the first answer. two_turn: the first answer is the model's English draft; the cue (in the
    target language) is sent and the second answer is scored. plug: the part after the target-language
    label of a PLUG-style answer (a missing label is counted, never hidden).
    """
    from lingotune.data.xcit import default_cue, extract_plug_answer, plug_target_label, two_turn_conversation

    if task.protocol == "two_turn":
        cue = default_cue(task.language, task.cue)
        second = [two_turn_conversation(item.conversation, answer, cue)
                  for item, answer in zip(items, first, strict=True)]
        final = generate(second, task.max_new_tokens, f"{stage}: {task.name} (turn 2)")
        return final, [{"first_turn": answer} for answer in first]
    if task.protocol == "plug":
        label = plug_target_label(task.language, task.target_label)
        extracted = [extract_plug_answer(answer, label) for answer in first]
        return [str(a) for a in extracted], [{"raw_output": raw, "label_found": a.label_found}
                                             for raw, a in zip(first, extracted, strict=True)]
    return first, [{} for _ in first]


def _cache_key(model: ResolvedModel, task: TaskSpec, spec: EvalSpec, dtype: str) -> str:
    payload = json.dumps(
        {"model": model_fingerprint(model), "task": task.model_dump(mode="json"), "dtype": dtype,
         **({"scorer": scorer} if (scorer := task.cache_identity()) else {}),
         "resamples": spec.bootstrap_resamples, "version": EVAL_VERSION,
         **({"server": spec.server.model_dump(mode="json")} if spec.server else {})},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def _write_records(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def _store_cached(cached: Path, records: list[dict[str, Any]], task_summary: dict[str, Any]) -> None:
    """Staged and renamed into place, so a killed run never leaves a half-written cache entry."""
    staging = cached.with_name(cached.name + ".tmp")
    staging.mkdir(parents=True, exist_ok=True)
    _write_records(staging / "records.jsonl", records)
    (staging / "summary.json").write_text(json.dumps(task_summary))
    shutil.rmtree(cached, ignore_errors=True)
    staging.replace(cached)


class _Loaded:
    """The model and tokenizer, loaded on first need (a fully cached stage loads nothing)."""

    def __init__(self, model: ResolvedModel, dtype: str, ctx: RunContext) -> None:
        self.source, self.dtype, self.ctx = model, dtype, ctx
        self.model = self.tokenizer = None

    def get(self):
        from lingotune.models.loading import load_model, load_tokenizer

        if self.model is None:
            self.tokenizer = load_tokenizer(self.source, trust_remote_code=self.ctx.trust_remote_code)
            self.model = load_model(self.source, dtype=self.dtype, trust_remote_code=self.ctx.trust_remote_code)
        return self.model, self.tokenizer


def run_task(task: TaskSpec, spec: EvalSpec, generate: Generate, ctx: RunContext, stage: str):
    """Generate, apply the protocol, score: the task's records and summary entry."""
    started = time.time()
    items = task.load_items(ctx.language_names)
    raw = generate([i.conversation for i in items], task.max_new_tokens, f"{stage}: {task.name}",
                   sampling=task.sampling(items))
    outputs, protocol_notes = apply_protocol(task, items, raw, generate, stage)
    records, task_summary = score_task(task, items, outputs, spec.bootstrap_resamples)
    task_summary["protocol"] = task.protocol
    for record, note in zip(records, protocol_notes, strict=True):
        record.update(note)
    if task.protocol == "plug":
        task_summary["label_missing"] = sum(not n["label_found"] for n in protocol_notes)
    task_summary["time_s"] = round(time.time() - started, 2)
    return records, task_summary


def _run_tasks(model: ResolvedModel, spec: EvalSpec, ctx: RunContext, stage: str, generate: Generate, out_dir: Path,
               dtype: str, use_cache: bool, summary: dict[str, Any]) -> None:
    for task in spec.tasks:
        cached = cache_dir() / "evals" / _cache_key(model, task, spec, dtype)
        if use_cache and (cached / "summary.json").exists():
            console.print(f"[dim]{stage}/{task.name}: cached evaluation of {model.name} reused[/dim]")
            shutil.copy(cached / "records.jsonl", out_dir / f"{task.name}.jsonl")
            summary["tasks"][task.name] = json.loads((cached / "summary.json").read_text())
            continue
        records, task_summary = run_task(task, spec, generate, ctx, stage)
        _write_records(out_dir / f"{task.name}.jsonl", records)
        summary["tasks"][task.name] = task_summary
        if use_cache:
            _store_cached(cached, records, task_summary)


def evaluate_model(model: ResolvedModel, spec: EvalSpec, ctx: RunContext, stage: str, *,
                   use_cache: bool = False) -> dict[str, Any]:
    """Evaluate ``model`` on every task of ``spec``; returns and writes the stage summary."""
    out_dir = ctx.layout.eval_dir(stage)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"stage": stage, "model": model.name, "tasks": {}}
    dtype = ctx.resolve_dtype(spec.dtype)
    loaded = _Loaded(model, dtype, ctx)
    served = ServedGeneration(model, spec.server, ctx.trust_remote_code) if spec.server else None
    generate = served or local_generation(loaded, spec.batch_size, spec.token_budget)
    summary["generation"] = "server" if served else "in-process"
    started = time.time()
    try:
        _run_tasks(model, spec, ctx, stage, generate, out_dir, dtype, use_cache, summary)
    finally:
        if served is not None:
            served.close()
    summary_path = ctx.layout.summary(stage)
    summary_path.write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    if spec.judge is not None:
        from lingotune.eval.judge.run import judge_stage

        loaded.model = loaded.tokenizer = None  # the judge loads the model through its own backend
        judge_stage(model, spec, ctx, stage)
        summary = json.loads(summary_path.read_text())
    summary["eval_time_s"] = time.time() - started
    summary_path.write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    return summary
