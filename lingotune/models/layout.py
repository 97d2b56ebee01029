"""Where each tensor sits in a model: block index, module type, non-block tensors; and input checks.

Architecture facts come from mergekit's architecture definitions (its JSON data files), not from
code branches here, so layer swapping and selections work for every family mergekit knows and the
block count is always read from the model's own config (methods.md §3.2). What lingotune adds is
the check that the experts really share one architecture, done on config values and safetensors
headers only (no tensor is read), so a mismatch fails in a second with both paths in the message.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

from lingotune.core.errors import ModelStructureError

# config values two experts fine-tuned from one base must share
_SHAPE_KEYS = (
    "model_type", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
    "num_key_value_heads", "vocab_size", "tie_word_embeddings", "head_dim",
)


@dataclass
class ModelLayout:
    """Tensor names of one architecture, grouped the way layer swapping needs them."""

    num_layers: int
    pre_weights: list[str]  # before the first block (embeddings)
    post_weights: list[str]  # after the last block (final norm, head)
    block_weights: list[list[str]]  # names per block index
    block_of: dict[str, int] = field(default_factory=dict)

    def module_type(self, name: str) -> str:
        """``model.layers.3.self_attn.q_proj.weight`` → ``self_attn.q_proj``; non-block names stay whole."""
        block = self.block_of.get(name)
        if block is None:
            return name.removesuffix(".weight")
        prefix = _common_prefix(self.block_weights[block])
        return name[len(prefix):].removesuffix(".weight")


def _common_prefix(names: list[str]) -> str:
    if not names:
        return ""
    first, last = min(names), max(names)
    i = 0
    while i < min(len(first), len(last)) and first[i] == last[i]:
        i += 1
    return first[: first.rfind(".", 0, i) + 1] if "." in first[:i] else ""


def read_config(path: Path) -> dict:
    config_file = Path(path) / "config.json"
    if not config_file.exists():
        raise ModelStructureError(f"{path}: no config.json (not a model checkpoint folder)")
    config = json.loads(config_file.read_text())
    return config.get("text_config", config) | {"architectures": config.get("architectures")}


def layout_for(path: Path | None = None, config=None) -> ModelLayout:
    """The layout of the checkpoint at ``path`` (or of a loaded transformers ``config``)."""
    from mergekit.architecture import arch_info_for_config

    if config is None:
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(str(path))
    arch = arch_info_for_config(config) if getattr(config, "architectures", None) else None
    if arch is None or len(arch.modules) != 1:
        raise ModelStructureError(
            f"{path or config.__class__.__name__}: mergekit has no single-module architecture definition for "
            f"{getattr(config, 'architectures', None)}; layer-wise merges need one"
        )
    module = next(iter(arch.modules.values())).architecture
    num_layers = module.num_layers(config)
    blocks = [[w.name for w in module.layer_weights(i, config)] for i in range(num_layers)]
    block_of = {name: i for i, names in enumerate(blocks) for name in names}
    return ModelLayout(
        num_layers=num_layers,
        pre_weights=[w.name for w in module.pre_weights(config)],
        post_weights=[w.name for w in module.post_weights(config)],
        block_weights=blocks,
        block_of=block_of,
    )


def safetensors_files(path: Path) -> list[Path]:
    path = Path(path)
    index = path / "model.safetensors.index.json"
    if index.exists():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        return [path / s for s in shards]
    if (path / "model.safetensors").exists():
        return [path / "model.safetensors"]
    return []


def tensor_shapes(path: Path) -> dict[str, tuple[tuple[int, ...], str]]:
    """Name → (shape, dtype) from the safetensors headers (8-byte length + JSON), no tensor read."""
    shapes: dict[str, tuple[tuple[int, ...], str]] = {}
    for file in safetensors_files(path):
        with open(file, "rb") as handle:
            (size,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(size))
        for name, info in header.items():
            if name != "__metadata__":
                shapes[name] = (tuple(info["shape"]), info["dtype"])
    return shapes


def largest_shard_bytes(paths: list[Path]) -> int:
    sizes = [f.stat().st_size for p in paths for f in safetensors_files(p)]
    return max(sizes, default=0)


def check_compatible(models: dict[str, Path]) -> ModelLayout:
    """Fail with a clear message unless every model has the same architecture and tensor shapes.

    ``models`` maps a recipe key (``merge.task_expert``) to the local folder it resolved to.
    """
    items = list(models.items())
    first_key, first_path = items[0]
    first_config = read_config(first_path)
    first_shapes = tensor_shapes(first_path)
    for key, path in items[1:]:
        config = read_config(path)
        for name in ("architectures", *_SHAPE_KEYS):
            if first_config.get(name) != config.get(name):
                raise ModelStructureError(
                    f"cannot merge {first_key} ({first_path}) with {key} ({path}): {name} differs "
                    f"({first_config.get(name)!r} vs {config.get(name)!r}); experts must be fine-tuned from "
                    "the same base model"
                )
        shapes = tensor_shapes(path)
        if first_shapes and shapes and shapes != first_shapes:
            names = sorted(set(first_shapes) ^ set(shapes)) or sorted(
                n for n in first_shapes if first_shapes[n][0] != shapes[n][0]
            )
            raise ModelStructureError(
                f"cannot merge {first_key} ({first_path}) with {key} ({path}): tensor {names[0]!r} differs "
                f"({first_shapes.get(names[0], 'missing')} vs {shapes.get(names[0], 'missing')})"
            )
    return layout_for(first_path)


def block_index(name: str, layout: ModelLayout | None) -> int | None:
    """Block of a tensor name; falls back to the ``.<n>.`` component for names mergekit does not list."""
    if layout is not None and name in layout.block_of:
        return layout.block_of[name]
    if layout is not None and layout.block_of:
        return None
    match = re.search(r"\.(\d+)\.", name)
    return int(match.group(1)) if match else None
