"""Run a ``merge:`` spec: resolve sources, check architectures, compile, save the YAML, run mergekit.

mergekit does the tensor work out of core: ``run_merge`` loads each input tensor lazily from the
safetensors shards, merges tensor by tensor and streams output shards to disk, so peak memory is
bounded by tensor and shard sizes, not model sizes. Two things of stock mergekit 0.1.5 still cost
several times the largest tensor or shard, so by default (``memory_lean=True``) lingotune runs the
same merge with (``lean.py``, measured in benchmarks/merge_memory.py):

- ``ties`` / ``dare_ties`` (and so ``revert`` with ``keep_fraction``, a one-model TIES) executed by
  lingotune's registered kernels ``lingotune_ties`` / ``lingotune_dare_ties``: mergekit's algorithm
  evaluated in chunks, magnitude trimming by a radix-select threshold instead of an argsort; same
  tensors as mergekit's (equal-magnitude entries at the trimming threshold: lowest index kept);
- a loader reading tensors with pread instead of mapping whole shards (mapped pages read stay in
  the process's RSS until the model's next shard opens: up to one shard per input model).

lingotune sets the output shard size to half the largest input shard so the write buffer stays
small, writes into a staging folder and renames it (a killed merge never leaves a folder that looks
complete), and copies the tokenizer of the model that provides the embeddings.

The compiled mergekit YAML (absolute paths) is saved next to the output as ``mergekit_config.yaml``
with mergekit's own method names: ``mergekit-yaml mergekit_config.yaml OUT`` reruns it with stock
mergekit (same tensors, stock memory use), and it can be edited by hand. The plan JSON records what
actually ran (``execution``: kernel and loader); ``memory_lean=False`` runs stock mergekit here too.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from lingotune.merge.compile import CompiledMerge
from lingotune.merge.registry import compile_merge
from lingotune.models.adapters import copy_tokenizer, resolve_checkpoint
from lingotune.models.layout import ModelLayout, check_compatible, largest_shard_bytes, safetensors_files

MIN_OUT_SHARD_BYTES = 16 * 2**20


@dataclass
class MergeResult:
    model_dir: Path
    config_path: Path  # the mergekit YAML
    plan: dict
    seconds: float


def resolve_inputs(spec) -> dict[str, Path]:
    """Recipe key → local checkpoint folder (LoRA adapters merged into their base, run folders → model/)."""
    from lingotune.merge.errors import MergeError

    paths = {key: resolve_checkpoint(source, f"merge.{key}") for key, source in spec.model_sources().items()}
    for key, path in paths.items():
        if not safetensors_files(path):
            raise MergeError(f"merge.{key}: {path} has no safetensors weights (model.safetensors[.index.json])")
    return paths


def prepare_merge(spec) -> tuple[dict[str, Path], ModelLayout, CompiledMerge]:
    """Everything up to running mergekit; fails fast (no tensor read) on any user error."""
    paths = resolve_inputs(spec)
    labelled = {f"merge.{key}": path for key, path in paths.items()}
    layout = check_compatible(labelled)
    compiled = compile_merge(spec, paths, layout)
    compiled.mergekit_config()  # mergekit's own validation, before any work
    return paths, layout, compiled


def run_merge_spec(spec, model_dir: Path, record_dir: Path | None = None, *, quiet: bool = True,
                   memory_lean: bool = True) -> MergeResult:
    """Merge into ``model_dir`` (replaced when done); YAML and plan go to ``record_dir`` (default: model_dir).

    ``memory_lean=False`` runs mergekit's stock kernels and loader (to compare, or to rule lean.py out).
    """
    from mergekit.config import MergeConfiguration
    from mergekit.io.tasks import LoaderCache
    from mergekit.merge import run_merge
    from mergekit.options import MergeOptions

    from lingotune.merge.lean import execution_config, install_pread_loaders

    started = time.time()
    paths, layout, compiled = prepare_merge(spec)
    model_dir = Path(model_dir)
    record_dir = Path(record_dir) if record_dir else model_dir
    yaml_text = compiled.to_yaml()
    shard = max(largest_shard_bytes(list(paths.values())) // 2, MIN_OUT_SHARD_BYTES)
    options = MergeOptions(
        copy_tokenizer=False,  # copied below from the model that provides the embeddings
        lazy_unpickle=True,
        out_shard_size=shard,
        random_seed=spec.seed,
        quiet=quiet,
        safe_serialization=True,
        write_model_card=True,
    )
    staging = model_dir.with_name(f".{model_dir.name}.merging")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    # mergekit's LoaderCache is a process-wide singleton keyed by path: clear it so a second merge in
    # this process never reads a stale index of a folder rewritten since.
    LoaderCache().loaders.clear()
    run_config = compiled.mergekit_config()
    execution = {"kernel": run_config.merge_method, "loader": "mergekit (mmap)"}
    try:
        if memory_lean:
            run_config = MergeConfiguration.model_validate(execution_config(compiled.config))
            execution = {"kernel": run_config.merge_method,
                         "loader": "pread" if install_pread_loaders(run_config) else "mergekit (mmap)"}
        run_merge(run_config, str(staging), options, config_source=yaml_text)
    finally:
        LoaderCache().loaders.clear()
    copy_tokenizer(compiled.tokenizer_from, staging)
    plan = compiled.plan | {"num_layers": layout.num_layers, "mergekit_config": compiled.config,
                            "execution": execution}
    (staging / "lingotune_merge_plan.json").write_text(json.dumps(plan, indent=2))
    shutil.rmtree(model_dir, ignore_errors=True)
    staging.replace(model_dir)
    record_dir.mkdir(parents=True, exist_ok=True)
    config_path = record_dir / "mergekit_config.yaml"
    config_path.write_text(yaml_text)
    if record_dir != model_dir:
        (record_dir / "merge_plan.json").write_text(json.dumps(plan, indent=2))
    return MergeResult(model_dir=model_dir, config_path=config_path, plan=plan, seconds=time.time() - started)
