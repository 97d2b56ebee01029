"""bf16 linear layers on CPU with their weights packed once for oneDNN, while a model generates.

Each bf16 ``F.linear`` on CPU hands oneDNN a plain weight; a decoding step makes ~210 such calls of a
few rows each. With the weights packed into oneDNN's own layout once per generation, a decoding linear
of SmolLM2-135M takes 74-108 µs instead of 103-142 µs (1 to 64 rows, 2 CPU cores); the quickstart's
five evaluation tasks took 57.5 s instead of 61.6 s in batches of 64 (benchmarks/README.md). The result
is bit-identical to ``F.linear``'s for a contiguous input without bias (tests/test_packed_linear.py); a
strided input (a batch's last positions) is made contiguous first, which ``F.linear`` does not do, so
some greedy answers differ after a differently rounded token, as with any change of batch shape. The
packed copies cost one more copy of the weights (262 MB for SmolLM2-135M) for the duration, and 0.15 s
to make; a model whose copies would take more than a quarter of the memory available is not packed.

Written by hand: this is the weight prepacking that ``torch.compile``'s freezing pass does (inductor's
``mkldnn._linear_pointwise``), without compiling, which a generation's changing shapes would repeat.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

import torch

from lingotune.core.peak_memory import available_mb

PACK_ROWS = 64  # oneDNN's hint of the rows per call: decoding batches of up to 64 rows


def _can_pack(model) -> bool:
    ops = getattr(torch.ops, "mkldnn", None)
    return (torch.backends.mkldnn.is_available() and hasattr(ops, "_reorder_linear_weight")
            and next(model.parameters()).device.type == "cpu")


def _available_bytes() -> int:
    available = available_mb()
    if available is None:
        return 4 * 2**30  # not Linux: pack models whose copies fit 1 GB, like the small ones measured
    return int(available * 2**20)


def _packable(module: torch.nn.Module) -> bool:
    """Plain ``nn.Linear`` (not a subclass with its own forward), bf16, without accelerate's hooks."""
    return (type(module) is torch.nn.Linear and module.weight.dtype == torch.bfloat16
            and not hasattr(module, "_hf_hook") and "forward" not in vars(module))


def _packed_forward(module: torch.nn.Linear, packed: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    if torch.is_grad_enabled() or x.dtype != torch.bfloat16:  # packed weights have no backward here
        return torch.nn.functional.linear(x, module.weight, module.bias)
    return torch.ops.mkldnn._linear_pointwise(x.contiguous(), packed, module.bias, "none", [], "")


@contextmanager
def packed_linears(model) -> Iterator[int]:
    """While inside, the model's bf16 linears run without gradients on weights packed on entry; yields
    how many were packed (0 where oneDNN or bf16 weights are missing, or memory is short). Weights
    changed inside are not seen: the caller generates only."""
    modules: list[torch.nn.Module] = []
    try:
        chosen = [m for m in model.modules() if _packable(m)] if _can_pack(model) else []
        if sum(m.weight.numel() * m.weight.element_size() for m in chosen) <= _available_bytes() // 4:
            for module in chosen:
                packed = torch.ops.mkldnn._reorder_linear_weight(module.weight.detach(), PACK_ROWS)
                module.forward = partial(_packed_forward, module, packed)
                modules.append(module)
        yield len(modules)
    finally:
        for module in modules:
            del module.forward  # the class's forward again; the packed copy is freed with the partial
