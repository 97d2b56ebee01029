"""Memory-lean execution of mergekit's TIES and DARE-TIES, and a loader that keeps no shard mapped.

Why (measured, benchmarks/merge_memory.py): on a 32000×1024 fp32 tensor (T = 131 MB) with a base
and two experts, mergekit 0.1.5's stock ``ties`` kernel allocates 9 T on top of its 3 T of inputs:
``sparsify.magnitude`` alone 7 T (``argsort`` of the whole flattened |Δ| = 5 T: a float copy, int64
indices = 2 T and sort scratch; plus |Δ|, a float mask, the masked copy), and
``GeneralizedTaskArithmeticMerge.merge_group`` holds every expert's full Δ, their signs and masked
copies at once; ``dare_ties`` allocates 7.5 T. So the largest tensor (the embedding) alone sets the
peak. On top of that, mergekit's safetensors loader maps each shard whole, and every page read stays
in the process's RSS (as file pages) until that model's next shard opens: up to one full shard per
input model (+820 MB of file pages measured with three 272 MB shards open).

What stays mergekit's: the algorithm and its parameters (this is a ``GeneralizedTaskArithmeticMerge``
with the same spec and defaults as ``ties`` / ``dare_ties``), its sign election (``get_mask``, called
as is), the registry the methods are added to (``mergekit.merge_methods.register``, its documented
way to add a method by name; no mergekit method or function is replaced), the planner, executor,
writer and shard index. Written here, because mergekit 0.1.5 has no option for it:

1. magnitude trimming by a threshold from a radix select (``topk.py``: chunked ``torch.bincount``
   over the bits of |Δ|, which is written into the output tensor as scratch) instead of an argsort;
2. the rest of GTA's per-element arithmetic evaluated chunk by chunk (``CHUNK_ELEMENTS`` per row)
   straight into the output tensor; every op is mergekit's, in mergekit's order;
3. DARE's random masks drawn twice from a saved generator state (once for the rescale norms, once
   to apply) instead of being stored; the draws equal mergekit's because CPU ``torch.bernoulli``
   with a tensor of probabilities consumes the generator serially, element by element (tested);
4. ``PreadTensorLoader``: mergekit's lazy loader, reading each tensor with ``pread(2)``
   (safetensors' ``backend="pread"``), so a tensor's memory is freed when mergekit drops it.

Kernel scratch per tensor is then a chunk per expert and small per-chunk temporaries besides the
output tensor, and a 16 MiB digit buffer while the threshold is selected (measured: 1.2–1.5 T
including the output, vs 9 T). Results equal mergekit's stock
methods (tests/test_merge_lean.py), with two documented differences:

- tie rule: both keep exactly ``k = max(1, int(density · n))`` entries of each Δ. Among entries
  whose |Δ| equals the k-th largest, mergekit keeps those its (unstable, unspecified) argsort puts
  first; lingotune keeps the lowest flat indices first, i.e. the result of mergekit's TIES with a
  stable sort (tested bit for bit). Only exactly equal magnitudes at the threshold can differ, which
  happens mostly with 16-bit weights; exact zeros kept or not change nothing (no sign, no vote);
- rescale factors (DARE's l1 rescale, or ``rescale: true``) are sums over chunks, so they can differ
  from mergekit's one-shot ``sum()`` in the last bit of float rounding.

The lean kernels run on CPU (where RAM is the limit); on another device they call mergekit's own
``merge_group``. They are registered as ``lingotune_ties`` and ``lingotune_dare_ties``;
``lingotune.merge.run`` runs a compiled ``ties`` / ``dare_ties`` with them and saves the YAML with
mergekit's name, so ``mergekit-yaml`` reruns it with the stock kernel (same tensors, stock memory).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
from mergekit.io.lazy_tensor_loader import LazyTensorLoader, ShardedTensorIndex
from mergekit.merge_methods import TensorGroup, register, registered_methods
from mergekit.merge_methods.generalized_task_arithmetic import GeneralizedTaskArithmeticMerge, get_mask
from mergekit.sparsify import SparsificationMethod

from lingotune.models.topk import CHUNK_ELEMENTS, keep_mask, kth_largest

LEAN_METHODS = {"ties": "lingotune_ties", "dare_ties": "lingotune_dare_ties"}  # mergekit name → lean name


@dataclass
class _Sparsity:
    """How one expert's Δ is sparsified, decided on the whole tensor, applied chunk by chunk."""

    keep_all: bool = False
    zero: bool = False
    threshold: torch.Tensor | None = None  # magnitude: keep |Δ| > threshold, and ``ties`` entries equal to it
    ties: int = 0
    mag_dtype: torch.dtype | None = None
    generator: torch.Generator | None = None  # random: replays the draws mergekit makes
    density: float = 1.0
    work_dtype: torch.dtype | None = None
    scale: torch.Tensor | None = None  # rescale factor (before / after l1 norm), None: no rescale

    def apply(self, row: torch.Tensor) -> None:
        """Sparsify a chunk of Δ in place, with mergekit's ops (``sparsify.magnitude`` / ``bernoulli``)."""
        if self.keep_all:
            return
        if self.zero:
            row.zero_()
        elif self.threshold is not None:
            keep, self.ties = keep_mask(row.abs().to(self.mag_dtype), self.threshold, self.ties)
            row.mul_(keep)
            if self.scale is not None:
                row.mul_(self.scale)
        else:
            work = row.to(self.work_dtype)
            masked = work * torch.bernoulli(torch.full_like(work, self.density), generator=self.generator)
            row.copy_(masked * self.scale if self.scale is not None else masked)


