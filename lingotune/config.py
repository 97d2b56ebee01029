"""Recipe schema and loading.

A recipe is YAML validated by these pydantic models before any work starts: an unknown key or a
wrong type is reported with the key's dotted path, the file and the line. ``key=value`` overrides
from the command line are applied to the YAML tree first, so they are validated the same way.
Relative data paths are resolved against the recipe's folder, then the working directory, then the
lingotune checkout, and must exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lingotune.errors import RecipeError
from lingotune.eval.judge.config import JudgeSpec
from lingotune.merge.config import MergeSpec
from lingotune.merge.selection import Selection
from lingotune.paths import repo_root

LANGUAGE_CODE = r"^[a-z]{2,3}([-_][A-Za-z0-9]{2,8})*$"
DataFormat = Literal["auto", "alpaca", "sharegpt", "messages", "squad", "parallel", "hf", "mt_bench"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelSpec(Strict):
    source: str = "smollm2-135m-instruct"
    trust_remote_code: bool = False
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"


class DataSource(Strict):
    name: str
    path: str | list[str]
    format: DataFormat = "auto"
    language: str = Field(pattern=LANGUAGE_CODE)
    source_language: str | None = Field(default=None, pattern=LANGUAGE_CODE)
    builder: Literal[
        "as_is", "extractive_qa", "long_answer", "translation", "xcit_monolingual", "xcit_chat", "xcit_both", "plug"
    ] = "as_is"
    prompt_template: str | None = None
    # X-CIT / PLUG (methods.md §1.3): the English side of parallel instruction data, paired by id or position
    english_path: str | None = None
    english_prompt_template: str | None = None
    pair_by: Literal["id", "index"] = "id"
    subset_fraction: float = Field(default=0.1, gt=0, le=1)
    cue: str | None = None
    restate_template: str | None = None
    loss_turns: Literal["all", "last"] | list[int] = "all"
    english_label: str | None = None
    target_label: str | None = None
    max_context_chars: int | None = Field(default=None, gt=0)
    weight: float = Field(default=1.0, ge=0)
    max_examples: int | None = Field(default=None, gt=0)


class DataSpec(Strict):
    sources: list[DataSource] = Field(min_length=1)
    total_examples: int | None = Field(default=None, gt=0)


class LoraSpec(Strict):
    r: int = Field(default=16, gt=0)
    alpha: float = 32
    dropout: float = Field(default=0.0, ge=0, lt=1)
    target_modules: str | list[str] = "all-linear"


class TrainSpec(Strict):
    method: Literal["lora", "full"] = "lora"
    lora: LoraSpec = LoraSpec()
    learning_rate: float = Field(default=2e-4, gt=0)
    epochs: float = Field(default=1.0, gt=0)
    max_steps: int = -1
    batch_size: int = Field(default=8, gt=0)
    grad_accum: int = Field(default=1, gt=0)
    max_length: int = Field(default=512, gt=0)
    warmup_ratio: float = Field(default=0.03, ge=0, lt=1)
    lr_scheduler: str = "cosine"
    weight_decay: float = 0.0
    save_steps: int = Field(default=50, gt=0)
    save_total_limit: int = Field(default=2, gt=0)
    resume: bool = False
    report_to: str | list[str] = "none"
    loss_on: Literal["assistant", "all"] = "assistant"
    freeze: Selection | None = None
    logging_steps: int = Field(default=1, gt=0)
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"


class SelfPacedSpec(Strict):
    """Self-paced learning inside a phase (methods.md §1.4, §8): easy → hard by loss quantile."""

    epochs: int = Field(default=3, gt=0, description="SPL epochs before the final full-data epoch")
    q0: float = Field(default=0.5, gt=0, le=1, description="share of the data selected in the first SPL epoch")
    schedule: Literal["linear", "root", "geometric"] = "linear"
    weighting: Literal["hard", "linear", "log", "mixture"] = "hard"
    difficulty: Literal["current", "static", "length"] = "current"
    final_full_epoch: bool = True


class PhaseSpec(Strict):
    """One phase of a multi-phase run; unset fields fall back to the recipe's ``train`` section."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    data: DataSpec
    learning_rate: float | None = Field(default=None, gt=0)
    lr_multiplier: float | None = Field(default=None, gt=0, description="× the previous phase's learning rate")
    epochs: float | None = Field(default=None, gt=0)
    max_steps: int | None = None
    fresh_optimizer: bool = True
    self_paced: SelfPacedSpec | None = None
    evaluate: bool = True

    @model_validator(mode="after")
    def _one_lr(self) -> PhaseSpec:
        if self.learning_rate is not None and self.lr_multiplier is not None:
            raise ValueError("give learning_rate or lr_multiplier, not both")
        return self


