"""Negative twins trained as branches of their examples (train/twin_branches.py) give the losses and the
gradients of the twins trained as examples of their own; the twin is recovered exactly from its branch."""

from __future__ import annotations

import pytest
import torch

from lingotune.data.loaders import load_alpaca
from lingotune.models.loading import load_tokenizer
from lingotune.train.label_loss import IGNORE_INDEX, unlikelihood_losses
from lingotune.train.negatives import negative_twins, tokenize_negatives
from lingotune.train.packing import PackingCollator
from lingotune.train.spec import UnlikelihoodSpec
from lingotune.train.tokenize import tokenize_examples
from lingotune.train.twin_branches import attach_twins, detach_twin
from tests.conftest import QUICKSTART_DATA

REPLAY = QUICKSTART_DATA / "instructions_en" / "self_instruct.alpaca.jsonl"


def _examples_and_twins(resolved, n: int = 8, max_length: int = 512):
    tokenizer = load_tokenizer(resolved, padding_side="right")
    examples = load_alpaca(REPLAY, "en")[:n]
    spec = UnlikelihoodSpec(fraction=1.0, max_tokens=16)
    tokenized, _ = tokenize_examples(tokenizer, examples, max_length=max_length)
    twins = tokenize_negatives(tokenizer, negative_twins(examples, spec, seed=0), spec, max_length)
    return tokenized, twins


def _feature(example) -> dict:
    feature = {"input_ids": example.input_ids, "labels": example.labels, "branch_start": -1}
    if example.branch is not None:
        feature.update(branch_ids=example.branch.input_ids, branch_labels=example.branch.labels,
                       branch_start=example.branch.start)
    return feature


def test_every_twin_becomes_a_branch_that_gives_the_twin_back(tiny_model):
    tokenized, twins = _examples_and_twins(tiny_model)
    kept = {e.source for e in tokenized}
    twins = [t for t in twins if t.source in kept]  # (one example is over max_length, its twin is not)
    assert len(twins) >= 5
    merged = attach_twins([*tokenized, *twins])
    assert len(merged) == len(tokenized)  # every twin found its example
    assert [e.input_ids for e in merged] == [e.input_ids for e in tokenized]
    by_source = {t.source: t for t in twins}
    branched = [e for e in merged if e.branch is not None]
    assert len(branched) == len(twins)
    for example in branched:
        twin = by_source[example.source]
        ids, labels = detach_twin(example.input_ids, example.labels, example.branch)
        assert (ids, labels) == (twin.input_ids, twin.labels)
        start = example.branch.start
        assert example.input_ids[: start + 1] == twin.input_ids[: start + 1]  # the branch's first token is shared
        assert all(label == IGNORE_INDEX for label in twin.labels[: start + 1])  # no target in the shared part
        assert any(label < IGNORE_INDEX for label in example.branch.labels)
        first_target = next(i for i, label in enumerate(twin.labels) if label != IGNORE_INDEX)
        # the branch starts right before the first token that differs, or before the first target
        assert example.input_ids[start + 1] != twin.input_ids[start + 1] or start + 1 == first_target


def test_a_twin_without_its_example_stays_an_example(tiny_model):
    tokenized, twins = _examples_and_twins(tiny_model)
    kept = {e.source for e in tokenized[1:]}
    merged = attach_twins([*tokenized[1:], *twins])
    alone = [e for e in merged if e.negative]
    assert alone and [e.source for e in alone] == [t.source for t in twins if t.source not in kept]
    assert sum(e.branch is not None for e in merged) == len(twins) - len(alone)


def _model(resolved):
    from transformers import AutoModelForCausalLM

    from lingotune.models.segment_attention import use_segment_attention

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(resolved.path, dtype=torch.float32, use_safetensors=True)
    assert use_segment_attention(model)
    return model


def _summed_loss_and_grads(model, features):
    batch = PackingCollator(one_row=True)(features)
    model.zero_grad()
    losses = unlikelihood_losses(model, batch, 2.0)
    losses.mean().backward()  # the Trainer's normalisation: over the micro-batch's targets
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return losses.detach(), grads


