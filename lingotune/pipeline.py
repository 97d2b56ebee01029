"""What ``lingotune run`` does, top to bottom: prepare → baseline eval → data → train → eval → report.

Each step is one call into a component; this file only wires them and records timings, so reading
it tells the whole story of a run.
"""

from __future__ import annotations

import json
import platform
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from lingotune.config import DataSpec, Recipe, TrainSpec, dump_recipe
from lingotune.data.example import Example
from lingotune.data.loaders import load_examples
from lingotune.data.mix import mix, sample
from lingotune.data.recipe_builders import apply_builder
from lingotune.errors import RecipeError
from lingotune.models.sources import ResolvedModel, resolve_model
from lingotune.progress import console


def build_training_examples(data: DataSpec, seed: int, language_names: dict[str, str]) -> list[Example]:
    """Load every source, apply its builder, cap it, then mix by weight (or concatenate)."""
    per_source: dict[str, list[Example]] = {}
    for source in data.sources:
        examples = load_examples(source.path, source.format, source.language,
                                 source_language=source.source_language, name=source.name)
        examples = apply_builder(source, examples, seed, language_names)
        if source.max_examples and source.max_examples < len(examples):
            examples = sample(examples, source.max_examples, seed)
        if source.name in per_source:
            raise RecipeError(f"data source name {source.name!r} is used twice")
        per_source[source.name] = examples
    if data.total_examples:
        weights = {s.name: s.weight for s in data.sources}
        return mix(per_source, weights, data.total_examples, seed)
    return [e for examples in per_source.values() for e in examples]


def _prepare_run_dir(recipe: Recipe) -> Path:
    """A rerun without ``train.resume`` moves the old run aside instead of overwriting it."""
    run_dir = recipe.run_dir()
    resuming = recipe.train is not None and recipe.train.resume
    if run_dir.exists() and any(run_dir.iterdir()) and not resuming:
        kept = run_dir.with_name(f"{run_dir.name}-{datetime.now():%Y%m%d-%H%M%S}")
        run_dir.rename(kept)
        console.print(f"[yellow]{run_dir} existed; moved it to {kept}[/yellow]")
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def _write_info(run_dir: Path, info: dict[str, Any]) -> None:
    (run_dir / "run_info.json").write_text(json.dumps(info, indent=2))


def run_recipe(recipe: Recipe) -> Path:
    from lingotune.eval.report import write_report
    from lingotune.eval.suite import evaluate_model

    started = time.time()
    run_dir = _prepare_run_dir(recipe)
    (run_dir / "recipe.yaml").write_text(dump_recipe(recipe), encoding="utf-8")
    info: dict[str, Any] = {"name": recipe.name, "model": recipe.model.source, "language": recipe.language,
                            "device": platform.processor() or platform.machine(), "finished": False,
                            "stages": [], "eval_time_s": 0.0, "train_time_s": 0.0}
    if (run_dir / "run_info.json").exists():  # resuming: keep what the interrupted run measured
        info.update(json.loads((run_dir / "run_info.json").read_text()), finished=False, stages=[])
    _write_info(run_dir, info)
    base = resolve_model(recipe.model.source)
    if recipe.eval:
        summary = evaluate_model(base, recipe, "base", run_dir, use_cache=recipe.eval.cache_base)
        info["stages"].append("base")
        info["eval_time_s"] += summary["eval_time_s"]
    final: ResolvedModel | None = None
    if recipe.experts or recipe.variants:
        from lingotune.modular import run_modular

        run_modular(recipe, base, run_dir, info)
    elif recipe.phases:
        final = _train_phases(recipe, base, run_dir, info)
    elif recipe.train:
        if not recipe.data:
            raise RecipeError("the recipe has a train section but no data section")
        final = _train(recipe, base, run_dir, info)
    if recipe.merge:
        from lingotune.merge.run import run_merge_spec

        merged = run_merge_spec(recipe.merge, run_dir / "merged", run_dir / "merge")
        info["merge_time_s"] = merged.seconds
        final = ResolvedModel(f"{recipe.name}-{recipe.merge.method}", str(merged.model_dir), "local")
    if final is not None:
        if recipe.eval:
            summary = evaluate_model(final, recipe, "final", run_dir)
            info["stages"].append("final")
            info["eval_time_s"] += summary["eval_time_s"]
    info["wall_time_s"] = info.get("wall_time_s", 0.0) + time.time() - started  # a resumed run adds to it
    info["finished"] = True
    _write_info(run_dir, info)
    if recipe.eval:
        md, _ = write_report(run_dir)
        console.print(f"[bold green]Report:[/bold green] {md}")
    return run_dir


def tokenized_training_data(recipe: Recipe, data: DataSpec, spec: TrainSpec, tokenizer):
    """The data section's examples, built, mixed and tokenised with loss masks; and how many were too long."""
    from lingotune.train.tokenize import tokenize_examples

    examples = build_training_examples(data, recipe.seed, recipe.language_names)
    tokenized, dropped = tokenize_examples(tokenizer, examples, spec.max_length)
    if spec.loss_on == "all":
        for item in tokenized:
            item.assistant_masks = [1] * len(item.input_ids)
    if dropped:
        console.print(f"[yellow]{dropped} of {len(examples)} training examples exceed "
                      f"train.max_length={spec.max_length} tokens and were left out[/yellow]")
    if not tokenized:
        raise RecipeError("no training example fits train.max_length; raise it or shorten the data")
    return tokenized, dropped


