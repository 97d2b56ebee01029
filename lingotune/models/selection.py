"""One selection of parameters, shared by revert-after-training and freeze-before-training.

Bandarkar & Peng (2025) compare "train, then revert the less useful updates" with "freeze the same
parameters from the start" (methods.md §3.4); the comparison is only fair if both use the very same
selection, so both read this one spec:

- ``modules``: name patterns matched against dotted components of a tensor name (``mlp``,
  ``self_attn.q_proj``, ``*_proj``, ``embed_tokens``, or a full name / glob);
- ``layers``: block indices or half-open ranges ``[start, end]`` (negative counts from the top,
  ``end: null`` = up to the last block), e.g. ``[[0, 5], [-2, null]]`` = bottom 5 and top 2;
- ``keep_fraction``: inside the selected tensors, keep the largest-magnitude fraction of each
  tensor's update and select only the rest (TIES-style trimming, methods.md §3.5). For freezing,
  the magnitudes come from ``reference`` (an earlier expert trained from the same base), since the
  update is not known before training.

Selected = reverted to base (revert) or kept at its starting value (freeze). With ``modules`` and
``layers`` both set, a tensor must match both; with neither, every tensor is selected.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lingotune.core.errors import ModelStructureError

if TYPE_CHECKING:
    import torch

    from lingotune.models.layout import ModelLayout


class Selection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    modules: list[str] | None = None
    layers: list[int | tuple[int, int | None]] | None = None
    keep_fraction: float | None = Field(default=None, gt=0, le=1)
    reference: str | None = None

    @field_validator("modules", "layers")
    @classmethod
    def _not_empty(cls, value: list | None) -> list | None:
        if value is not None and not value:
            raise ValueError("an empty list selects nothing; leave the key out to select every tensor")
        return value

    def describe(self) -> str:
        parts = [f"modules={self.modules}" if self.modules else "", f"layers={self.layers}" if self.layers else ""]
        if self.keep_fraction is not None:
            parts.append(f"all but the top {self.keep_fraction:g} of each update")
        return ", ".join(p for p in parts if p) or "every tensor"


def layer_set(layers: list[int | tuple[int, int | None]], num_layers: int, where: str = "layers") -> set[int]:
    """Resolve indices and ranges against the model's block count (read from its config)."""
    chosen: set[int] = set()
    for item in layers:
        start, end = (item, item + 1 if item != -1 else None) if isinstance(item, int) else item
        start = start + num_layers if start < 0 else start
        end = num_layers if end is None else (end + num_layers if end < 0 else end)
        if not 0 <= start < end <= num_layers:
            shown = list(item) if isinstance(item, tuple) else item
            raise ModelStructureError(
                f"{where}: {shown!r} is outside the model's {num_layers} blocks (0..{num_layers - 1})")
        chosen.update(range(start, end))
    return chosen


def module_matches(name: str, patterns: list[str]) -> bool:
    """True if the pattern matches the full name or any run of its dotted components."""
    parts = name.split(".")
    for pattern in patterns:
        if fnmatchcase(name, pattern):
            return True
        width = pattern.count(".") + 1
        if any(fnmatchcase(".".join(parts[i : i + width]), pattern) for i in range(len(parts) - width + 1)):
            return True
    return False


def select_tensors(names: list[str], layout: ModelLayout, selection: Selection, where: str = "selection") -> list[str]:
    """Names (in the order given) of the tensors the selection picks, before any magnitude trimming."""
    from lingotune.models.layout import block_index

    blocks = layer_set(selection.layers, layout.num_layers, f"{where}.layers") if selection.layers else None
    picked = []
    for name in names:
        if blocks is not None and block_index(name, layout) not in blocks:
            continue
        if selection.modules and not module_matches(name, selection.modules):
            continue
        picked.append(name)
    if (selection.modules or selection.layers) and not picked:
        raise ModelStructureError(f"{where}: {selection.describe()} matches no tensor of the model (e.g. {names[:3]})")
    return picked


def top_fraction_mask(delta: torch.Tensor, keep_fraction: float) -> torch.Tensor:
    """Boolean mask of the ``keep_fraction`` largest |delta| entries.

    Same rule as the magnitude revert (lingotune's lean TIES, ``topk.py``): ``k = max(1, int(f * n))``
    entries by |delta| in float32, equal magnitudes at the threshold taken lowest index first, so a
    freeze mask equals the entries a magnitude revert keeps.
    """
    import torch

    from lingotune.models.topk import top_k_mask

    if keep_fraction >= 1:
        return torch.ones(delta.shape, dtype=torch.bool, device=delta.device)
    flat = delta.detach().abs().reshape(-1).float()
    return top_k_mask(flat, max(1, int(keep_fraction * flat.numel()))).reshape(delta.shape)
