"""Generation with linear weights packed once for oneDNN gives the same numbers, and leaves the model as it was."""

from __future__ import annotations

import pytest
import torch

from lingotune.models.packed_linear import _can_pack, packed_linears


def _linears(model) -> list[torch.nn.Module]:
    return [m for m in model.modules() if type(m) is torch.nn.Linear]


@pytest.mark.slow
def test_smollm2_logits_are_bit_identical_with_packed_weights(smollm2):
    """A prompt encoded (60 rows per linear) and two decoding steps (1 row): the same bf16 logits."""
    from lingotune.models.loading import load_model

    model = load_model(smollm2, dtype="bfloat16").eval()
    if not _can_pack(model):
        pytest.skip("this PyTorch has no oneDNN")
    tokens = torch.randint(3, model.config.vocab_size, (2, 30), generator=torch.Generator().manual_seed(0))

    def run() -> list[torch.Tensor]:
        with torch.inference_mode():
            out = model(input_ids=tokens, use_cache=True)
            logits, cache = [out.logits], out.past_key_values
            for step in range(2):
                out = model(input_ids=tokens[:, step : step + 1], past_key_values=cache, use_cache=True)
                logits.append(out.logits)
        return logits

    plain = run()
    with packed_linears(model) as packed:
        assert packed == len(_linears(model)) == 211  # 30 layers x 7, and the tied output layer
        inside = run()
    for a, b in zip(plain, inside, strict=True):
        assert torch.equal(a, b)


def test_training_inside_uses_the_plain_weights_and_the_model_is_restored_after(tiny_model, monkeypatch):
    """With gradients the packed path steps aside (gradients still reach the weights); on exit every
    layer has its class's forward again; float32 weights are never packed, nor copies that would take more
    than a quarter of the memory available."""
    from lingotune.models import packed_linear
    from lingotune.models.loading import load_model

    model = load_model(tiny_model, dtype="bfloat16")
    if not _can_pack(model):
        pytest.skip("this PyTorch has no oneDNN")
    tokens = torch.tensor([[5, 6, 7, 8]])
    with packed_linears(model) as packed:
        assert packed == len(_linears(model)) > 0
        with packed_linears(model) as again:
            assert again == 0  # already packed: entering twice packs nothing more
        model(input_ids=tokens).logits.float().sum().backward()
    first = _linears(model)[0]
    assert first.weight.grad is not None and first.weight.grad.abs().sum() > 0
    assert all("forward" not in vars(m) for m in _linears(model))
    with packed_linears(load_model(tiny_model, dtype="float32")) as packed:
        assert packed == 0
    weights = sum(m.weight.numel() * 2 for m in _linears(model))
    monkeypatch.setattr(packed_linear, "_available_bytes", lambda: 4 * weights - 4)
    with packed_linears(model) as packed:
        assert packed == 0
    monkeypatch.setattr(packed_linear, "_available_bytes", lambda: 4 * weights)
    with packed_linears(model) as packed:
        assert packed == len(_linears(model))