def _scale(before: float, after: float, dtype: torch.dtype, eps: float = 1e-7) -> torch.Tensor | None:
    """``sparsify.rescaled_masked_tensor``'s l1 factor, from sums taken chunk by chunk."""
    before_t, after_t = torch.tensor(before, dtype=dtype), torch.tensor(after, dtype=dtype)
    if before_t < eps or after_t < eps:
        return None
    return before_t / after_t


@dataclass(frozen=True)
class LeanTaskArithmeticMerge(GeneralizedTaskArithmeticMerge):
    """mergekit's generalized task arithmetic (same spec), evaluated in chunks into the output tensor."""

    chunk_elements: int = CHUNK_ELEMENTS

    def merge_group(self, group: TensorGroup, /, **parameters: Any) -> torch.Tensor:
        base = group.base.tensor
        entries = group.non_base
        if not entries or base.device.type != "cpu" or self.sparsification_method not in (
            None, SparsificationMethod.magnitude, SparsificationMethod.random
        ):
            return super().merge_group(group, **parameters)
        dtype, n, chunk = base.dtype, base.numel(), self.chunk_elements
        flat_base = base.reshape(-1)
        flats = [entry.tensor.reshape(-1) for entry in entries]
        out = torch.empty(n, dtype=dtype)  # the result; first the scratch for |Δ| of magnitude trimming
        sparsity = [
            self._plan(flat_base, flat, out, parameters["density"][entry.id], parameters["rescale"])
            for entry, flat in zip(entries, flats, strict=True)
        ]
        weights = torch.tensor([parameters["weight"][entry.id] for entry in entries], dtype=dtype).unsqueeze(-1)
        rows = torch.empty((len(entries), min(chunk, n)), dtype=dtype)
        mask_dtype = torch.int8 if parameters["int8_mask"] else dtype
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            deltas = rows[:, : stop - start]
            base_part = flat_base[start:stop]
            for row, flat, plan in zip(deltas, flats, sparsity, strict=True):
                torch.sub(flat[start:stop], base_part, out=row)
                plan.apply(row)
            # from here on: GeneralizedTaskArithmeticMerge.merge_group on the chunk
            deltas.mul_(weights)
            if self.consensus_method:
                mask = get_mask(deltas, method=self.consensus_method, mask_dtype=mask_dtype)
                mixed_delta = (deltas * mask).sum(dim=0)
                divisor = (weights * mask).sum(dim=0)
                divisor[divisor == 0] = 1
            else:
                mixed_delta = deltas.sum(dim=0)
                divisor = weights.sum(dim=0)
                divisor[divisor.abs() < 1e-8] = 1
            if parameters["normalize"]:
                mixed_delta /= divisor
            if parameters["lambda"] != 1:
                mixed_delta *= parameters["lambda"]
            torch.add(base_part, mixed_delta, out=out[start:stop])
        return out.view(base.shape)

    def _plan(self, base: torch.Tensor, expert: torch.Tensor, scratch: torch.Tensor, density: float,
              rescale: bool) -> _Sparsity:
        """Decide the sparsification of ``expert − base`` on the whole tensor (one or two chunked passes)."""
        if self.sparsification_method is None or density >= 1:
            return _Sparsity(keep_all=True)
        n, chunk, dtype = base.numel(), self.chunk_elements, base.dtype
        parts = range(0, n, chunk)
        if self.sparsification_method == SparsificationMethod.magnitude:
            if density <= 0 or n == 0:
                return _Sparsity(zero=True)
            # mergekit sorts |Δ| in float32 on CPU: same order as 16-bit floats, rounded for float64
            mag_dtype = torch.float32 if dtype == torch.float64 else dtype
            mags = scratch if mag_dtype == dtype else torch.empty(n, dtype=mag_dtype)
            if mags is scratch:  # in place, no temporary
                torch.sub(expert, base, out=mags).abs_()
            else:
                for start in parts:
                    mags[start : start + chunk] = (expert[start : start + chunk] - base[start : start + chunk]).abs()
            threshold, ties = kth_largest(mags, max(1, int(density * n)))
            scale = None
            if rescale:  # kept: every entry above the threshold and ``ties`` entries equal to it
                before, after = 0.0, ties * float(threshold)
                for start in parts:
                    part = mags[start : start + chunk].double()
                    before += float(part.sum())
                    after += float(part[part > float(threshold)].sum())
                scale = _scale(before, after, dtype)
            return _Sparsity(threshold=threshold, ties=ties, mag_dtype=mag_dtype, scale=scale)
        # random (DARE): sparsify.bernoulli, drawing from the default generator like mergekit
        work_dtype = dtype if dtype == torch.bfloat16 else torch.float32
        generator = torch.Generator()
        generator.set_state(torch.random.default_generator.get_state())
        before = after = 0.0
        for start in parts:  # advances the default generator exactly as mergekit's one draw does
            part = slice(start, start + chunk)
            if not rescale:
                torch.bernoulli(torch.full((min(chunk, n - start),), density, dtype=work_dtype))
                continue
            work = (expert[part] - base[part]).to(work_dtype)
            before += float(work.abs().sum())
            after += float((work * torch.bernoulli(torch.full_like(work, density))).abs().sum())
        scale = _scale(before, after, work_dtype) if rescale else None
        return _Sparsity(generator=generator, density=density, work_dtype=work_dtype, scale=scale)


