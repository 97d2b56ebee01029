"""Assistant-only loss masks on the real SmolLM2 chat template and on the tiny model's."""

from lingotune.data.example import Example
from lingotune.models.loading import load_tokenizer
from lingotune.train.tokenize import CHATML_FALLBACK, tokenize_example, tokenize_examples

CONVERSATION = [
    {"role": "user", "content": "¿Cuál es la capital de Francia?"},
    {"role": "assistant", "content": "París."},
    {"role": "user", "content": "¿Y de España?"},
    {"role": "assistant", "content": "Madrid."},
]


def masked_text(tokenizer, tokenized):
    return tokenizer.decode([t for t, m in zip(tokenized.input_ids, tokenized.assistant_masks, strict=True) if m])


def test_only_assistant_turns_and_their_end_marker_carry_loss(tiny_model):
    tokenizer = load_tokenizer(tiny_model, padding_side="right")
    tokenized = tokenize_example(tokenizer, Example(CONVERSATION, "es", "t"))
    assert masked_text(tokenizer, tokenized) == "París.<|im_end|>\nMadrid.<|im_end|>\n"
    assert len(tokenized.input_ids) == len(tokenized.assistant_masks)


def test_last_turn_only(tiny_model):
    tokenizer = load_tokenizer(tiny_model, padding_side="right")
    tokenized = tokenize_example(tokenizer, Example(CONVERSATION, "es", "t"), loss_turns="last")
    assert masked_text(tokenizer, tokenized) == "Madrid.<|im_end|>\n"


def test_too_long_examples_are_dropped_and_counted(tiny_model):
    tokenizer = load_tokenizer(tiny_model, padding_side="right")
    short = Example(CONVERSATION[:2], "es", "t")
    long = Example([CONVERSATION[0], {"role": "assistant", "content": "palabra " * 500}], "es", "t")
    kept, dropped = tokenize_examples(tokenizer, [short, long], max_length=64)
    assert len(kept) == 1 and dropped == 1


def test_template_without_chat_template_gets_chatml(tiny_model):
    tokenizer = load_tokenizer(tiny_model, padding_side="right")
    tokenizer.chat_template = None
    kept, _ = tokenize_examples(tokenizer, [Example(CONVERSATION[:2], "es", "t")], max_length=256)
    assert tokenizer.chat_template == CHATML_FALLBACK
    assert masked_text(tokenizer, kept[0]) == "París.<|im_end|>\n"
