"""The reserved cache holds what transformers' growing cache holds, step by step, and falls back to
growing when its tensors are replaced or its room runs out."""

from __future__ import annotations

import torch
from transformers.cache_utils import DynamicLayer

from lingotune.models.reserved_cache import ReservedLayer


def _steps(generator: torch.Generator, n: int, width: int = 1) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(torch.randn(3, 2, width, 4, generator=generator), torch.randn(3, 2, width, 4, generator=generator))
            for _ in range(n)]


def _reserved(keys: torch.Tensor, values: torch.Tensor, room: int) -> ReservedLayer:
    """A layer holding ``keys`` and ``values`` in buffers with ``room`` tokens more, as the prefill fills them."""
    buffers = [t.new_zeros((*t.shape[:-2], t.shape[-2] + room, t.shape[-1])) for t in (keys, values)]
    for buffer, tensor in zip(buffers, (keys, values), strict=True):
        buffer[..., : tensor.shape[-2], :] = tensor
    return ReservedLayer(*buffers, length=keys.shape[-2])


def _growing(keys: torch.Tensor, values: torch.Tensor) -> DynamicLayer:
    layer = DynamicLayer()
    layer.update(keys, values)
    return layer


def test_reserved_layer_returns_the_growing_layers_keys_and_values_while_writing_in_place():
    generator = torch.Generator().manual_seed(0)
    keys, values = torch.randn(3, 2, 5, 4, generator=generator), torch.randn(3, 2, 5, 4, generator=generator)
    reserved, growing = _reserved(keys, values, room=6), _growing(keys, values)
    buffer = reserved._key_buffer.data_ptr()
    for new_keys, new_values in [*_steps(generator, 3), *_steps(generator, 1, width=3)]:  # 6 tokens: the room
        got, expected = reserved.update(new_keys, new_values), growing.update(new_keys, new_values)
        torch.testing.assert_close(got, expected, rtol=0, atol=0)
        assert got[0].data_ptr() == buffer  # a view of the reserved buffer, not a new tensor
    assert reserved.get_seq_length() == growing.get_seq_length() == 11
    new_keys, new_values = _steps(generator, 1)[0]  # out of room: concatenates
    torch.testing.assert_close(reserved.update(new_keys, new_values), growing.update(new_keys, new_values),
                               rtol=0, atol=0)
    assert reserved.keys.data_ptr() != buffer


def test_reserved_layer_grows_again_after_its_rows_are_reordered():
    generator = torch.Generator().manual_seed(1)
    keys, values = torch.randn(3, 2, 5, 4, generator=generator), torch.randn(3, 2, 5, 4, generator=generator)
    reserved, growing = _reserved(keys, values, room=8), _growing(keys, values)
    order = torch.tensor([2, 0, 0, 1])
    reserved.reorder_cache(order)
    growing.reorder_cache(order)
    for _ in range(2):
        new_keys = torch.randn(4, 2, 1, 4, generator=generator)
        new_values = torch.randn(4, 2, 1, 4, generator=generator)
        torch.testing.assert_close(reserved.update(new_keys, new_values), growing.update(new_keys, new_values),
                                   rtol=0, atol=0)
