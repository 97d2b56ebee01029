"""The recipe: a composition of the sections each layer defines beside its code (``data.spec``,
``train.spec``, ``eval.spec``, ``merge.config``), plus what only the run plan knows: the model,
phases, experts and variants. It holds no logic; ``planner.py`` turns it into steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, PrivateAttr, field_validator, model_validator

from lingotune.core.recipe_yaml import line_of
from lingotune.core.schema import LANGUAGE_CODE, NAME, Dtype, Strict
from lingotune.data.spec import DataSpec
from lingotune.eval.spec import EvalSpec
from lingotune.merge.config import MergeSpec
from lingotune.models.selection import Selection
from lingotune.train.spec import SelfPacedSpec, TrainSpec


class ModelSpec(Strict):
    source: str = "smollm2-135m-instruct"
    trust_remote_code: bool = False
    dtype: Dtype = "auto"  # the default for train.dtype and eval.dtype when those are "auto"


class PhaseSpec(Strict):
    """One phase of a multi-phase run; unset fields fall back to the recipe's ``train`` section."""

    name: str = Field(pattern=NAME)
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

    name: str = Field(pattern=NAME)
    data: DataSpec
    freeze: Selection | None = None
    learning_rate: float | None = Field(default=None, gt=0)
    epochs: float | None = Field(default=None, gt=0)
    max_steps: int | None = None
    evaluate: bool = True


class VariantSpec(Strict):
    """One model built from experts by a merge; ``base``, ``expert:NAME`` and ``variant:NAME`` name
    the recipe's model, an expert, or an earlier variant wherever a merge takes a model."""

    name: str = Field(pattern=NAME)
    merge: MergeSpec
    evaluate: bool = True
    description: str = ""


class Recipe(Strict):
    name: str = Field(pattern=NAME)
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
    _path: Path | None = PrivateAttr(default=None)  # where it was read from, for file:line in later errors
    _root: yaml.Node | None = PrivateAttr(default=None)

    def where(self, loc: tuple[Any, ...]) -> str:
        """``file:line: key`` of a recipe key path (``('data', 'sources', 0)``), for errors found after loading."""
        key = ".".join(map(str, loc))
        if self._path is None:
            return key
        return f"{self._path}:{line_of(self._root, loc) or '?'}: {key}"

    def data_sections(self) -> list[tuple[str, tuple[Any, ...], DataSpec]]:
        """(label, recipe key path, section) of every data section: top-level, per phase, per expert."""
        sections = [("data", ("data",), self.data)] if self.data is not None else []
        sections += [(f"phase {p.name}", ("phases", k, "data"), p.data) for k, p in enumerate(self.phases or [])]
        sections += [(f"expert {e.name}", ("experts", k, "data"), e.data) for k, e in enumerate(self.experts or [])]
        return sections

    def run_dir(self) -> Path:
        return Path(self.output_dir) if self.output_dir else Path("runs") / self.name

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
        return self  # names are checked by load_recipe (references.py), which knows the file lines

    @model_validator(mode="after")
    def _phases_need_train(self) -> Recipe:
        if not self.phases:
            return self
        if self.data is not None:
            raise ValueError("a recipe with phases gives each phase its data; remove the top-level data section")
        if self.train is None:
            self.train = TrainSpec()
        if self.phases[0].lr_multiplier is not None:
            raise ValueError("phases.0.lr_multiplier: the first phase has no previous learning rate")
        for index, phase in enumerate(self.phases):
            if phase.self_paced and self.train.unlikelihood is not None:
                raise ValueError(f"phases.{index}.self_paced: does not combine with train.unlikelihood (difficulty "
                                 "is measured on the targets only, so the negative twins would not be trained); "
                                 "leave one out")
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
