"""Standard merges passed through to mergekit, recipe validation, LoRA experts, run folders (methods.md §3.5)."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from lingotune.merge.config import MergeSection
from lingotune.merge.run import run_merge_spec
from tests.merge_fixtures import build_base, make_expert, tensors


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("standard")
    base = build_base(root, 4)
    return root, base, make_expert(base, root / "e1", seed=5), make_expert(base, root / "e2", seed=6)


def merge(root, name, **raw):
    spec = MergeSection.model_validate({"merge": raw}).merge
    run_merge_spec(spec, root / name)
    return tensors(root / name)


def test_linear_and_task_arithmetic(models):
    root, base, e1, e2 = models
    B, E1, E2 = tensors(base), tensors(e1), tensors(e2)
    avg = merge(root, "linear", method="linear", models=[{"model": str(e1)}, {"model": str(e2)}])
    ta = merge(root, "ta", method="task_arithmetic", base_model=str(base), **{"lambda": 0.5},
               models=[{"model": str(e1)}, {"model": str(e2)}])
    for name in B:
        torch.testing.assert_close(avg[name], (E1[name] + E2[name]) / 2, rtol=1e-6, atol=1e-7)
        expected = B[name] + 0.5 * ((E1[name] - B[name]) + (E2[name] - B[name]))
        torch.testing.assert_close(ta[name], expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", ["ties", "dare_ties"])
def test_ties_family_moves_toward_the_experts(models, method):
    root, base, e1, e2 = models
    out = merge(root, method, method=method, base_model=str(base), density=0.5, seed=1,
                models=[{"model": str(e1)}, {"model": str(e2)}])
    B, E1 = tensors(base), tensors(e1)
    name = "model.layers.0.mlp.up_proj.weight"
    changed = (out[name] != B[name]).float().mean()
    assert 0 < changed < 1 and torch.corrcoef(torch.stack([(out[name] - B[name]).flatten(),
                                                            (E1[name] - B[name]).flatten()]))[0, 1] > 0.2


def test_slerp_endpoints(models):
    root, _, e1, e2 = models
    E1, E2 = tensors(e1), tensors(e2)
    at0 = merge(root, "slerp0", method="slerp", t=0.0, models=[{"model": str(e1)}, {"model": str(e2)}])
    at1 = merge(root, "slerp1", method="slerp", t=1.0, models=[{"model": str(e1)}, {"model": str(e2)}])
    name = "model.layers.1.self_attn.o_proj.weight"
    torch.testing.assert_close(at0[name], E1[name])
    torch.testing.assert_close(at1[name], E2[name])


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"method": "ties", "models": [{"model": "a"}]}, "base_model"),
        ({"method": "slerp", "models": [{"model": "a"}, {"model": "b"}, {"model": "c"}]}, "exactly two"),
        ({"method": "linear", "models": [{"model": "a", "density": 0.5}]}, "density"),
        ({"method": "ties", "base_model": "b", "models": [{"model": "a", "density": 2}]}, "density"),
        ({"method": "task_arithmetic", "base_model": "b", "models": [], "lambda": 1}, "models"),
    ],
)
def test_recipe_validation_names_the_key(raw, message):
    with pytest.raises(ValidationError, match=message):
        MergeSection.model_validate({"merge": raw})


def test_lora_expert_is_merged_into_its_base_first(models, tmp_path, monkeypatch):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    monkeypatch.setenv("LINGOTUNE_CACHE", str(tmp_path / "cache"))
    root, base, e1, _ = models
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "down_proj"])
    peft_model = get_peft_model(AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32), config)
    for name, p in peft_model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.05)
    run_dir = tmp_path / "run"  # a run folder holding only adapter/
    peft_model.save_pretrained(run_dir / "adapter")
    lora = {n.replace("base_model.model.", ""): p.detach().clone() for n, p in peft_model.named_parameters()
            if "lora_" in n}
    # revert every block except 0..1 of the LoRA expert: blocks 0..1 keep base + B·A·scale
    out = tmp_path / "merged"
    spec = MergeSection.model_validate({"merge": {"method": "revert", "base_model": str(base),
                                                  "expert": str(run_dir), "revert": {"layers": [[2, None]]}}}).merge
    run_merge_spec(spec, out)
    B, merged = tensors(base), tensors(out)
    checked = 0
    for name, value in merged.items():
        module = name.removesuffix(".weight")
        a_key = f"{module}.lora_A.default.weight"
        if a_key in lora and name.startswith(("model.layers.0.", "model.layers.1.")):
            delta = lora[f"{module}.lora_B.default.weight"] @ lora[a_key] * (8 / 4)
            torch.testing.assert_close(value, B[name] + delta, rtol=1e-5, atol=1e-6)
            checked += 1
        else:
            assert torch.equal(value, B[name]), name
    assert checked == 4
