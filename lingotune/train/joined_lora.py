"""LoRA layers trained as one matmul with their frozen weights: ``[x, s·x·Aᵀ] · [W | B]ᵀ``.

PEFT computes a LoRA linear as ``x·Wᵀ + (x·Aᵀ)·Bᵀ · s``: besides the two skinny matmuls, two passes
over the layer's whole output forward (the scaling, the addition) and two more backward (the scaled
output gradient, the sum of the two input gradients). On 2 CPU cores these memory-bound passes, not
the arithmetic, are most of what LoRA costs. Here the frozen weight and ``B`` sit side by side in one
buffer ``[W | B]`` (``W`` stays a view of it: no weight is stored twice), the layer is one matmul over
its input with ``s·x·Aᵀ`` appended, and its input gradient one matmul with the same buffer plus a
rank-r update; ``A`` and ``B`` get their gradients from the same small matmuls as in PEFT.

Sibling layers that read the same input (q/k/v, gate/up) share one buffer, block-diagonal in the ``B``
columns, ``[[W_q, B_q, 0, 0], [W_k, 0, B_k, 0], [W_v, 0, 0, B_v]]``: the first of them to be called
computes all three outputs in one matmul, and the others, called with the same tensor, take theirs.
Their input gradients come out of one matmul as well, already summed.

The sums are PEFT's in another order: losses and float32 gradients equal PEFT's within float32 rounding,
and in bf16 the gradients are closer to float64's than PEFT's (tests/test_joined_lora.py). The
quickstart's micro-batches took 0.968× as long with each layer joined alone and 0.959× [0.953, 0.965]
with siblings joined too, paired (benchmarks/README.md).

Written here: PEFT has no fused LoRA linear for CPU training. It applies while a Trainer trains
(``train.callbacks.JoinLoRALayers``, on CPU) to PEFT ``Linear`` layers with one active, unmerged plain
LoRA adapter without dropout or biases over an ``nn.Linear`` without bias; any other layer keeps PEFT's
forward, as does every layer outside training or when the compute dtype (autocast's, else the weight's)
is not the weight's. When training ends each weight becomes a contiguous tensor of its own again.
"""

from __future__ import annotations

import threading
import types
from dataclasses import dataclass, field
from typing import Any

import torch

SIBLINGS = (("q_proj", "k_proj", "v_proj"), ("gate_proj", "up_proj"))  # layers that read the same input


@dataclass
class _Pending:
    """Outputs computed with a sibling's call, waiting for the siblings that have not been called yet."""

    input: torch.Tensor
    version: int
    outputs: dict[int, torch.Tensor]


@dataclass
class _JoinedLayers:
    """One buffer ``[[W_1, B_1, 0], [W_2, 0, B_2], …]`` for one or more layers that read the same input."""

    members: list[Any]
    weight: torch.Tensor
    outs: list[int]
    ranks: list[int]
    scalings: list[float]
    pending: dict[int, _Pending] = field(default_factory=dict, repr=False)  # by thread

    def rows(self, i: int) -> slice:
        start = sum(self.outs[:i])
        return slice(start, start + self.outs[i])

    def columns(self, i: int) -> slice:
        """Member ``i``'s columns of ``s·x·Aᵀ``."""
        start = sum(self.ranks[:i])
        return slice(start, start + self.ranks[i])

    def b_block(self, i: int) -> torch.Tensor:
        """Member ``i``'s ``B`` in the buffer: its rows, its columns of ``s·x·Aᵀ`` after the input's."""
        n_in = self.weight.shape[1] - sum(self.ranks)
        columns = self.columns(i)
        return self.weight[self.rows(i), n_in + columns.start:n_in + columns.stop]


class _JoinedLoRAFunction(torch.autograd.Function):
    """Every member's output of ``[x, s·x·Aᵀ] · buffer`` (the module docstring), one matmul each way."""

    @staticmethod
    def forward(ctx, x, joined: _JoinedLayers, *a_then_b):
        n = len(joined.members)
        n_in = x.shape[-1]
        rows = x.reshape(-1, n_in)
        for i, b in enumerate(a_then_b[n:]):  # B as the optimizer left it (out × r values each)
            joined.b_block(i).copy_(b)
        a = torch.cat(a_then_b[:n]) if n > 1 else a_then_b[0]
        scaled_h = rows @ a.t()
        for i, scaling in enumerate(joined.scalings):
            scaled_h[:, joined.columns(i)] *= scaling
        y = torch.cat([rows, scaled_h], 1) @ joined.weight.t()  # the joined input lives only for this matmul
        ctx.save_for_backward(rows, scaled_h, a)
        ctx.joined, ctx.shape = joined, x.shape
        return tuple(part.view(*x.shape[:-1], part.shape[1]) for part in y.split(joined.outs, 1))

    @staticmethod
    def backward(ctx, *grads):
        rows, scaled_h, a = ctx.saved_tensors
        joined, n_in = ctx.joined, ctx.shape[-1]
        grad_y = torch.cat([g.reshape(rows.shape[0], out) if g is not None else rows.new_zeros(rows.shape[0], out)
                            for g, out in zip(grads, joined.outs, strict=True)], 1)
        both = grad_y @ joined.weight  # the input's gradient through every W, and the gradient of s·x·Aᵀ
        grad_h = both[:, n_in:].clone()
        for i, scaling in enumerate(joined.scalings):
            grad_h[:, joined.columns(i)] *= scaling
        grad_a = grad_h.t() @ rows
        grad_b = [grad_y[:, joined.rows(i)].t() @ scaled_h[:, joined.columns(i)] for i in range(len(joined.members))]
        grad_x = torch.addmm(both[:, :n_in], grad_h, a)
        grad_a_each = [grad_a[joined.columns(i)] for i in range(len(joined.members))]
        return grad_x.view(ctx.shape), None, *grad_a_each, *grad_b