class ExpertSpec(Strict):
    """One expert of a modular recipe (methods.md §3): trained from the recipe's model on its own data.

    Unset fields fall back to the recipe's ``train`` section. ``freeze`` is freeze-before-training
    with the same selection syntax as a ``revert`` merge, so the two compare on equal terms.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    data: DataSpec
    freeze: Selection | None = None
    learning_rate: float | None = Field(default=None, gt=0)
    epochs: float | None = Field(default=None, gt=0)
    max_steps: int | None = None
    evaluate: bool = True


class VariantSpec(Strict):
    """One model built from experts by a merge; ``base``, ``expert:NAME`` and ``variant:NAME`` name
    the recipe's model, an expert, or an earlier variant wherever a merge takes a model."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    merge: MergeSpec
    evaluate: bool = True
    description: str = ""


class EvalTask(Strict):
    name: str
    kind: Literal["qa", "translation", "fidelity"]
    path: str | list[str]
    format: DataFormat = "auto"
    language: str = Field(pattern=LANGUAGE_CODE)
    source_language: str | None = Field(default=None, pattern=LANGUAGE_CODE)
    prompt_template: str | None = None
    max_items: int | None = Field(default=None, gt=0)
    max_new_tokens: int = Field(default=32, gt=0)
    retention: bool = False
    protocol: Literal["direct", "two_turn", "plug"] = "direct"  # X-CIT inference protocols (methods.md §1.3)
    cue: str | None = None
    target_label: str | None = None


class EvalSpec(Strict):
    tasks: list[EvalTask] = []
    judge: JudgeSpec | None = None
    batch_size: int = Field(default=16, gt=0)
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    bootstrap_resamples: int = Field(default=1000, gt=0)
    cache_base: bool = True
    samples_in_report: int = Field(default=5, ge=0)

    @model_validator(mode="after")
    def _something_to_evaluate(self) -> EvalSpec:
        if not self.tasks and self.judge is None:
            raise ValueError("eval needs at least one task or a judge section")
        return self


