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

from lingotune.config import DataSpec, Recipe, dump_recipe
from lingotune.data.builders import build_extractive_qa, build_long_answers, build_translation
from lingotune.data.example import Example
from lingotune.data.loaders import load_examples
from lingotune.data.mix import mix, sample
from lingotune.errors import RecipeError
from lingotune.models.sources import ResolvedModel, resolve_model
from lingotune.progress import console


def build_training_examples(data: DataSpec, seed: int, language_names: dict[str, str]) -> list[Example]:
    """Load every source, apply its builder, cap it, then mix by weight (or concatenate)."""
    per_source: dict[str, list[Example]] = {}
    for source in data.sources:
        examples = load_examples(source.path, source.format, source.language,
                                 source_language=source.source_language, name=source.name)
        if source.builder == "extractive_qa":
            examples = build_extractive_qa(examples, source.prompt_template, source.max_context_chars)
        elif source.builder == "long_answer":
            examples = build_long_answers(examples, source.prompt_template)
        elif source.builder == "translation":
            if not source.source_language:
                raise RecipeError(f"data source {source.name!r}: builder translation needs source_language")
            examples = build_translation(examples, source.source_language, source.language,
                                         source.prompt_template, language_names)
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
    _write_info(run_dir, info)
    base = resolve_model(recipe.model.source)
    if recipe.eval:
        summary = evaluate_model(base, recipe, "base", run_dir, use_cache=recipe.eval.cache_base)
        info["stages"].append("base")
        info["eval_time_s"] += summary["eval_time_s"]
    if recipe.train:
        if not recipe.data:
            raise RecipeError("the recipe has a train section but no data section")
        final = _train(recipe, base, run_dir, info)
        if recipe.eval:
            summary = evaluate_model(final, recipe, "final", run_dir)
            info["stages"].append("final")
            info["eval_time_s"] += summary["eval_time_s"]
    info["wall_time_s"] = time.time() - started
    info["finished"] = True
    _write_info(run_dir, info)
    if recipe.eval:
        md, _ = write_report(run_dir)
        console.print(f"[bold green]Report:[/bold green] {md}")
    return run_dir


def _train(recipe: Recipe, base: ResolvedModel, run_dir: Path, info: dict[str, Any]) -> ResolvedModel:
    from lingotune.models.loading import load_tokenizer
    from lingotune.train.sft import train_sft
    from lingotune.train.tokenize import tokenize_examples

    assert recipe.train is not None and recipe.data is not None
    examples = build_training_examples(recipe.data, recipe.seed, recipe.language_names)
    tokenizer = load_tokenizer(base, trust_remote_code=recipe.model.trust_remote_code, padding_side="right")
    loss_turns = "all"
    tokenized, dropped = tokenize_examples(tokenizer, examples, recipe.train.max_length, loss_turns)
    if recipe.train.loss_on == "all":
        for item in tokenized:
            item.assistant_masks = [1] * len(item.input_ids)
    if dropped:
        console.print(f"[yellow]{dropped} of {len(examples)} training examples exceed "
                      f"train.max_length={recipe.train.max_length} tokens and were left out[/yellow]")
    if not tokenized:
        raise RecipeError("no training example fits train.max_length; raise it or shorten the data")
    result = train_sft(base, tokenizer, tokenized, recipe.train, run_dir, seed=recipe.seed,
                       trust_remote_code=recipe.model.trust_remote_code)
    info.update(train_time_s=result.train_time_s, train_tokens=result.train_tokens,
                train_examples=result.train_examples, train_examples_dropped=dropped,
                final_loss=result.final_loss)
    _write_info(run_dir, info)
    return ResolvedModel(recipe.name, str(result.model_dir), "local")
