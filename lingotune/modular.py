"""What a modular recipe does (methods.md §3): train experts → merge them into variants → evaluate
each → one comparison report.

Bandarkar et al. (2025) fine-tune a language expert and a task expert from one model and merge
them; Bandarkar & Peng (2025) compare that with freezing parameters during training and with
reverting updates afterwards. A recipe lists ``experts`` (each trained from the recipe's model on
its own data, optionally with ``freeze``) and ``variants`` (each a ``merge:`` over ``base``,
``expert:NAME`` or ``variant:NAME``); every expert and variant with ``evaluate: true`` is
evaluated with the recipe's ``eval`` section as a stage of its own, and the report compares all
stages against the base model with CIs.

Run folder: ``experts/<name>/`` (trained model, adapter, ``expert_complete.json``),
``variants/<name>/`` (``model/``, ``mergekit_config.yaml``, ``merge_plan.json``), ``eval/<stage>/``,
``analysis/`` (update magnitudes of the experts), ``report.md``/``report.html``. With
``train.resume: true`` a rerun skips finished experts, variants and evaluations.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lingotune.config import ExpertSpec, Recipe, TrainSpec
from lingotune.errors import RecipeError
from lingotune.merge.references import ReferenceProblem, check_references, parse_reference, substitute
from lingotune.models.sources import ResolvedModel
from lingotune.progress import console


def expert_train_spec(recipe: Recipe, expert: ExpertSpec, experts_dir: Path) -> TrainSpec:
    """The expert's settings over the recipe's ``train`` section; ``expert:NAME`` in ``freeze.reference``
    becomes that expert's trained model."""
    assert recipe.train is not None
    update: dict[str, Any] = {k: v for k, v in (("learning_rate", expert.learning_rate), ("epochs", expert.epochs),
                                                ("max_steps", expert.max_steps)) if v is not None}
    if expert.freeze is not None:
        freeze = expert.freeze.model_copy()
        ref = parse_reference(freeze.reference) if freeze.reference else None
        if ref is not None:
            freeze.reference = str(experts_dir / ref[1] / "model")
        update["freeze"] = freeze
    return recipe.train.model_copy(update=update)


class ModularRun:
    """One modular run; methods are the steps, in the order ``run`` calls them."""

    def __init__(self, recipe: Recipe, base: ResolvedModel, run_dir: Path, info: dict[str, Any]) -> None:
        self.recipe, self.base, self.run_dir, self.info = recipe, base, run_dir, info
        self.models: dict[tuple[str, str], Path] = {}  # ("expert" | "variant", name) → model folder
        info.setdefault("experts", {})
        info.setdefault("variants", {})

    def run(self) -> None:
        try:
            check_references(self.recipe.experts or [], self.recipe.variants or [])
        except ReferenceProblem as problem:
            raise RecipeError(f"invalid recipe: {problem}") from None
        step_offset = 0
        for expert in self.recipe.experts or []:
            step_offset += self.train_expert(expert, step_offset)
            if expert.evaluate:
                self.evaluate(expert.name, self.models[("expert", expert.name)])
        for variant in self.recipe.variants or []:
            self.build_variant(variant)
            if variant.evaluate:
                self.evaluate(variant.name, self.models[("variant", variant.name)])
        self.analyze()

    def _save_info(self) -> None:
        (self.run_dir / "run_info.json").write_text(json.dumps(self.info, indent=2))

    def train_expert(self, expert: ExpertSpec, step_offset: int) -> int:
        """Train one expert from the base model (skipped when a finished one is on disk); returns its steps."""
        from lingotune.pipeline import _record_training, _train_on

        out_dir = self.run_dir / "experts" / expert.name
        marker = out_dir / "expert_complete.json"
        if marker.exists():
            done = json.loads(marker.read_text())
            console.print(f"[dim]expert {expert.name}: already trained, skipped[/dim]")
        else:
            spec = expert_train_spec(self.recipe, expert, self.run_dir / "experts")
            console.rule(f"expert {expert.name}")
            result, dropped = _train_on(self.recipe, self.base, expert.data, spec, out_dir,
                                        self.run_dir / "metrics.jsonl", expert.name, step_offset)
            _record_training(self.info, result, dropped)
            done = {"steps": result.steps, "model_dir": str(Path(result.model_dir).resolve()),
                    "train_time_s": result.train_time_s,
                    "train_tokens": result.train_tokens, "train_examples": result.train_examples,
                    "final_loss": result.final_loss,
                    "frozen": expert.freeze.describe() if expert.freeze is not None else None}
            marker.write_text(json.dumps(done, indent=2))
        self.info["experts"][expert.name] = done
        self._save_info()
        self.models[("expert", expert.name)] = Path(done["model_dir"])
        return int(done["steps"])

    def _resolve(self, kind: str, name: str) -> str:
        return self.base.path if kind == "base" else str(self.models[(kind, name)])

    def build_variant(self, variant) -> None:
        """Merge with mergekit into ``variants/<name>/model`` (written atomically, so it exists only when done)."""
        from lingotune.merge.run import run_merge_spec

        out_dir = self.run_dir / "variants" / variant.name
        model_dir = out_dir / "model"
        if (model_dir / "lingotune_merge_plan.json").exists():
            console.print(f"[dim]variant {variant.name}: already merged, skipped[/dim]")
        else:
            console.rule(f"variant {variant.name} ({variant.merge.method})")
            spec = substitute(variant.merge, self._resolve)
            result = run_merge_spec(spec, model_dir, out_dir)
            self.info["variants"][variant.name] = {"method": variant.merge.method, "merge_time_s": result.seconds,
                                                   "mergekit_config": str(result.config_path),
                                                   "description": variant.description}
            self._save_info()
        self.models[("variant", variant.name)] = model_dir

    def evaluate(self, stage: str, model_dir: Path) -> None:
        from lingotune.eval.suite import evaluate_model

        if self.recipe.eval is None:
            return
        if not (self.run_dir / "eval" / stage / "summary.json").exists():
            model = ResolvedModel(f"{self.recipe.name}-{stage}", str(model_dir), "local")
            summary = evaluate_model(model, self.recipe, stage, self.run_dir)
            self.info["eval_time_s"] += summary["eval_time_s"]
        if stage not in self.info["stages"]:
            self.info["stages"].append(stage)
        self._save_info()

    def analyze(self) -> None:
        """Update magnitudes of the experts trained without freezing (the evidence for choosing layers)."""
        from lingotune.merge.analyze import analyze_updates, save_heatmap

        experts = [e.name for e in self.recipe.experts or [] if e.freeze is None]
        if not experts:
            return
        analysis = analyze_updates(self.base.path, [str(self.models[("expert", n)]) for n in experts], experts)
        folder = self.run_dir / "analysis"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "update_magnitudes.json").write_text(json.dumps(analysis.to_json(), indent=2))
        save_heatmap(analysis, folder / "update_magnitudes.png")
        self.info["analysis"] = {"experts": experts, "suggestion": analysis.suggestion,
                                 "num_layers": analysis.num_layers}
        self._save_info()


def run_modular(recipe: Recipe, base: ResolvedModel, run_dir: Path, info: dict[str, Any]) -> None:
    ModularRun(recipe, base, run_dir, info).run()
