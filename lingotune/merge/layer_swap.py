"""Layer swapping (Bandarkar et al., ICLR 2025; methods.md §3.1–3.2), compiled to a mergekit linear merge.

Routing, per block ``l`` of ``L`` (read from the model config): language-expert weight ``w = 1`` in
the bottom ``b`` and top ``u`` blocks, ``0`` in the middle, and a linear ramp inside the transition
zones (``t`` blocks next to each swapped zone get ``1 - i/(t+1)``, ``i = 1..t``: 0.5 for ``t = 1``).
Each run of blocks with one weight becomes one mergekit slice with both experts as sources weighted
``w`` and ``1 - w``; with weights 1/0 mergekit's linear merge returns the expert's tensor exactly.

Non-block tensors (embeddings, final norm, head) are not layers, and the paper only swaps
transformer layers; they come from ``non_block_from`` (default: the task expert, methods.md §3.2
[INF]), through conditional weights on the first slice (where mergekit plans the embeddings) and the
last slice (final norm and head). This rule is lingotune's, written here because mergekit takes
non-block tensors from the first/last slice's own weights.
"""

from __future__ import annotations

from pathlib import Path

from lingotune.merge.compile import CompiledMerge, conditional
from lingotune.merge.config import LayerSwapMerge
from lingotune.merge.errors import MergeError
from lingotune.models.layout import ModelLayout, tensor_shapes


def blocks_from(count: int | float, num_layers: int) -> int:
    """An int is a block count; a float in (0, 1) a fraction of the model's depth (rounded)."""
    return count if isinstance(count, int) else round(count * num_layers)


def language_weights(spec: LayerSwapMerge, num_layers: int) -> list[float]:
    """Language-expert weight per block (task expert gets ``1 - w``)."""
    bottom, top = blocks_from(spec.bottom, num_layers), blocks_from(spec.top, num_layers)
    t = spec.transitions()
    t_bottom = t.bottom if bottom else 0  # a ramp needs a swapped zone to ramp from
    t_top = t.top if top else 0
    used = bottom + t_bottom + t_top + top
    if used > num_layers:
        raise MergeError(
            f"merge: bottom ({bottom}) + transition ({t_bottom} + {t_top}) + top ({top}) = {used} blocks, "
            f"but the model has {num_layers}"
        )
    weights = [0.0] * num_layers
    for layer in range(num_layers):
        if layer < bottom or layer >= num_layers - top:
            weights[layer] = 1.0
        elif layer < bottom + t_bottom:
            weights[layer] = 1 - (layer - bottom + 1) / (t_bottom + 1)
        elif layer >= num_layers - top - t_top:
            weights[layer] = (layer - (num_layers - top - t_top) + 1) / (t_top + 1)
    return weights


def _runs(weights: list[float]) -> list[tuple[int, int, float]]:
    runs: list[tuple[int, int, float]] = []
    for layer, w in enumerate(weights):
        if runs and runs[-1][2] == w and runs[-1][1] == layer:
            runs[-1] = (runs[-1][0], layer + 1, w)
        else:
            runs.append((layer, layer + 1, w))
    return runs


def compile_layer_swap(spec: LayerSwapMerge, paths: dict[str, Path], layout: ModelLayout) -> CompiledMerge:
    language, task = str(paths["language_expert"]), str(paths["task_expert"])
    weights = language_weights(spec, layout.num_layers)
    non_block_w = {"language": 1.0, "task": 0.0, "average": 0.5}[spec.non_block_from]
    names = list(tensor_shapes(paths["task_expert"]))
    pre = [n for n in layout.pre_weights if n in names]
    post = [n for n in layout.post_weights if n in names]
    runs = _runs(weights)
    slices = []
    for index, (start, end, w) in enumerate(runs):
        overrides = {n: non_block_w for n in (pre if index == 0 else []) + (post if index == len(runs) - 1 else [])}
        lang_w = conditional(overrides, w, names)
        task_w = conditional({n: 1 - v for n, v in overrides.items()}, 1 - w, names)
        slices.append({"sources": [
            {"model": language, "layer_range": [start, end], "parameters": {"weight": lang_w}},
            {"model": task, "layer_range": [start, end], "parameters": {"weight": task_w}},
        ]})
    config = {"merge_method": "linear", "slices": slices, "parameters": {"normalize": True}}
    config |= {k: v for k, v in (("dtype", spec.dtype), ("out_dtype", spec.out_dtype)) if v}
    donor = paths["language_expert"] if spec.non_block_from == "language" else paths["task_expert"]
    plan = {
        "method": "layer_swap",
        "num_layers": layout.num_layers,
        "language_weight_per_block": weights,
        "non_block_from": spec.non_block_from,
        "non_block_tensors": pre + post,
        "language_expert": language,
        "task_expert": task,
    }
    if not any(weights):
        raise MergeError("merge: bottom and top are both 0 blocks, so nothing comes from the language expert")
    return CompiledMerge(config=config, tokenizer_from=donor, plan=plan)
