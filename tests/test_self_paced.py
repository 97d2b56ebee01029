"""Self-paced learning (methods.md §1.4, §8): weights, pace, difficulty, weighted loss, driver, log."""

from __future__ import annotations

import json
import math

import pytest

from lingotune.core.errors import LingotuneError
from lingotune.data.example import Example
from lingotune.train.self_paced import (
    WeightedDataCollator,
    WeightedLossTrainer,
    example_difficulty,
    length_difficulty,
    pace_quantile,
    plot_spl,
    read_spl_log,
    run_self_paced,
    spl_weights,
    threshold_from_quantile,
    weighted_dataset,
)
from lingotune.train.tokenize import TokenizedExample

LOSSES = [0.5, 1.0, 1.5, 2.0, 4.0]


# ------------------------------------------------------------------------------------------------ weights
def test_hard_weights():
    # 1 if ℓ < λ=2: 0.5, 1.0, 1.5 in; 2.0 (not strictly below) and 4.0 out
    assert spl_weights(LOSSES, 2.0, "hard") == [1.0, 1.0, 1.0, 0.0, 0.0]


def test_linear_weights():
    # max(0, 1 − ℓ/2): 0.75, 0.5, 0.25, 0, 0
    assert spl_weights(LOSSES, 2.0, "linear") == pytest.approx([0.75, 0.5, 0.25, 0.0, 0.0])


def test_log_weights_on_normalised_losses():
    # scale = max(4, 2)·(1+1e-6) ≈ 4 → ℓ' = 0.125, 0.25, 0.375; λ' ≈ 0.5, ζ = 1 − λ' ≈ 0.5
    # v = log(ℓ' + ζ)/log ζ: log(.625)/log(.5) = 0.678072, log(.75)/log(.5) = 0.415037, log(.875)/log(.5) = 0.192645
    weights = spl_weights(LOSSES, 2.0, "log")
    assert weights == pytest.approx([0.678072, 0.415037, 0.192645, 0.0, 0.0], abs=1e-5)


def test_mixture_weights():
    # λ1 = 2, λ2 = 1, ζ = 2·1/(2−1) = 2: ℓ ≤ 1 → 1; ℓ ≥ 2 → 0; ℓ = 1.5 → 2/1.5 − 2/2 = 1/3
    assert spl_weights(LOSSES, 2.0, "mixture", mixture_lower=1.0) == pytest.approx([1, 1, 1 / 3, 0, 0])
    assert spl_weights(LOSSES, 2.0, "mixture") == spl_weights(LOSSES, 2.0, "mixture", 1.0)  # default λ1/2
    with pytest.raises(LingotuneError, match="λ1 > λ2"):
        spl_weights(LOSSES, 2.0, "mixture", mixture_lower=3.0)


def test_pace_selects_the_expected_subsets():
    losses = [4.0, 0.5, 2.0, 1.0, 1.5]
    # q0 = 0.4 over 3 epochs, linear: q = 0.4, 0.7, 1.0 → the ceil(q·5) = 2, 4, 5 easiest
    expected = [[1, 3], [1, 2, 3, 4], [0, 1, 2, 3, 4]]
    for epoch, indices in enumerate(expected):
        threshold = threshold_from_quantile(losses, pace_quantile(epoch, 3, 0.4))
        for scheme in ("hard", "linear", "log", "mixture"):
            weights = spl_weights(losses, threshold, scheme)
            if scheme in ("hard", "linear", "log"):  # mixture zeroes ℓ ≥ λ1 only approximately at the edge
                assert [i for i, w in enumerate(weights) if w > 0] == indices, (epoch, scheme)
            assert all(0.0 <= w <= 1.0 for w in weights)
        assert [i for i, w in enumerate(spl_weights(losses, threshold, "hard")) if w] == indices


@pytest.mark.parametrize("schedule", ["linear", "root", "geometric"])
def test_pace_schedule_endpoints(schedule):
    values = [pace_quantile(e, 5, 0.3, schedule) for e in range(5)]
    assert values[0] == pytest.approx(0.3) and values[-1] == pytest.approx(1.0)
    assert values == sorted(values)
    # t = 0.5: linear 0.3 + 0.7·0.5 = 0.65; root sqrt(0.09 + 0.91·0.5) = 0.738241; geometric 0.3^0.5 = 0.547723
    assert values[2] == pytest.approx({"linear": 0.65, "root": 0.738241, "geometric": 0.547723}[schedule], abs=1e-6)
    assert pace_quantile(0, 1, 0.3, schedule) == pytest.approx(0.3)