@pytest.mark.parametrize("which", ["tiny_model", pytest.param("smollm2", marks=pytest.mark.slow)])
def test_branched_twins_give_the_separate_twins_losses_and_gradients(which, request):
    resolved = request.getfixturevalue(which)
    tokenized, twins = _examples_and_twins(resolved, n=6)
    merged = attach_twins([*tokenized, *twins])
    separate = [*tokenized, *twins]
    model = _model(resolved)
    branched_losses, branched_grads = _summed_loss_and_grads(model, [_feature(e) for e in merged])
    separate_losses, separate_grads = _summed_loss_and_grads(model, [_feature(e) for e in separate])
    assert len(branched_losses) == len(separate_losses)  # the same targets, none lost or added
    torch.testing.assert_close(branched_losses.sort().values, separate_losses.sort().values, rtol=1e-4, atol=1e-5)
    assert branched_grads.keys() == separate_grads.keys()
    for name, grad in branched_grads.items():
        torch.testing.assert_close(grad, separate_grads[name], rtol=1e-3, atol=1e-5, msg=name)


def test_a_branch_attends_only_to_the_shared_prompt_and_itself(tiny_model):
    """Changing the example's answer (after the branch's start) leaves the branch's losses unchanged."""
    tokenized, twins = _examples_and_twins(tiny_model, n=3)
    merged = attach_twins([*tokenized, *twins])
    model = _model(tiny_model)
    features = [_feature(e) for e in merged]
    start = features[0]["branch_start"]
    changed = [dict(features[0], input_ids=features[0]["input_ids"][: start + 1]
                    + [7] * (len(features[0]["input_ids"]) - start - 1)), *features[1:]]
    with torch.no_grad():
        before = _branch_losses(model, features)
        after = _branch_losses(model, changed)
    torch.testing.assert_close(before, after)


def _branch_losses(model, features):
    batch = PackingCollator(one_row=True)(features)
    losses = unlikelihood_losses(model, batch, 2.0)
    negative = batch["labels"][:, 1:] < IGNORE_INDEX
    targets = batch["labels"][:, 1:] != IGNORE_INDEX
    return losses[negative[targets]]


def test_a_collator_without_one_row_refuses_branches(tiny_model):
    tokenized, twins = _examples_and_twins(tiny_model, n=3)
    features = [_feature(e) for e in attach_twins([*tokenized, *twins])]
    with pytest.raises(ValueError, match="one packed row"):
        PackingCollator(one_row=False)(features)


@pytest.mark.parametrize("per_example_attention", [True, False])
def test_the_trainer_branches_twins_only_under_per_example_attention(tiny_model, tmp_path, per_example_attention):
    """Flash attention's varlen kernels (and padded or compiled training) cannot branch: twins stay examples."""
    from transformers import AutoModelForCausalLM

    from lingotune.models.segment_attention import use_segment_attention
    from lingotune.train.sft import epoch_tokens, make_trainer, training_arguments
    from lingotune.train.spec import TrainSpec

    tokenized, twins = _examples_and_twins(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model.path, dtype=torch.float32, use_safetensors=True)
    if per_example_attention:
        assert use_segment_attention(model)
    tokenizer = load_tokenizer(tiny_model, padding_side="right")
    trainer = make_trainer(model, tokenizer, [*tokenized, *twins], training_arguments(TrainSpec(), tmp_path, 0), [],
                           packing=True)
    dataset = trainer.train_dataset
    separate = sum(len(e.input_ids) for e in [*tokenized, *twins])
    if per_example_attention:
        assert "branch_ids" in dataset.column_names and len(dataset) < len(tokenized) + len(twins)
        assert epoch_tokens(dataset) < separate
        batch = next(iter(trainer.get_train_dataloader()))
        assert "segment_branches" in batch
    else:
        assert "branch_ids" not in dataset.column_names and len(dataset) == len(tokenized) + len(twins)
        assert epoch_tokens(dataset) == separate
