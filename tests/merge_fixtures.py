"""Tiny random checkpoints on disk for the merge tests: a base and "experts" = base + noise.

Experts are made by perturbing chosen tensors of the base, so each test knows exactly which
update sits where (e.g. a language expert that changed only the bottom and top blocks).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from lingotune.models.tiny import build_tiny_model


def build_base(root: Path, num_layers: int, seed: int = 0) -> Path:
    target = root / f"base-{num_layers}-{seed}"
    if not (target / "model.safetensors").exists():
        build_tiny_model(target, seed=seed, num_layers=num_layers)
    return target


def make_expert(base: Path, out: Path, seed: int, where: Callable[[str], bool] = lambda name: True,
                scale: float = 0.01) -> Path:
    """Copy ``base`` to ``out`` with Gaussian noise added to the tensors ``where(name)`` selects."""
    if (out / "model.safetensors").exists():
        return out
    shutil.copytree(base, out)
    tensors = load_file(base / "model.safetensors")
    generator = torch.Generator().manual_seed(seed)
    for name, tensor in tensors.items():
        if where(name):
            tensors[name] = tensor + scale * torch.randn(tensor.shape, generator=generator)
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    return out


def tensors(path: Path) -> dict[str, torch.Tensor]:
    return load_file(Path(path) / "model.safetensors")


def block(name: str) -> int | None:
    parts = name.split(".")
    return int(parts[2]) if name.startswith("model.layers.") else None