def _compute_dtype(device_type: str, weight_dtype: torch.dtype) -> torch.dtype:
    if torch.is_autocast_enabled(device_type):
        return torch.get_autocast_dtype(device_type)
    return weight_dtype


def _joined_forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    joined: _JoinedLayers = self._lingotune_joined
    dtype = _compute_dtype(x.device.type, joined.weight.dtype)
    if not self.training or self.merged or self.disable_adapters or args or kwargs or dtype != joined.weight.dtype:
        return type(self).forward(self, x, *args, **kwargs)
    index, thread = self._lingotune_member, threading.get_ident()
    pending = joined.pending.get(thread)
    if pending is not None and pending.input is x and pending.version == x._version and index in pending.outputs:
        output = pending.outputs.pop(index)
        if not pending.outputs:
            del joined.pending[thread]
        return output
    a = [m.lora_A[m.active_adapters[0]].weight.to(dtype) for m in joined.members]
    b = [m.lora_B[m.active_adapters[0]].weight.to(dtype) for m in joined.members]
    outputs = _JoinedLoRAFunction.apply(x.to(dtype), joined, *a, *b)
    others = {i: output for i, output in enumerate(outputs) if i != index}
    if others:
        joined.pending[thread] = _Pending(x, x._version, others)
    return outputs[index]


def _eligible(module) -> bool:
    from peft.tuners.lora.layer import Linear

    if type(module) is not Linear or len(module.active_adapters) != 1 or module.merged:
        return False
    (name,) = module.active_adapters
    base = module.get_base_layer()
    return (type(base) is torch.nn.Linear and base.bias is None and name in module.lora_A
            and name not in module.lora_variant and isinstance(module.lora_dropout[name], torch.nn.Identity)
            and module.lora_A[name].bias is None and module.lora_B[name].bias is None
            and base.weight.device.type == "cpu")


def _groups(model) -> list[list[Any]]:
    """The eligible layers, siblings together (in call order), every other one alone."""
    eligible = [m for m in model.modules() if _eligible(m) and getattr(m, "_lingotune_joined", None) is None]
    free = {id(m) for m in eligible}  # eligible and in no group yet
    groups: list[list[Any]] = []
    for parent in model.modules():
        for names in SIBLINGS:
            members = [getattr(parent, name) for name in names if id(getattr(parent, name, None)) in free]
            if len(members) > 1 and len({m.get_base_layer().weight.shape[1] for m in members}) == 1:
                groups.append(members)
                free -= {id(m) for m in members}
    return groups + [[m] for m in eligible if id(m) in free]


def join_lora_layers(model) -> int:
    """Switch the eligible LoRA layers of ``model`` to the joined form; returns how many switched."""
    switched = 0
    for members in _groups(model):
        weights = [m.get_base_layer().weight for m in members]
        ranks = [m.lora_A[m.active_adapters[0]].weight.shape[0] for m in members]
        n_in = weights[0].shape[1]
        joined = _JoinedLayers(members, weights[0].new_zeros(sum(w.shape[0] for w in weights), n_in + sum(ranks)),
                               [w.shape[0] for w in weights], ranks,
                               [m.scaling[m.active_adapters[0]] for m in members])
        for i, (module, weight) in enumerate(zip(members, weights, strict=True)):
            joined.weight[joined.rows(i), :n_in].copy_(weight.data)
            weight.data = joined.weight[joined.rows(i), :n_in]
            module._lingotune_joined, module._lingotune_member = joined, i
            module.forward = types.MethodType(_joined_forward, module)
        switched += len(members)
    return switched


def split_lora_layers(model) -> None:
    """Back to PEFT's forward, each weight contiguous and of its own (merging and saving expect that)."""
    for module in model.modules():
        joined = getattr(module, "_lingotune_joined", None)
        if joined is None:
            continue
        joined.pending.clear()
        weight = module.get_base_layer().weight
        weight.data = weight.data.contiguous()
        del module._lingotune_joined, module._lingotune_member, module.forward