class Recipe(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    seed: int = 0
    language: str = Field(pattern=LANGUAGE_CODE)
    language_names: dict[str, str] = {}
    output_dir: str | None = None
    model: ModelSpec = ModelSpec()
    data: DataSpec | None = None
    train: TrainSpec | None = None
    eval: EvalSpec | None = None
    merge: MergeSpec | None = None
    phases: list[PhaseSpec] | None = Field(default=None, min_length=1)
    experts: list[ExpertSpec] | None = Field(default=None, min_length=1)
    variants: list[VariantSpec] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _modular(self) -> Recipe:
        if not (self.experts or self.variants):
            return self
        clashing = [key for key in ("data", "phases", "merge") if getattr(self, key) is not None]
        if clashing:
            raise ValueError(f"a recipe with experts/variants builds its models from them; remove {clashing} "
                             "(each expert has its own data, each variant its own merge)")
        if self.experts and self.train is None:
            self.train = TrainSpec()
        return self  # names are checked by load_recipe (merge/references.py), which knows the file lines

    @model_validator(mode="after")
    def _phases_need_train(self) -> Recipe:
        if self.phases:
            if self.data is not None:
                raise ValueError("a recipe with phases gives each phase its data; remove the top-level data section")
            if self.train is None:
                self.train = TrainSpec()
            if self.phases[0].lr_multiplier is not None:
                raise ValueError("phases.0.lr_multiplier: the first phase has no previous learning rate")
            for index, phase in enumerate(self.phases):
                if phase.fresh_optimizer:
                    continue
                if index == 0:
                    raise ValueError("phases.0.fresh_optimizer: false needs a previous phase to take it from")
                if self.train.method != "full" or phase.self_paced or self.phases[index - 1].self_paced:
                    raise ValueError(
                        f"phases.{index}.fresh_optimizer: false needs train.method: full and no self_paced in "
                        "either phase (with LoRA each phase trains a new adapter on the previous phase's merged "
                        "weights, so there is no optimizer state to carry)")
            names = [phase.name for phase in self.phases]
            if len(set(names)) != len(names):
                raise ValueError(f"phase names must be unique, got {names}")
        return self

    @field_validator("language_names")
    @classmethod
    def _codes(cls, names: dict[str, str]) -> dict[str, str]:
        return {code.lower(): name for code, name in names.items()}

    def run_dir(self) -> Path:
        return Path(self.output_dir) if self.output_dir else Path("runs") / self.name


def apply_overrides(tree: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """``train.learning_rate=1e-4`` or ``eval.tasks.0.max_items=10``; values are parsed as YAML."""
    for override in overrides:
        key, sep, raw = override.partition("=")
        if not sep or not key:
            raise RecipeError(f"override {override!r}: expected key=value, e.g. train.learning_rate=1e-4")
        parts = key.split(".")
        node: Any = tree
        for depth, part in enumerate(parts[:-1]):
            child = node[int(part)] if isinstance(node, list) else node.get(part)
            if child is None:
                child = {}
                node[part] = child
            if not isinstance(child, dict | list):
                raise RecipeError(f"override {override!r}: {'.'.join(parts[: depth + 1])} is not a section")
            node = child
        value = yaml.safe_load(raw)
        if isinstance(node, list):
            node[int(parts[-1])] = value
        else:
            node[parts[-1]] = value
    return tree


def _line_of(root: yaml.Node, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the deepest YAML node on the error's path."""
    node, line = root, root.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == part), None)
            if match is None:
                break
            node, line = match[1], match[0].start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _describe(error: dict[str, Any]) -> str:
    loc = ".".join(str(p) for p in error["loc"])
    if error["type"] == "extra_forbidden":
        return f"unknown key {loc!r}"
    got = error.get("input")
    shown = "" if isinstance(got, dict | list) else f" (got {got!r})"
    return f"{loc or 'recipe'}: {error['msg']}{shown}"


def read_recipe_tree(path: Path, overrides: list[str] | None = None) -> tuple[dict[str, Any], yaml.Node | None]:
    """The recipe's YAML with overrides applied, and its node tree (for line numbers in errors)."""
    if not path.exists():
        raise RecipeError(f"recipe {path} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        tree = yaml.safe_load(text) or {}
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise RecipeError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(tree, dict):
        raise RecipeError(f"{path}: a recipe is a YAML mapping (key: value), got {type(tree).__name__}")
    return apply_overrides(tree, overrides or []), root


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    path = Path(path)
    tree, root = read_recipe_tree(path, overrides)
    try:
        recipe = Recipe.model_validate(tree)
    except ValidationError as exc:
        from lingotune.merge.config import error_lines  # also drops the merge union's method tag from keys

        lines = error_lines(exc, root, path)
        raise RecipeError("invalid recipe\n" + "\n".join(lines)) from None
    _check_references(recipe, root, path)
    _resolve_paths(recipe, path)
    from lingotune.merge.config import resolve_relative_sources

    for merge in [recipe.merge, *(v.merge for v in recipe.variants or [])]:
        if merge is not None:
            resolve_relative_sources(merge, path.parent)
    return recipe


def _check_references(recipe: Recipe, root: yaml.Node | None, path: Path) -> None:
    from lingotune.merge.references import ReferenceProblem, check_references

    try:
        check_references(recipe.experts or [], recipe.variants or [])
    except ReferenceProblem as problem:
        line = _line_of(root, problem.loc) if root is not None else None
        raise RecipeError(f"invalid recipe\n{path}:{line or '?'}: {problem}") from None


def _resolve_one(value: str, recipe_path: Path, where: str) -> str:
    candidate = Path(value).expanduser()
    if candidate.is_absolute():
        options = [candidate]
    else:
        options = [recipe_path.parent / candidate, Path.cwd() / candidate, repo_root() / candidate]
    for option in options:
        if option.exists():
            return str(option.resolve())
    raise RecipeError(f"{recipe_path}: {where}: file {value!r} not found (looked in {[str(o) for o in options]})")


def _resolve_paths(recipe: Recipe, recipe_path: Path) -> None:
    entries: list[tuple[Any, str]] = []
    if recipe.data:
        entries += [(s, f"data.sources.{i}.path") for i, s in enumerate(recipe.data.sources)]
    for k, phase in enumerate(recipe.phases or []):
        entries += [(s, f"phases.{k}.data.sources.{i}.path") for i, s in enumerate(phase.data.sources)]
    for k, expert in enumerate(recipe.experts or []):
        entries += [(s, f"experts.{k}.data.sources.{i}.path") for i, s in enumerate(expert.data.sources)]
    for source, where in list(entries):
        if getattr(source, "english_path", None):
            where_english = where.replace(".path", ".english_path")
            source.english_path = _resolve_one(source.english_path, recipe_path, where_english)
    if recipe.eval:
        entries += [(t, f"eval.tasks.{i}.path") for i, t in enumerate(recipe.eval.tasks)]
    for item, where in entries:
        paths = item.path if isinstance(item.path, list) else item.path.split("|")
        resolved = [_resolve_one(p, recipe_path, where) for p in paths]
        item.path = resolved if len(resolved) > 1 else resolved[0]
    judge = recipe.eval.judge if recipe.eval else None
    for attr in ("questions", "reference_answers", "answers", "judge_prompts", "baseline_answers"):
        value = getattr(judge, attr, None)
        if value and not value.startswith("stage:"):
            setattr(judge, attr, _resolve_one(value, recipe_path, f"eval.judge.{attr}"))


def dump_recipe(recipe: Recipe) -> str:
    return yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
