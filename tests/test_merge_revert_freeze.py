"""Revert-after-training (mergekit) vs freeze-before-training (gradient masks), one Selection (methods.md §3.4)."""

from __future__ import annotations

import pytest
import torch

from lingotune.core.errors import ModelStructureError, TrainingError
from lingotune.merge.config import MergeSection
from lingotune.merge.run import prepare_merge, run_merge_spec
from lingotune.models.selection import Selection, top_fraction_mask
from lingotune.train.freeze import apply_freeze, checkpoint_name
from tests.merge_fixtures import block, build_base, make_expert, tensors

LAYERS = 6


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("revert")
    base = build_base(root, LAYERS)
    return root, base, make_expert(base, root / "expert", seed=3)


def revert(models, name, **selection):
    root, base, expert = models
    spec = MergeSection.model_validate(
        {"merge": {"method": "revert", "base_model": str(base), "expert": str(expert), "revert": selection}}
    ).merge
    result = run_merge_spec(spec, root / name / "model", root / name)
    return result, tensors(base), tensors(expert), tensors(root / name / "model")


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        ({"layers": [[0, 2], -1]}, lambda n: block(n) in (0, 1, 5)),
        ({"modules": ["mlp", "embed_tokens"]}, lambda n: ".mlp." in n or "embed_tokens" in n),
        ({"layers": [[-2, None]], "modules": ["self_attn.q_proj", "*_layernorm"]},
         lambda n: block(n) in (4, 5) and ("q_proj" in n or "layernorm" in n)),
    ],
)
def test_positional_revert_selected_equal_base_others_equal_expert(models, selection, expected):
    result, base, expert, merged = revert(models, f"pos-{len(str(selection))}", **selection)
    assert set(merged) == set(base)
    assert any(expected(n) for n in merged) and not all(expected(n) for n in merged)
    for name, value in merged.items():
        assert torch.equal(value, base[name] if expected(name) else expert[name]), name
    assert sorted(result.plan["reverted_tensors"]) == sorted(n for n in merged if expected(n))


def test_magnitude_revert_keeps_only_the_largest_updates(models):
    _, base, expert, merged = revert(models, "magnitude", layers=[[1, 3]], keep_fraction=0.25)
    for name, value in merged.items():
        if block(name) in (1, 2):
            delta = expert[name] - base[name]
            kept = top_fraction_mask(delta, 0.25)
            assert kept.sum() == max(1, int(0.25 * delta.numel()))
            assert torch.equal(value[~kept], base[name][~kept]), name  # reverted entries: base, exactly
            torch.testing.assert_close(value[kept], expert[name][kept], rtol=0, atol=1e-6)
        else:
            torch.testing.assert_close(value, expert[name], rtol=0, atol=1e-6)


def test_selection_errors_name_the_key(models):
    _, base, expert = models
    raw = {"method": "revert", "base_model": str(base), "expert": str(expert), "revert": {"layers": [[4, 9]]}}
    with pytest.raises(ModelStructureError, match=r"merge.revert.layers: \[4, 9\] is outside the model's 6 blocks"):
        prepare_merge(MergeSection.model_validate({"merge": raw}).merge)
    raw["revert"] = {"modules": ["no_such_module"]}
    with pytest.raises(ModelStructureError, match="merge.revert: .* matches no tensor"):
        prepare_merge(MergeSection.model_validate({"merge": raw}).merge)
    with pytest.raises(ValueError, match="select modules, layers or keep_fraction"):
        MergeSection.model_validate({"merge": raw | {"revert": {}}})


def _train(model, steps: int = 3) -> None:
    """A few AdamW steps with weight decay: frozen weights must not move even under decay."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-2, weight_decay=0.1)
    torch.manual_seed(0)
    ids = torch.randint(0, model.config.vocab_size, (2, 12))
    for _ in range(steps):
        model(input_ids=ids, labels=ids).loss.backward()
        optimizer.step()
        optimizer.zero_grad()


def _load(path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)


def test_freeze_whole_tensors_no_change_and_same_selection_as_revert(models):
    root, base, expert = models
    selection = {"layers": [[0, 2], -1]}
    model = _load(base)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    frozen = apply_freeze(model, Selection(**selection))
    _train(model)
    for name, p in model.named_parameters():
        assert torch.equal(p, before[name]) == (name in frozen), name
    spec = MergeSection.model_validate(
        {"merge": {"method": "revert", "base_model": str(base), "expert": str(expert), "revert": selection}}
    ).merge
    _, _, compiled = prepare_merge(spec)
    # revert selects checkpoint tensors; tied lm_head is no parameter of its own
    assert sorted(frozen) == sorted(compiled.plan["reverted_tensors"])


def test_freeze_by_reference_magnitude_masks_entries(models):
    root, base, expert = models
    model = _load(base)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    touched = apply_freeze(model, Selection(layers=[1], keep_fraction=0.3, reference=str(expert)))
    assert touched and all(block(n) == 1 for n in touched)
    _train(model)
    reference = tensors(expert)
    for name, p in model.named_parameters():
        if name in touched:
            trainable = top_fraction_mask(reference[name] - before[name], 0.3)
            assert torch.equal(p.detach()[~trainable], before[name][~trainable]), name
            assert not torch.equal(p.detach()[trainable], before[name][trainable]), name
        else:
            assert not torch.equal(p.detach(), before[name]), name
    model.lingotune_freeze.remove()
    with pytest.raises(TrainingError, match="freeze.reference"):
        apply_freeze(_load(base), Selection(keep_fraction=0.3))


def test_freeze_on_peft_model_freezes_lora_factors_of_selected_modules(models):
    from peft import LoraConfig, get_peft_model

    _, base, _ = models
    model = get_peft_model(_load(base), LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    for name, p in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.01)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    frozen = apply_freeze(model, Selection(layers=[[0, 3]]))
    assert frozen and all("lora_" in n and block(checkpoint_name(n)) < 3 for n in frozen)
    _train(model)
    for name, p in model.named_parameters():
        if "lora_" in name:
            assert torch.equal(p, before[name]) == (name in frozen), name
    with pytest.raises(TrainingError, match="keep_fraction"):
        apply_freeze(model, Selection(keep_fraction=0.5, reference=str(base)))
