"""The standard merges, passed through to mergekit under their mergekit names (methods.md §3.5).

linear (model soup), task_arithmetic, ties, dare_ties and slerp are mergekit's own methods;
lingotune only validates the recipe (``config.py``), resolves model sources (LoRA experts merged
first) and checks the architectures match before mergekit runs.
"""

from __future__ import annotations

from pathlib import Path

from lingotune.merge.compile import CompiledMerge
from lingotune.merge.config import DareTiesMerge, SlerpMerge, TaskArithmeticMerge, TiesMerge, _StandardMerge
from lingotune.models.layout import ModelLayout


def compile_standard(spec: _StandardMerge, paths: dict[str, Path], layout: ModelLayout) -> CompiledMerge:
    models = []
    for i, item in enumerate(spec.models):
        path = str(paths[f"models.{i}.model"])
        if isinstance(spec, SlerpMerge):
            models.append({"model": path})
            continue
        params: dict = {"weight": item.weight}
        if isinstance(spec, TiesMerge | DareTiesMerge):
            params["density"] = item.density if item.density is not None else spec.density
        models.append({"model": path, "parameters": params})
    parameters: dict = {}
    if spec.normalize is not None:
        parameters["normalize"] = spec.normalize
    if isinstance(spec, TaskArithmeticMerge | TiesMerge | DareTiesMerge):
        parameters["lambda"] = spec.lambda_
    if isinstance(spec, SlerpMerge):
        parameters["t"] = spec.t
    config: dict = {"merge_method": spec.method, "models": models, "parameters": parameters}
    if spec.base_model:
        config["base_model"] = str(paths["base_model"])
    config |= {k: v for k, v in (("dtype", spec.dtype), ("out_dtype", spec.out_dtype)) if v}
    donor = paths["base_model"] if spec.base_model else paths["models.0.model"]
    plan = {"method": spec.method, "models": [m["model"] for m in models], "base_model": config.get("base_model")}
    return CompiledMerge(config=config, tokenizer_from=donor, plan=plan)
