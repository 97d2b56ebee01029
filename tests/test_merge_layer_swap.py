"""Layer swapping through mergekit: routing per block, transitions, non-block rule, errors (methods.md §3.2)."""

from __future__ import annotations

import pytest
import torch
import yaml

from lingotune.core.errors import RecipeError
from lingotune.merge.config import LayerSwapMerge, MergeSection, load_merge_section
from lingotune.merge.errors import MergeError, ModelStructureError
from lingotune.merge.layer_swap import language_weights
from lingotune.merge.run import prepare_merge, run_merge_spec
from tests.merge_fixtures import block, build_base, make_expert, tensors


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("layer-swap")


def experts(root, num_layers):
    base = build_base(root, num_layers)
    lang = make_expert(base, root / f"lang-{num_layers}", seed=1)
    task = make_expert(base, root / f"task-{num_layers}", seed=2)
    return base, lang, task


def spec(**raw) -> LayerSwapMerge:
    return MergeSection.model_validate({"merge": {"method": "layer_swap", **raw}}).merge


def test_weights_scale_paper_default_to_depth():
    s = spec(language_expert="a", task_expert="b")
    w32 = language_weights(s, 32)
    assert w32[:7] == [1, 1, 1, 1, 1, 0.5, 0] and w32[-4:] == [0, 0.5, 1, 1]  # bottom 5, top 2, t = 1
    w = language_weights(spec(language_expert="a", task_expert="b", bottom=2, top=1, transition={"bottom": 2}), 8)
    assert w == pytest.approx([1, 1, 2 / 3, 1 / 3, 0, 0, 0.5, 1])


@pytest.mark.parametrize(
    ("num_layers", "settings"),
    [
        (4, {"bottom": 1, "top": 1, "transition": 0}),
        (6, {"bottom": 1, "top": 1, "transition": 1, "non_block_from": "language"}),
        (8, {"bottom": 2, "top": 1, "transition": {"bottom": 2, "top": 1}, "non_block_from": "average"}),
        (5, {"bottom": 0.4, "top": 0, "transition": 1}),
    ],
)
def test_every_tensor_is_the_expected_expert_or_average(root, num_layers, settings):
    _, lang, task = experts(root, num_layers)
    s = spec(language_expert=str(lang), task_expert=str(task), **settings)
    out = root / f"out-{num_layers}-{len(str(settings))}"
    result = run_merge_spec(s, out / "model", out)
    weights = language_weights(s, num_layers)
    nb = {"task": 0.0, "language": 1.0, "average": 0.5}[s.non_block_from]
    L, T, merged = tensors(lang), tensors(task), tensors(out / "model")
    assert set(merged) == set(T)
    for name, value in merged.items():
        w = nb if block(name) is None else weights[block(name)]
        if w in (0.0, 1.0):
            assert torch.equal(value, L[name] if w == 1.0 else T[name]), name
        else:
            torch.testing.assert_close(value, w * L[name] + (1 - w) * T[name], rtol=1e-6, atol=1e-7)
    saved = yaml.safe_load(result.config_path.read_text())
    assert saved["merge_method"] == "linear" and len(saved["slices"]) >= 2
    assert (out / "model" / "tokenizer.json").exists() and (out / "model" / "config.json").exists()


def test_zones_larger_than_the_model_fail_with_counts(root):
    _, lang, task = experts(root, 4)
    with pytest.raises(MergeError, match=r"= 6 blocks, but the model has 4"):
        prepare_merge(spec(language_expert=str(lang), task_expert=str(task), bottom=2, top=2, transition=1))


def test_mismatched_architectures_fail_naming_both_models(root):
    _, lang, _ = experts(root, 4)
    _, _, task6 = experts(root, 6)
    with pytest.raises(ModelStructureError, match=r"merge.language_expert .* merge.task_expert .*num_hidden_layers"):
        prepare_merge(spec(language_expert=str(lang), task_expert=str(task6)))


def test_recipe_errors_name_the_key_and_line(tmp_path):
    recipe = tmp_path / "swap.yaml"
    recipe.write_text("name: x\nmerge:\n  method: layer_swap\n  language_expert: a\n  task_expert: b\n  bottom: -1\n")
    with pytest.raises(RecipeError, match=r"swap.yaml:6: merge.bottom"):
        load_merge_section(recipe)
    recipe.write_text("merge:\n  method: layer_swap\n  language_expert: a\n  task_expert: b\n  botom: 3\n")
    with pytest.raises(RecipeError, match=r"unknown key 'merge.botom'"):
        load_merge_section(recipe)
    recipe.write_text("merge:\n  method: swap\n")
    with pytest.raises(RecipeError, match=r"merge"):
        load_merge_section(recipe)
