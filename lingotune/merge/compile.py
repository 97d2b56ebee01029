"""What every method compiles to: a mergekit ``MergeConfiguration`` plus lingotune's own notes.

Per-tensor choices (a reverted module, the embeddings of a layer swap) are mergekit conditional
parameters: ``[{filter: NAME, value: V}, ..., {value: DEFAULT}]``, where mergekit picks the first
entry whose filter is a *substring* of the tensor name. Filters here are exact tensor names (or a
whole block's name prefix) ordered longest first, and ``conditional`` re-checks the first-match rule
against every tensor of the model, so a substring collision can never route a tensor wrongly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lingotune.merge.errors import MergeError
from lingotune.models.layout import ModelLayout


@dataclass
class CompiledMerge:
    """A mergekit configuration (as a plain dict, validated by ``mergekit_config``) and its context."""

    config: dict[str, Any]
    tokenizer_from: Path  # checkpoint whose tokenizer and chat template the output gets
    plan: dict[str, Any] = field(default_factory=dict)  # human-readable routing, saved as plan.json

    def mergekit_config(self):
        from mergekit.config import MergeConfiguration

        return MergeConfiguration.model_validate(self.config)

    def to_yaml(self) -> str:
        return self.mergekit_config().to_yaml() + "\n"


def first_match(name: str, setting: list[dict[str, Any]]) -> Any:
    """mergekit's rule for a list of conditional parameters (``mergekit.config.evaluate_setting``)."""
    for entry in setting:
        flt = entry.get("filter")
        if flt is None or flt == "*" or flt in name:
            return entry["value"]
    return None


def conditional(values: dict[str, float], default: float, all_names: list[str], layout: ModelLayout | None = None):
    """Conditional parameter giving ``values[name]`` to those tensors and ``default`` to the rest.

    A block whose tensors all get the same value is written as one filter on the block prefix
    (``model.layers.3.``) to keep the YAML readable; the result is verified tensor by tensor.
    """
    if not values:
        return default
    remaining = dict(values)
    entries: list[dict[str, Any]] = []
    if layout is not None:
        from lingotune.models.layout import _common_prefix

        for names in layout.block_weights:
            present = [n for n in names if n in all_names]
            vals = {remaining.get(n) for n in present}
            if present and len(vals) == 1 and None not in vals:
                prefix = _common_prefix(present)
                if prefix and sum(prefix in n for n in all_names) == len(present):
                    entries.append({"filter": prefix, "value": vals.pop()})
                    for n in present:
                        remaining.pop(n)
    entries += [{"filter": n, "value": v} for n, v in remaining.items()]
    entries.sort(key=lambda e: -len(e["filter"]))
    entries.append({"value": default})
    for name in all_names:
        expected = values.get(name, default)
        if first_match(name, entries) != expected:
            raise MergeError(f"internal: tensor {name!r} cannot be addressed by a mergekit filter")
    return entries