def _train_on(recipe: Recipe, model: ResolvedModel, data: DataSpec, spec: TrainSpec, out_dir: Path,
              metrics_path: Path, phase: str | None = None, step_offset: int = 0, **optimizer_options):
    """Build, tokenise and train on one data section; returns the trainer's result and the drop count."""
    from lingotune.models.loading import load_tokenizer
    from lingotune.train.sft import train_sft

    tokenizer = load_tokenizer(model, trust_remote_code=recipe.model.trust_remote_code, padding_side="right")
    tokenized, dropped = tokenized_training_data(recipe, data, spec, tokenizer)
    result = train_sft(model, tokenizer, tokenized, spec, out_dir, seed=recipe.seed,
                       trust_remote_code=recipe.model.trust_remote_code, phase=phase,
                       metrics_path=metrics_path, step_offset=step_offset, **optimizer_options)
    return result, dropped


def _record_training(info: dict[str, Any], result, dropped: int) -> None:
    info["train_time_s"] = info.get("train_time_s", 0.0) + result.train_time_s
    info["train_tokens"] = info.get("train_tokens", 0) + result.train_tokens
    info["train_examples"] = info.get("train_examples", 0) + result.train_examples
    info["train_examples_dropped"] = info.get("train_examples_dropped", 0) + dropped
    info["final_loss"] = result.final_loss


def _train(recipe: Recipe, base: ResolvedModel, run_dir: Path, info: dict[str, Any]) -> ResolvedModel:
    assert recipe.train is not None and recipe.data is not None
    result, dropped = _train_on(recipe, base, recipe.data, recipe.train, run_dir, run_dir / "metrics.jsonl")
    _record_training(info, result, dropped)
    _write_info(run_dir, info)
    return ResolvedModel(recipe.name, str(result.model_dir), "local")


def phase_train_spec(recipe: Recipe, index: int) -> TrainSpec:
    """The phase's training settings: its own values over the recipe's ``train`` section; an
    ``lr_multiplier`` scales the previous phase's learning rate (methods.md §7: lower phase-2 LR)."""
    assert recipe.train is not None and recipe.phases
    learning_rate = recipe.train.learning_rate
    for phase in recipe.phases[: index + 1]:
        if phase.learning_rate is not None:
            learning_rate = phase.learning_rate
        elif phase.lr_multiplier is not None:
            learning_rate *= phase.lr_multiplier
    phase = recipe.phases[index]
    update: dict[str, Any] = {"learning_rate": learning_rate}
    if phase.epochs is not None:
        update["epochs"] = phase.epochs
    if phase.max_steps is not None:
        update["max_steps"] = phase.max_steps
    return recipe.train.model_copy(update=update)


def _carried_optimizer(recipe: Recipe, index: int, run_dir: Path) -> Path | None:
    """The previous phase's optimizer state when this phase asks to keep it (``fresh_optimizer: false``)."""
    assert recipe.phases is not None and recipe.train is not None
    if recipe.phases[index].fresh_optimizer:
        return None  # the recipe validator has checked that a carried optimizer is possible
    previous = recipe.phases[index - 1]
    return run_dir / "phases" / f"{index}-{previous.name}" / "optimizer.pt"


def _train_phases(recipe: Recipe, base: ResolvedModel, run_dir: Path, info: dict[str, Any]) -> ResolvedModel:
    """Phase k+1 starts from phase k's saved weights. A finished phase leaves ``phase_complete.json``;
    a resumed run skips finished phases and resumes the interrupted one from its last checkpoint."""
    from lingotune.eval.suite import evaluate_model

    assert recipe.phases is not None
    current, step_offset = base, 0
    for index, phase in enumerate(recipe.phases):
        phase_dir = run_dir / "phases" / f"{index + 1}-{phase.name}"
        marker = phase_dir / "phase_complete.json"
        if marker.exists():
            done = json.loads(marker.read_text())
            console.print(f"[dim]phase {phase.name}: already complete, skipped[/dim]")
        else:
            spec = phase_train_spec(recipe, index)
            carried = _carried_optimizer(recipe, index, run_dir)
            following = recipe.phases[index + 1] if index + 1 < len(recipe.phases) else None
            optimizer_options = {"optimizer_state": carried,
                                 "save_optimizer_state": following is not None and not following.fresh_optimizer}
            if phase.self_paced is not None:
                from lingotune.train.self_paced_phase import train_self_paced_phase

                result, dropped = train_self_paced_phase(recipe, current, phase, spec, phase_dir,
                                                         run_dir / "metrics.jsonl", step_offset)
            else:
                result, dropped = _train_on(recipe, current, phase.data, spec, phase_dir, run_dir / "metrics.jsonl",
                                            phase.name, step_offset, **optimizer_options)
            _record_training(info, result, dropped)
            done = {"steps": result.steps, "model_dir": str(result.model_dir), "train_time_s": result.train_time_s}
            marker.write_text(json.dumps(done, indent=2))
            _write_info(run_dir, info)
        step_offset += done["steps"]
        current = ResolvedModel(f"{recipe.name}-{phase.name}", done["model_dir"], "local")
        is_last = index == len(recipe.phases) - 1
        stage_done = (run_dir / "eval" / phase.name / "summary.json").exists()
        if recipe.eval and phase.evaluate and not is_last and not stage_done:
            summary = evaluate_model(current, recipe, phase.name, run_dir)
            info["eval_time_s"] += summary["eval_time_s"]
        if recipe.eval and phase.evaluate and not is_last and phase.name not in info["stages"]:
            info["stages"].append(phase.name)
    return current
