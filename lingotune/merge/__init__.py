"""Merging experts (layer swapping, revert-after-training, standard merges) on top of mergekit.

lingotune compiles its ``merge:`` recipe section to a mergekit configuration (methods.md §3) and
runs mergekit; what it writes by hand is only what mergekit lacks: the cross-lingual routing rules
(layer swap zones, non-block tensors, reverted selections), LoRA experts merged into their base,
architecture checks with clear errors, the update-magnitude analysis used to choose layers, and
memory-lean TIES / DARE-TIES kernels registered with mergekit plus a pread loader (``lean.py``), which
keep peak memory under 2 × the largest shard (benchmarks/merge_memory.py).

Public API: ``MergeSpec`` (pydantic union), ``Selection``, ``run_merge_spec``, ``prepare_merge``,
``analyze_updates``, ``METHODS`` (compilers by YAML name), ``MergeError``.
"""

from lingotune.merge.config import METHOD_NAMES, MergeSpec, load_merge_section
from lingotune.merge.errors import MergeError
from lingotune.models.selection import Selection

__all__ = ["METHOD_NAMES", "MergeError", "MergeSpec", "Selection", "load_merge_section"]
