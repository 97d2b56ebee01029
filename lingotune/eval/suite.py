"""Run a recipe's evaluation tasks on one model and write per-item records plus a summary.

Layout written under ``<run_dir>/eval/<stage>/``: ``<task>.jsonl`` (prompt, output, reference,
per-item scores, detected language) and ``summary.json`` (each metric with a bootstrap 95 % CI).
The base model's results are cached by (model fingerprint, task config, generation settings), so a
second run on the same base does not generate again.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lingotune.config import EvalSpec, EvalTask, Recipe
from lingotune.data.builders import build_extractive_qa, build_translation
from lingotune.data.loaders import load_examples
from lingotune.data.mix import sample
from lingotune.eval.bootstrap import bootstrap_ci
from lingotune.eval.fidelity import fidelity_scores
from lingotune.eval.generate import generate_batched
from lingotune.eval.qa import exact_match, extract_answer, f1_score
from lingotune.eval.translation import bleu_ci, chrf_ci, sentence_chrf
from lingotune.models.sources import ResolvedModel
from lingotune.paths import cache_dir
from lingotune.progress import console

EVAL_VERSION = 1  # bump when scoring changes, to invalidate cached base evaluations
EVAL_SAMPLE_SEED = 0  # evaluation items never depend on the training seed


@dataclass
class EvalItem:
    id: str
    conversation: list[dict[str, str]]
    reference: str | list[str]
    meta: dict[str, Any] = field(default_factory=dict)


def load_task_items(task: EvalTask, language_names: dict[str, str] | None = None) -> list[EvalItem]:
    examples = load_examples(task.path, task.format, task.language, source_language=task.source_language)
    if task.max_items and task.max_items < len(examples):
        examples = sample(examples, task.max_items, EVAL_SAMPLE_SEED)
    if task.kind == "qa":
        built = build_extractive_qa(examples, task.prompt_template)
        references: list[Any] = [e.meta["answers"] for e in built]
    elif task.kind == "translation":
        built = build_translation(
            examples, task.source_language or "en", task.language, task.prompt_template, language_names
        )
        references = [e.response or "" for e in built]
    else:
        built = examples
        references = [e.response or "" for e in built]
    return [
        EvalItem(str(e.meta.get("id", e.meta.get("index", i))), e.prompt_messages, ref, e.meta)
        for i, (e, ref) in enumerate(zip(built, references, strict=True))
    ]


def _metric(point_low_high: tuple[float, float, float]) -> dict[str, float]:
    value, low, high = point_low_high
    return {"value": value, "low": low, "high": high}


def score_task(task: EvalTask, items: list[EvalItem], outputs: list[str], resamples: int):
    """Per-item records and the task's summary entry; every metric on a 0–100 scale."""
    detections = fidelity_scores(outputs, task.language)
    records = []
    summary: dict[str, Any] = {"kind": task.kind, "language": task.language, "n": len(items),
                               "retention": task.retention}
    if task.kind == "qa":
        predictions = [extract_answer(o) for o in outputs]
        f1s = [100 * f1_score(p, item.reference, task.language) for p, item in zip(predictions, items, strict=True)]
        ems = [100 * exact_match(p, item.reference, task.language) for p, item in zip(predictions, items, strict=True)]
        summary["metrics"] = {"f1": _metric(bootstrap_ci(f1s, resamples)), "em": _metric(bootstrap_ci(ems, resamples))}
        scores = [{"f1": f, "em": e} for f, e in zip(f1s, ems, strict=True)]
    elif task.kind == "translation":
        refs = [str(item.reference) for item in items]
        chrfs = [sentence_chrf(o, r) for o, r in zip(outputs, refs, strict=True)]
        summary["metrics"] = {
            "chrf": _metric(chrf_ci(outputs, refs, n_resamples=resamples)),
            "bleu": _metric(bleu_ci(outputs, refs, task.language, n_resamples=resamples)),
        }
        scores = [{"chrf": c} for c in chrfs]
    else:
        matches = [d["match"] for d in detections]
        classified = [100.0 if m else 0.0 for m in matches if m is not None]
        summary["metrics"] = {"fidelity": _metric(bootstrap_ci(classified, resamples))}
        summary["n_unclassified"] = sum(m is None for m in matches)
        scores = [{"fidelity": None if m is None else float(m)} for m in matches]
    for item, output, score, detection in zip(items, outputs, scores, detections, strict=True):
        prompt = item.conversation[-1]["content"] if item.conversation else ""
        records.append({"id": item.id, "prompt": prompt, "output": output, "reference": item.reference,
                        "scores": score, "detected_language": detection["detected"]})
    return records, summary