def test_pace_rejects_bad_arguments():
    with pytest.raises(LingotuneError, match="q0"):
        pace_quantile(0, 3, 0.0)
    with pytest.raises(LingotuneError, match="outside"):
        pace_quantile(3, 3, 0.5)


# --------------------------------------------------------------------------------------------- difficulty
@pytest.fixture(scope="module")
def tiny(tiny_model):
    from lingotune.models.loading import load_tokenizer
    from lingotune.train.tokenize import tokenize_example

    tokenizer = load_tokenizer(tiny_model, padding_side="right")
    texts = [("Hola", "Hola."), ("¿Cuál es la capital de Francia?", "París es la capital de Francia."),
             ("Translate: the quick brown fox", "El rápido zorro marrón salta sobre el perro perezoso."),
             ("Answer the question.", "Paris."), ("Responde.", "El perro.")]
    examples = [tokenize_example(tokenizer, Example([{"role": "user", "content": q}, {"role": "assistant",
                                                      "content": a}], "es", "t")) for q, a in texts]
    return tiny_model, tokenizer, examples


def _load(path):
    import torch
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)


def _manual_loss(model, example: TokenizedExample) -> float:
    import torch

    labels = [t if m else -100 for t, m in zip(example.input_ids, example.assistant_masks, strict=True)]
    with torch.no_grad():
        return float(model(input_ids=torch.tensor([example.input_ids]), labels=torch.tensor([labels])).loss)


def test_example_difficulty_matches_manual_losses_on_plain_and_peft_models(tiny):
    from peft import LoraConfig, get_peft_model

    model_ref, _, examples = tiny
    model = _load(model_ref.path)
    manual = [_manual_loss(model, e) for e in examples]
    assert example_difficulty(model, examples, batch_size=2) == pytest.approx(manual, abs=1e-5)
    assert example_difficulty(model, examples, batch_size=8) == pytest.approx(manual, abs=1e-5)
    peft_model = get_peft_model(model, LoraConfig(r=4, target_modules="all-linear", task_type="CAUSAL_LM"))
    peft_model.train()
    assert example_difficulty(peft_model, examples, batch_size=3) == pytest.approx(manual, abs=1e-5)
    assert peft_model.training  # mode restored
    assert length_difficulty(examples) == [float(sum(e.assistant_masks)) for e in examples]


# ---------------------------------------------------------------------------------------- weighted trainer
def _args(tmp_path, batch_size: int):
    from transformers import TrainingArguments

    return TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=batch_size, max_steps=1,
                             learning_rate=0.5, optim="sgd", lr_scheduler_type="constant", report_to="none",
                             use_cpu=True, save_strategy="no", logging_steps=1, seed=0, disable_tqdm=True)


def test_weighted_loss_with_zero_weights_equals_training_on_the_weighted_examples_alone(tiny, tmp_path):
    import torch
    from transformers import DataCollatorForSeq2Seq, Trainer

    model_ref, tokenizer, examples = tiny
    # 1) weights (1, 0, 0, 0): one step of WeightedLossTrainer on a batch of four
    weighted_model = _load(model_ref.path)
    weighted = WeightedLossTrainer(model=weighted_model, args=_args(tmp_path / "w", 4),
                                   train_dataset=weighted_dataset(examples[:4], [1.0, 0.0, 0.0, 0.0]),
                                   data_collator=WeightedDataCollator(tokenizer, padding=True, label_pad_token_id=-100))
    weighted_loss = weighted.train().training_loss
    # 2) plain Trainer on example 0 alone (one example: per-example mean = token mean)
    plain_model = _load(model_ref.path)
    plain = Trainer(model=plain_model, args=_args(tmp_path / "p", 1),
                    train_dataset=weighted_dataset(examples[:1]).remove_columns("weight"),
                    data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100))
    plain_loss = plain.train().training_loss
    assert weighted_loss == pytest.approx(plain_loss, rel=1e-5)
    assert weighted_loss == pytest.approx(_manual_loss(_load(model_ref.path), examples[0]), rel=1e-5)
    # SGD, lr 0.5: equal updated weights ⇔ equal gradients
    for (name, a), (_, b) in zip(weighted_model.named_parameters(), plain_model.named_parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6), name


