"""Revert part of a fine-tuning update after training (Bandarkar & Peng 2025; methods.md §3.4).

"Reverting less useful fine-tuning updates after training often outperforms freezing them from the
start": given the base θ0, a fine-tuned expert θ and a ``Selection``, the selected part of the
update is set back to θ0 and the rest is kept. Both modes are plain mergekit merges:

- positional (``modules`` / ``layers``): a linear merge of expert and base with per-tensor weights
  1/0 (selected tensors: base; others: expert), exact to the bit;
- magnitude (``keep_fraction``): a single-model TIES merge over the base with per-tensor
  ``density``: mergekit keeps the top ``keep_fraction`` of |θ − θ0| in the selected tensors and
  zeroes the rest of the update (no sign election happens with one model; ``normalize`` off). Kept
  entries are θ0 + (θ − θ0), equal to θ up to float rounding; reverted entries are θ0 exactly.

The same ``Selection`` drives ``lingotune.train.freeze.apply_freeze`` so the two compare fairly.
"""

from __future__ import annotations

from pathlib import Path

from lingotune.merge.compile import CompiledMerge, conditional
from lingotune.merge.config import RevertMerge
from lingotune.models.layout import ModelLayout, tensor_shapes
from lingotune.models.selection import select_tensors


def compile_revert(spec: RevertMerge, paths: dict[str, Path], layout: ModelLayout) -> CompiledMerge:
    base, expert = str(paths["base_model"]), str(paths["expert"])
    names = list(tensor_shapes(paths["expert"]))
    selected = select_tensors(names, layout, spec.revert, where="merge.revert")
    if spec.revert.keep_fraction is None:
        expert_w = conditional(dict.fromkeys(selected, 0.0), 1.0, names, layout)
        base_w = conditional(dict.fromkeys(selected, 1.0), 0.0, names, layout)
        config = {
            "merge_method": "linear",
            "models": [
                {"model": expert, "parameters": {"weight": expert_w}},
                {"model": base, "parameters": {"weight": base_w}},
            ],
            "parameters": {"normalize": True},
        }
    else:
        density = conditional(dict.fromkeys(selected, spec.revert.keep_fraction), 1.0, names, layout)
        config = {
            "merge_method": "ties",
            "base_model": base,
            "models": [{"model": expert, "parameters": {"weight": 1.0, "density": density}}],
            "parameters": {"normalize": False, "lambda": 1.0},
        }
    config |= {k: v for k, v in (("dtype", spec.dtype), ("out_dtype", spec.out_dtype)) if v}
    plan = {
        "method": "revert",
        "selection": spec.revert.model_dump(exclude_none=True),
        "reverted_tensors" if spec.revert.keep_fraction is None else "trimmed_tensors": selected,
        "base_model": base,
        "expert": expert,
    }
    return CompiledMerge(config=config, tokenizer_from=paths["expert"], plan=plan)
