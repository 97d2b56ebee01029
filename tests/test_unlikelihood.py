"""Negative twins (echo, loop) and the unlikelihood loss that trains against them (issue 10)."""

from __future__ import annotations

import pytest
import torch

from lingotune.data.example import Example
from lingotune.data.loaders import load_alpaca
from lingotune.models.loading import load_tokenizer
from lingotune.train.label_loss import IGNORE_INDEX, negative_label, token_losses, unlikelihood_losses
from lingotune.train.negatives import LOOP_REPEATS, negative_twins, tokenize_negatives
from lingotune.train.packing import PackingCollator, training_collator
from lingotune.train.spec import UnlikelihoodSpec
from lingotune.train.tokenize import tokenize_examples
from tests.conftest import QUICKSTART_DATA

REPLAY = QUICKSTART_DATA / "instructions_en" / "self_instruct.alpaca.jsonl"


def _chat(prompt: str, answer: str) -> Example:
    return Example([{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}], "es", "t")


def test_twins_copy_the_prompt_or_repeat_the_opening_and_skip_answers_that_copy():
    prompt = "Escribe un párrafo sobre la ciudad de Valencia y su historia."
    answer = "Valencia fue fundada por los romanos en el año 138 antes de Cristo junto al río Turia."
    span = _chat("Texto: Valencia fue fundada por los romanos. Pregunta: ¿Quién fundó Valencia?", "los romanos")
    echo = negative_twins([_chat(prompt, answer), span], UnlikelihoodSpec(loop=False), seed=0)
    assert len(echo) == 1  # the extractive span copies its prompt by design: no echo twin
    assert echo[0].response == prompt and echo[0].meta["negative_from"] == 0
    assert echo[0].prompt_messages == [{"role": "user", "content": prompt}]
    loop = negative_twins([_chat(prompt, answer)], UnlikelihoodSpec(echo=False), seed=0)[0]
    opening = "Valencia fue fundada por los romanos en el"
    assert loop.response == " ".join([opening] * LOOP_REPEATS)
    assert loop.response[loop.meta["negative_from"]:].startswith(opening)  # only the repeats are negative
    unspaced = negative_twins([_chat("写一段关于北京的文字。", "北京是中国的首都，有三千多年的历史。")],
                              UnlikelihoodSpec(echo=False), seed=0)[0]
    assert unspaced.response.count("北京是中国的首都") == LOOP_REPEATS
    both = negative_twins([_chat(prompt, answer)] * 40, UnlikelihoodSpec(), seed=0)
    assert {t.meta["negative"] for t in both} == {"echo", "loop"}
    half = negative_twins([_chat(prompt, answer)] * 40, UnlikelihoodSpec(fraction=0.5), seed=0)
    assert 10 <= len(half) <= 30


def test_negative_tokens_are_the_bad_answer_capped_and_never_the_end_marker(tiny_model):
    tokenizer = load_tokenizer(tiny_model, padding_side="right")
    prompt = "Write a travel blog post about a recent trip to Hawaii, with the culture and the sights."
    twins = negative_twins([_chat(prompt, "Aloha! My week on Oahu began at dawn on Waikiki beach.")],
                           UnlikelihoodSpec(loop=False), seed=0)
    (item,) = tokenize_negatives(tokenizer, twins, UnlikelihoodSpec(max_tokens=500), max_length=512)
    negative = [t for t, m in zip(item.input_ids, item.assistant_masks, strict=True) if m]
    assert tokenizer.decode(negative).strip() == prompt  # the copy, without the end-of-turn marker
    assert all(label < IGNORE_INDEX for label in item.labels if label != IGNORE_INDEX)
    assert [IGNORE_INDEX - 1 - label for label in item.labels if label < IGNORE_INDEX] == negative
    (capped,) = tokenize_negatives(tokenizer, twins, UnlikelihoodSpec(max_tokens=5), max_length=512)
    assert sum(capped.assistant_masks) == 5 and capped.assistant_masks[-1] == 1  # ends at its last negative token
    assert capped.input_ids == item.input_ids[: len(capped.input_ids)]
    assert tokenize_negatives(tokenizer, twins, UnlikelihoodSpec(), max_length=8) == []


def _batch(resolved, packed: bool):
    tokenizer = load_tokenizer(resolved, padding_side="right")
    examples = load_alpaca(REPLAY, "en")[:4]
    positives, _ = tokenize_examples(tokenizer, examples, max_length=512)
    negatives = tokenize_negatives(tokenizer, negative_twins(examples, UnlikelihoodSpec(), 0), UnlikelihoodSpec(),
                                   512)
    features = [{"input_ids": e.input_ids, "labels": e.labels} for e in [*positives, *negatives]]
    collate = PackingCollator() if packed else training_collator(tokenizer, None, packing=False)
    return collate(features)


