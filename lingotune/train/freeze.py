"""Freeze-before-training with the same ``Selection`` as revert-after-training (methods.md §3.4).

Bandarkar & Peng (2025) compare freezing a parameter subset from the start with training everything
and reverting that subset afterwards (``lingotune.merge.revert``); both read one
``lingotune.merge.selection.Selection`` so the comparison is on equal terms:

- whole tensors (``modules`` / ``layers``) get ``requires_grad=False``: the optimizer never sees them;
- partial tensors (``keep_fraction``) keep ``requires_grad`` but a gradient hook zeroes the frozen
  entries, and a global optimizer post-step hook writes their starting values back after every step,
  so weight decay or momentum cannot move them either. The trainable entries are the top
  ``keep_fraction`` of |θ_ref − θ_0| where θ_ref is ``selection.reference`` (an expert trained
  earlier from the same base): the update is unknown before training, so its magnitudes must come
  from a previous run.
- PEFT-wrapped models: the LoRA factors of a selected module are frozen (the LoRA equivalent of
  "attach LoRA only to the allowed blocks", methods.md §3.4); magnitude masks cannot be expressed on
  LoRA factors and are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lingotune.core.errors import TrainingError
from lingotune.models.selection import Selection, select_tensors, top_fraction_mask

_PEFT_PREFIX = re.compile(r"^base_model\.model\.")
_LORA_PART = re.compile(r"\.(lora_[A-Za-z_]+|modules_to_save)\.[^.]+(?=\.)|\.base_layer(?=\.)")


@dataclass
class FreezeState:
    frozen: list[str] = field(default_factory=list)  # parameter names frozen whole
    masked: dict[str, float] = field(default_factory=dict)  # parameter name → trainable fraction
    handles: list[Any] = field(default_factory=list)

    def remove(self) -> None:
        """Undo the hooks (requires_grad flags are left as they are)."""
        for handle in self.handles:
            handle.remove()
        self.handles.clear()


def checkpoint_name(param_name: str) -> str:
    """Parameter name → the tensor name it merges into in a saved checkpoint (PEFT/LoRA parts removed)."""
    name = _PEFT_PREFIX.sub("", param_name)
    return _LORA_PART.sub("", name)


def apply_freeze(model, selection: Selection, *, reference_path=None) -> list[str]:
    """Freeze the selected parameters of ``model`` (plain or PEFT); return the names touched.

    ``reference_path`` overrides ``selection.reference`` (a local checkpoint folder) for
    ``keep_fraction``. The ``FreezeState`` (hook handles, partial masks) is kept on
    ``model.lingotune_freeze`` so it lives as long as the model.
    """
    import torch

    from lingotune.models.layout import layout_for

    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    layout = layout_for(config=inner.config)
    params = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    by_target: dict[str, list[tuple[str, torch.nn.Parameter]]] = {}
    for name, p in params:
        by_target.setdefault(checkpoint_name(name), []).append((name, p))
    is_peft = any(checkpoint_name(n) != _PEFT_PREFIX.sub("", n) for n, _ in params)
    targets = select_tensors(list(by_target), layout, selection, where="freeze")
    state = FreezeState()
    if selection.keep_fraction is None:
        for target in targets:
            for name, p in by_target[target]:
                p.requires_grad_(False)
                state.frozen.append(name)
    else:
        if is_peft:
            raise TrainingError("freeze.keep_fraction: magnitude masks need full fine-tuning (train.method=full), "
                             "LoRA factors cannot be masked entry by entry")
        reference = _reference_loader(selection, reference_path)
        restore: list[tuple[torch.nn.Parameter, torch.Tensor, torch.Tensor]] = []
        for target in targets:
            for name, p in by_target[target]:
                delta = reference.get_tensor(target).to(p.device, torch.float32) - p.detach().float()
                trainable = top_fraction_mask(delta, selection.keep_fraction)
                keep = trainable.to(p.dtype)
                state.handles.append(p.register_hook(lambda grad, keep=keep: grad * keep))
                restore.append((p, ~trainable, p.detach()[~trainable].clone()))
                state.masked[name] = float(trainable.float().mean())

        def restore_frozen_entries(optimizer, args, kwargs) -> None:
            with torch.no_grad():
                for p, frozen, values in restore:
                    p[frozen] = values

        from torch.optim.optimizer import register_optimizer_step_post_hook

        # global: the Trainer builds its optimizer after this call, so there is none to hook yet
        state.handles.append(register_optimizer_step_post_hook(restore_frozen_entries))
    model.lingotune_freeze = state
    return state.frozen + list(state.masked)


def _reference_loader(selection: Selection, reference_path):
    from mergekit.io.lazy_tensor_loader import LazyTensorLoader

    from lingotune.models.adapters import resolve_checkpoint

    if reference_path is None:
        if selection.reference is None:
            raise TrainingError("freeze.reference: keep_fraction needs a reference expert (trained earlier from the "
                                "same base) whose update magnitudes choose the trainable entries")
        reference_path = resolve_checkpoint(selection.reference, "freeze.reference")
    return LazyTensorLoader.from_disk(str(reference_path))