def apply_protocol(task: EvalTask, items: list[EvalItem], first: list[str], model, tokenizer, batch_size: int,
                   stage: str) -> tuple[list[str], list[dict[str, Any]]]:
    """The answer that is scored, per X-CIT's inference protocols (methods.md §1.3).

    direct: the first answer. two_turn: the first answer is the model's English draft; the cue (in the
    target language) is sent and the second answer is scored. plug: the part after the target-language
    label of a PLUG-style answer (a missing label is counted, never hidden).
    """
    from lingotune.data.xcit import default_cue, extract_plug_answer, plug_target_label, two_turn_conversation

    if task.protocol == "two_turn":
        cue = default_cue(task.language, task.cue)
        second = [two_turn_conversation(item.conversation, answer, cue) for item, answer in zip(items, first,
                                                                                                 strict=True)]
        final = generate_batched(model, tokenizer, second, max_new_tokens=task.max_new_tokens, batch_size=batch_size,
                                 description=f"{stage}: {task.name} (turn 2)")
        return final, [{"first_turn": answer} for answer in first]
    if task.protocol == "plug":
        label = plug_target_label(task.language, task.target_label)
        extracted = [extract_plug_answer(answer, label) for answer in first]
        return [str(a) for a in extracted], [{"raw_output": raw, "label_found": a.label_found}
                                             for raw, a in zip(first, extracted, strict=True)]
    return first, [{} for _ in first]


def model_fingerprint(model: ResolvedModel) -> str:
    """Identifies the weights without hashing gigabytes: config text plus weight files' names, sizes and mtimes."""
    parts = [model.path, model.adapter_path or ""]
    for folder in filter(None, [model.path, model.adapter_path]):
        root = Path(folder)
        if not root.is_dir():
            continue
        for file in sorted(root.iterdir()):
            if file.suffix in {".json", ".safetensors"}:
                stat = file.stat()
                parts.append(f"{file.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _cache_key(model: ResolvedModel, task: EvalTask, spec: EvalSpec) -> str:
    payload = json.dumps(
        {"model": model_fingerprint(model), "task": task.model_dump(mode="json"), "dtype": spec.dtype,
         "resamples": spec.bootstrap_resamples, "version": EVAL_VERSION},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def _write_records(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def evaluate_model(
    model: ResolvedModel, recipe: Recipe, stage: str, run_dir: Path, *, use_cache: bool = False
) -> dict[str, Any]:
    """Evaluate ``model`` on every task of ``recipe.eval``; returns and writes the stage summary."""
    from lingotune.models.loading import load_model, load_tokenizer

    spec = recipe.eval
    assert spec is not None
    out_dir = run_dir / "eval" / stage
    out_dir.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"stage": stage, "model": model.name, "tasks": {}}
    loaded = tokenizer = None
    started = time.time()
    for task in spec.tasks:
        key = _cache_key(model, task, spec)
        cached = cache_dir() / "evals" / key
        if use_cache and (cached / "summary.json").exists():
            console.print(f"[dim]{stage}/{task.name}: cached evaluation of {model.name} reused[/dim]")
            shutil.copy(cached / "records.jsonl", out_dir / f"{task.name}.jsonl")
            summary["tasks"][task.name] = json.loads((cached / "summary.json").read_text())
            continue
        if loaded is None:
            tokenizer = load_tokenizer(model, trust_remote_code=recipe.model.trust_remote_code)
            loaded = load_model(model, dtype=spec.dtype, trust_remote_code=recipe.model.trust_remote_code)
        task_started = time.time()
        items = load_task_items(task, recipe.language_names)
        raw = generate_batched(
            loaded, tokenizer, [i.conversation for i in items], max_new_tokens=task.max_new_tokens,
            batch_size=spec.batch_size, description=f"{stage}: {task.name}",
        )
        outputs, protocol_notes = apply_protocol(task, items, raw, loaded, tokenizer, spec.batch_size, stage)
        records, task_summary = score_task(task, items, outputs, spec.bootstrap_resamples)
        task_summary["protocol"] = task.protocol
        for record, note in zip(records, protocol_notes, strict=True):
            record.update(note)
        if task.protocol == "plug":
            task_summary["label_missing"] = sum(not n["label_found"] for n in protocol_notes)
        task_summary["time_s"] = round(time.time() - task_started, 2)
        _write_records(out_dir / f"{task.name}.jsonl", records)
        summary["tasks"][task.name] = task_summary
        if use_cache:
            staging = cached.with_name(cached.name + ".tmp")
            staging.mkdir(parents=True, exist_ok=True)
            _write_records(staging / "records.jsonl", records)
            (staging / "summary.json").write_text(json.dumps(task_summary))
            shutil.rmtree(cached, ignore_errors=True)
            staging.replace(cached)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    if spec.judge is not None:
        from lingotune.eval.judge.run import judge_stage

        del loaded  # the judge loads the model through its own backend
        judge_stage(model, recipe, stage, run_dir)
        summary = json.loads((out_dir / "summary.json").read_text())
    summary["eval_time_s"] = time.time() - started
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    return summary