@pytest.mark.parametrize("packed", [False, True])
def test_unlikelihood_is_minus_log_one_minus_p_on_negatives_and_cross_entropy_elsewhere(tiny_model, packed):
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_model.path, dtype=torch.float32, use_safetensors=True)
    batch = _batch(tiny_model, packed)
    ce, keep = token_losses(model, batch)
    targets = batch["labels"][:, 1:][keep[:, :-1]]
    negative = targets < IGNORE_INDEX
    assert 0 < int(negative.sum()) < len(targets)
    mixed = unlikelihood_losses(model, batch, weight=0.5)
    assert torch.allclose(mixed[~negative], ce[~negative], atol=1e-5)
    expected = -0.5 * torch.log1p(-torch.exp(-ce[negative]))
    assert torch.allclose(mixed[negative], expected, rtol=1e-4, atol=1e-6)
    mixed.mean().backward()  # finite gradients even where p is close to 1
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_unlikelihood_with_self_paced_is_refused_when_the_recipe_loads():
    from lingotune.core.errors import RecipeError
    from lingotune.plan import load_recipe
    from tests.conftest import REPO

    with pytest.raises(RecipeError, match=r"phases.1.self_paced: does not combine with train.unlikelihood"):
        load_recipe(REPO / "tests" / "assets" / "tiny_xcit.yaml", ["train.unlikelihood.weight=1.0"])


def test_negative_label_round_trip():
    assert negative_label(0) == IGNORE_INDEX - 1
    assert all(IGNORE_INDEX - 1 - negative_label(t) == t for t in (0, 1, 49151, 256000))


@pytest.mark.slow
def test_training_against_echo_lowers_the_copy_on_held_out_prompts(smollm2, tmp_path):
    """SmolLM2, a few LoRA steps on the same data with and without unlikelihood: the probability of
    answering *unseen* MT-Bench-X ES prompts by copying them back falls only with it (mean log-probability
    per copied token; measured 2026-12-04: base -0.57, plain -0.51, with twins -0.80). The trained adapters are
    scored in memory (the trainer's own model and loss path)."""
    import json

    from lingotune.train.sft import make_trainer, prepare_trainable, training_arguments
    from lingotune.train.spec import TrainSpec

    tokenizer = load_tokenizer(smollm2, padding_side="right")
    examples = load_alpaca(REPLAY, "en")[:48]
    positives, _ = tokenize_examples(tokenizer, examples, max_length=256)
    held_out = [json.loads(line)["turns"][0] for line in
                (QUICKSTART_DATA / "mt_bench_x" / "question.es.jsonl").read_text().splitlines()[:16]]
    probes = tokenize_negatives(tokenizer, negative_twins([_chat(p, "Una respuesta.") for p in held_out],
                                                          UnlikelihoodSpec(loop=False), 0),
                                UnlikelihoodSpec(max_tokens=16), 256)
    probe_batch = training_collator(tokenizer, None, packing=False)(
        [{"input_ids": e.input_ids, "labels": e.labels} for e in probes])

    def copy_logprob(model) -> float:
        model.eval()
        with torch.no_grad():
            ce, _ = token_losses(model, probe_batch)
        return -float(ce.mean())

    spec = TrainSpec(learning_rate=3e-4, max_steps=12, batch_size=8, max_length=256, save_steps=100)
    base = copy_logprob(prepare_trainable(smollm2, spec, 0, False))  # LoRA B starts at 0: the base model
    results = {}
    for name, ul in (("plain", None), ("unlikelihood", UnlikelihoodSpec(weight=1.0))):
        train = positives
        if ul is not None:
            train = positives + tokenize_negatives(tokenizer, negative_twins(examples, ul, 0), ul, 256)
        trainer = make_trainer(prepare_trainable(smollm2, spec, 0, False), tokenizer, train,
                               training_arguments(spec, tmp_path / name, 0, save_strategy="no"), [], True,
                               ul.weight if ul else 0.0)
        trainer.train()
        results[name] = copy_logprob(trainer.model)
    # 0.2 nats per token over 16 copied tokens: the whole copy ~25x less likely
    assert results["unlikelihood"] < results["plain"] - 0.2, (base, results)
    assert results["unlikelihood"] < base - 0.2, (base, results)
