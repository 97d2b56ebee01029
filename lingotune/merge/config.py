"""The ``merge:`` recipe section: one pydantic model per method, a union discriminated by ``method``.

Model references are model sources: anything ``lingotune.models.sources.resolve_model`` accepts
(embedded name, hub id, local checkpoint, PEFT adapter folder) plus a run folder, whose ``model/``
(or else ``adapter/``) is used. LoRA adapters are merged into their base before the merge
(``lora.py``). Values are checked here, before any model is resolved; checks that need the model
(block count, tensor names) happen when the merge is compiled and name the key too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lingotune.core.errors import RecipeError
from lingotune.core.recipe_yaml import error_lines, read_recipe_tree
from lingotune.merge.references import is_reference, map_model_sources
from lingotune.models.selection import Selection

Dtype = Literal["float32", "bfloat16", "float16"]
Count = int | float  # an int is a number of blocks; a float in (0, 1) a fraction of the block count


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _MergeCommon(_Strict):
    dtype: Dtype | None = None  # dtype tensors are loaded and merged in (None: as stored)
    out_dtype: Dtype | None = None  # dtype written (None: as merged)
    seed: int | None = None  # for DARE's random drop

    def model_sources(self) -> dict[str, str]:
        """Recipe key → model source, for resolution and error messages."""
        raise NotImplementedError


class TransitionSpec(_Strict):
    bottom: int = Field(default=1, ge=0)
    top: int = Field(default=1, ge=0)


class LayerSwapMerge(_MergeCommon):
    """Layer swapping (Bandarkar et al., ICLR 2025; methods.md §3.1–3.2).

    Bottom and top blocks from the language expert, the middle from the task expert, with
    transition zones of linearly ramped weighted averages in between. Defaults are the paper's
    32-block setting (bottom 5, top 2, one transition block each side) scaled to the model's depth.
    """

    method: Literal["layer_swap"]
    language_expert: str
    task_expert: str
    base_model: str | None = None  # only for analysis; the swap itself needs the two experts
    bottom: Count = 5 / 32
    top: Count = 2 / 32
    transition: int | TransitionSpec = 1
    non_block_from: Literal["task", "language", "average"] = "task"

    @field_validator("bottom", "top")
    @classmethod
    def _count(cls, value: Count) -> Count:
        if isinstance(value, bool) or value < 0 or (isinstance(value, float) and value >= 1):
            raise ValueError("a number of blocks (int >= 0) or a fraction of the block count (float in (0, 1))")
        return value

    @field_validator("transition")
    @classmethod
    def _transition(cls, value: int | TransitionSpec) -> int | TransitionSpec:
        if isinstance(value, int) and value < 0:
            raise ValueError("transition width must be >= 0")
        return value

    def transitions(self) -> TransitionSpec:
        t = self.transition
        return t if isinstance(t, TransitionSpec) else TransitionSpec(bottom=t, top=t)

    def model_sources(self) -> dict[str, str]:
        return {"language_expert": self.language_expert, "task_expert": self.task_expert}


class RevertMerge(_MergeCommon):
    """Revert part of a fine-tuning update to the base (Bandarkar & Peng 2025; methods.md §3.4)."""

    method: Literal["revert"]
    base_model: str
    expert: str
    revert: Selection

    @model_validator(mode="after")
    def _something_selected(self) -> RevertMerge:
        s = self.revert
        if not (s.modules or s.layers or s.keep_fraction is not None):
            raise ValueError("revert: select modules, layers or keep_fraction (an empty selection reverts everything)")
        if s.reference is not None:
            raise ValueError("revert.reference: only for freezing; a revert measures the expert's own update")
        return self

    def model_sources(self) -> dict[str, str]:
        return {"base_model": self.base_model, "expert": self.expert}


class MergeInput(_Strict):
    model: str
    weight: float = 1.0
    density: float | None = Field(default=None, gt=0, le=1)


class _StandardMerge(_MergeCommon):
    models: list[MergeInput] = Field(min_length=1)
    base_model: str | None = None
    normalize: bool | None = None  # None: mergekit's default for the method

    def model_sources(self) -> dict[str, str]:
        sources = {f"models.{i}.model": m.model for i, m in enumerate(self.models)}
        if self.base_model:
            sources["base_model"] = self.base_model
        return sources


class LinearMerge(_StandardMerge):
    """Weighted average (model soup; methods.md §3.5)."""

    method: Literal["linear"]

    @model_validator(mode="after")
    def _no_base(self) -> LinearMerge:
        if self.base_model is not None:
            raise ValueError("base_model: linear merges average the models themselves and take no base model")
        if any(m.density is not None for m in self.models):
            raise ValueError("models.*.density: linear merges do not sparsify; use ties or dare_ties")
        return self


class _TaskVectorMerge(_StandardMerge):
    base_model: str
    lambda_: float = Field(default=1.0, alias="lambda")


class TaskArithmeticMerge(_TaskVectorMerge):
    """θ0 + λ Σ w_i (θ_i − θ0) (Ilharco et al., ICLR 2023; methods.md §3.5)."""

    method: Literal["task_arithmetic"]

    @model_validator(mode="after")
    def _no_density(self) -> TaskArithmeticMerge:
        if any(m.density is not None for m in self.models):
            raise ValueError("models.*.density: task_arithmetic does not sparsify; use ties or dare_ties")
        return self


class TiesMerge(_TaskVectorMerge):
    """TIES: trim to ``density`` by magnitude, elect signs, disjoint mean (Yadav et al. 2023; §3.5)."""

    method: Literal["ties"]
    density: float = Field(default=0.2, gt=0, le=1)  # default for models without their own; paper's k = 20 %


class DareTiesMerge(_TaskVectorMerge):
    """DARE (random drop with rescale, Yu et al. 2024) then TIES sign election (methods.md §3.5)."""

    method: Literal["dare_ties"]
    density: float = Field(default=0.5, gt=0, le=1)  # keep probability 1 - p


class SlerpMerge(_StandardMerge):
    """Spherical interpolation between two models; ``t`` = 0 gives the base model, 1 the other."""

    method: Literal["slerp"]
    t: float | list[float] = 0.5

    @field_validator("t")
    @classmethod
    def _unit(cls, value: float | list[float]) -> float | list[float]:
        values = value if isinstance(value, list) else [value]
        if not values or any(not 0 <= v <= 1 for v in values):
            raise ValueError("t must be in [0, 1] (or a list of such values, interpolated across blocks)")
        return value

    @model_validator(mode="after")
    def _two(self) -> SlerpMerge:
        names = {m.model for m in self.models} | ({self.base_model} if self.base_model else set())
        if len(names) != 2:
            raise ValueError(f"models: slerp interpolates exactly two models, got {sorted(names)}")
        if self.base_model is None:
            self.base_model = self.models[0].model
        return self


MergeSpec = Annotated[
    LayerSwapMerge | RevertMerge | LinearMerge | TaskArithmeticMerge | TiesMerge | DareTiesMerge | SlerpMerge,
    Field(discriminator="method"),
]
METHOD_NAMES = ("layer_swap", "revert", "linear", "task_arithmetic", "ties", "dare_ties", "slerp")


class MergeSection(_Strict):
    """Wrapper so a bare ``merge:`` mapping validates with the same error paths as inside a recipe."""

    merge: MergeSpec


def load_merge_section(path: str | Path, overrides: list[str] | None = None) -> tuple[MergeSpec, dict[str, Any]]:
    """Read and validate the ``merge:`` key of a recipe YAML (until the Recipe model carries it).

    Returns the spec and the rest of the YAML tree (``name``, ``output_dir``...). Relative local
    model paths are resolved against the recipe's folder.
    """
    path = Path(path)
    tree, root = read_recipe_tree(path, overrides)
    if isinstance(tree, dict) and "variants" in tree and "merge" not in tree:
        raise RecipeError(f"{path}: a recipe with experts/variants builds its merges from the experts it trains; "
                          f"run it with `lingotune run {path}`")
    if not isinstance(tree, dict) or "merge" not in tree:
        raise RecipeError(f"{path}: no 'merge:' section (methods: {', '.join(METHOD_NAMES)})")
    try:
        spec = MergeSection.model_validate({"merge": tree["merge"]}).merge
    except ValidationError as exc:
        raise RecipeError("invalid recipe\n" + "\n".join(error_lines(exc, root, path, tree))) from None
    resolve_relative_sources(spec, path.parent)
    return spec, tree


def resolve_relative_sources(spec: BaseModel, folder: Path) -> None:
    """Make ``./experts/lang``-style references absolute against the recipe folder when they exist there."""

    def fix(_: str, value: str) -> str:
        if is_reference(value):  # base / expert:NAME / variant:NAME of a modular recipe
            return value
        candidate = folder / Path(value).expanduser()
        looks_local = value.startswith((".", "/", "~")) or candidate.exists()
        return str(candidate.resolve()) if looks_local and candidate.exists() else value

    map_model_sources(spec, fix)