def test_weighted_loss_is_the_weight_normalised_mean_of_example_losses(tiny, tmp_path):
    model_ref, tokenizer, examples = tiny
    model = _load(model_ref.path)
    trainer = WeightedLossTrainer(model=model, args=_args(tmp_path, 4), train_dataset=weighted_dataset(examples))
    collate = WeightedDataCollator(tokenizer, padding=True, label_pad_token_id=-100)
    dataset = weighted_dataset(examples[:4], [2.0, 0.0, 1.0, 0.0])
    batch = collate([dataset[i] for i in range(4)])
    assert batch["weight"].tolist() == [2.0, 0.0, 1.0, 0.0]
    manual = [_manual_loss(model, e) for e in examples[:4]]
    # (2·ℓ0 + 1·ℓ2) / 3
    loss = float(trainer.compute_loss(model, batch).detach())
    assert loss == pytest.approx((2 * manual[0] + manual[2]) / 3, rel=1e-5)
    with pytest.raises(LingotuneError, match="no 'weight'"):
        trainer.compute_loss(model, {k: v for k, v in batch.items() if k != "weight"})


# ---------------------------------------------------------------------------------------------- driver
def _fake_examples(n: int) -> list[TokenizedExample]:
    return [TokenizedExample(list(range(i + 2)), [0] + [1] * (i + 1)) for i in range(n)]


@pytest.mark.parametrize(("mode", "score_calls"), [("current", 3), ("static", 1), ("length", 0)])
def test_run_self_paced_grows_the_selection_and_ends_with_a_full_epoch(tmp_path, mode, score_calls):
    examples = _fake_examples(5)
    losses = [4.0, 0.5, 2.0, 1.0, 1.5]
    calls, scored = [], []

    def score(batch):
        scored.append(len(batch))
        return losses

    def train_one_epoch(selected, weights, epoch):
        calls.append(([examples.index(e) for e in selected], weights, epoch))

    log_path = tmp_path / "spl.jsonl"
    logs = run_self_paced(examples, train_one_epoch, n_epochs=3, difficulty=mode,
                          score=None if mode == "length" else score, q0=0.4, log_path=log_path)
    assert len(scored) == score_calls
    sizes = [len(selected) for selected, _, _ in calls]
    assert sizes == [2, 4, 5, 5] and [epoch for _, _, epoch in calls] == [0, 1, 2, 3]
    if mode != "length":
        assert calls[0][0] == [1, 3] and calls[1][0] == [1, 2, 3, 4]  # the easiest first
    else:  # length difficulty = response tokens 1..5: the shortest first
        assert calls[0][0] == [0, 1]
    assert calls[-1][1] == [1.0] * 5
    written = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert [w["n_selected"] for w in written] == [2, 4, 5, 5] and written[-1]["kind"] == "full"
    assert read_spl_log(log_path) == logs
    if mode == "current":
        assert logs[0].mean_difficulty_selected == pytest.approx(0.75)  # (0.5 + 1.0) / 2
        assert logs[0].mean_difficulty_all == pytest.approx(1.8)
        png = plot_spl(log_path, tmp_path / "spl.png")
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_self_paced_needs_a_scorer():
    with pytest.raises(LingotuneError, match="score"):
        run_self_paced(_fake_examples(2), lambda *a: None, n_epochs=2)


def test_self_paced_end_to_end_on_the_tiny_model(tiny, tmp_path):
    """The wiring a recipe uses: difficulty under the model being trained, one WeightedLossTrainer per epoch."""
    model_ref, tokenizer, examples = tiny
    model = _load(model_ref.path)
    losses_seen = []

    def score(batch):
        losses = example_difficulty(model, batch)
        losses_seen.append(losses)
        return losses

    def train_one_epoch(selected, weights, epoch):
        from transformers import TrainingArguments

        args = TrainingArguments(output_dir=str(tmp_path / f"e{epoch}"), per_device_train_batch_size=2,
                                 num_train_epochs=1, learning_rate=1e-2, report_to="none", use_cpu=True,
                                 save_strategy="no", disable_tqdm=True)
        trainer = WeightedLossTrainer(
            model=model, args=args, train_dataset=weighted_dataset(selected, weights),
            data_collator=WeightedDataCollator(tokenizer, padding=True, label_pad_token_id=-100))
        trainer.train()

    logs = run_self_paced(examples, train_one_epoch, n_epochs=2, score=score, q0=0.5, scheme="linear",
                          log_path=tmp_path / "spl.jsonl")
    assert [log.n_selected for log in logs] == [3, 5, 5]  # ceil(0.5·5) = 3, then all, then the full epoch
    assert len(losses_seen) == 2 and losses_seen[0] != losses_seen[1]  # recomputed under the updated model
    assert all(math.isfinite(x) for x in losses_seen[1])