def _lean(stock_name: str) -> LeanTaskArithmeticMerge:
    from mergekit.merge_methods import get

    stock = get(stock_name)
    return LeanTaskArithmeticMerge(
        consensus_method=stock.consensus_method,
        sparsification_method=stock.sparsification_method,
        default_normalize=stock.default_normalize,
        default_rescale=stock.default_rescale,
        method_name=LEAN_METHODS[stock_name],
        method_pretty_name=f"{stock.method_pretty_name} (lingotune, memory-lean)",
        method_reference_url=stock.method_reference_url,
    )


def register_lean_methods() -> None:
    """Add ``lingotune_ties`` / ``lingotune_dare_ties`` to mergekit's registry (once per process)."""
    known = {method.spec.name for method in registered_methods()}
    for stock_name, lean_name in LEAN_METHODS.items():
        if lean_name not in known:
            register(_lean(stock_name))


register_lean_methods()


class PreadTensorLoader(LazyTensorLoader):
    """mergekit's ``LazyTensorLoader`` reading safetensors tensors with ``pread(2)`` instead of mmap.

    mergekit keeps one shard open per model, mapped whole: each page read stays mapped (in the
    process's RSS) until the model's next shard opens. With pread a tensor is its own allocation,
    freed when mergekit's executor drops the tensor after its last use. Other formats: mergekit's.
    """

    def __init__(self, index: ShardedTensorIndex, lazy_unpickle: bool = True):
        super().__init__(index, lazy_unpickle)
        self._pread_file: str | None = None
        self._pread_handle: Any = None

    def get_tensor(self, key: str, device: str = "cpu", aliases: list[str] | None = None,
                   raise_on_missing: bool = True) -> torch.Tensor | None:
        if not self.index.is_safetensors:
            return super().get_tensor(key, device, aliases, raise_on_missing)
        paths = self.index.tensor_paths
        if aliases and key not in paths:
            key = next((alias for alias in aliases if alias in paths), key)
        if key not in paths:
            if raise_on_missing:
                raise KeyError(key)
            return None
        from safetensors import safe_open

        with self.lock:
            if self._pread_file != paths[key]:
                path = os.path.join(self.index.base_path, paths[key])
                self._pread_handle = safe_open(path, framework="pt", device="cpu", backend="pread")
                self._pread_file = paths[key]
            return self._pread_handle.get_tensor(key).to(device)

    def flush(self) -> None:
        super().flush()
        with self.lock:
            self._pread_file = self._pread_handle = None


def pread_supported(path: str) -> bool:
    """True if this safetensors has the ``pread`` backend (0.8+); older ones keep mergekit's mmap loader."""
    from safetensors import safe_open

    try:
        with safe_open(path, framework="pt", device="cpu", backend="pread"):
            return True
    except TypeError:
        return False


def execution_config(config: dict[str, Any]) -> dict[str, Any]:
    """The compiled mergekit config with ``ties`` / ``dare_ties`` run by their lean kernels."""
    method = config.get("merge_method")
    return config | {"merge_method": LEAN_METHODS[method]} if method in LEAN_METHODS else config


def install_pread_loaders(merge_config: Any) -> bool:
    """Put a ``PreadTensorLoader`` in mergekit's loader cache for every local safetensors input.

    mergekit's ``LoaderCache`` is the place it looks loaders up by model (lingotune clears it around
    each merge anyway); a loader put there is used for that model only, in this merge. Returns
    False (nothing installed, mergekit's mmap loader is used) when safetensors lacks ``pread``.
    """
    from mergekit.io.tasks import LoaderCache

    cache = LoaderCache()
    installed = False
    for ref in merge_config.referenced_models():
        if ref.lora:
            continue
        index = ref.tensor_index()
        if not index.is_safetensors or not index.shards:
            continue
        if not installed and not pread_supported(os.path.join(index.base_path, index.shards[0].filename)):
            return False
        cache.loaders[ref] = PreadTensorLoader(index, lazy_unpickle=True)
        installed = True
    return installed
