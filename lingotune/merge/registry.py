"""Merge methods by their YAML name (one module per method, as in mergekit's ``merge_methods/``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lingotune.merge.compile import CompiledMerge
from lingotune.merge.layer_swap import compile_layer_swap
from lingotune.merge.revert import compile_revert
from lingotune.merge.standard import compile_standard
from lingotune.models.layout import ModelLayout

Compiler = Callable[..., CompiledMerge]

METHODS: dict[str, Compiler] = {
    "layer_swap": compile_layer_swap,
    "revert": compile_revert,
    "linear": compile_standard,
    "task_arithmetic": compile_standard,
    "ties": compile_standard,
    "dare_ties": compile_standard,
    "slerp": compile_standard,
}


def compile_merge(spec, paths: dict[str, Path], layout: ModelLayout) -> CompiledMerge:
    return METHODS[spec.method](spec, paths, layout)
