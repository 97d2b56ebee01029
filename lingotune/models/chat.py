"""Chat rendering shared by training (loss masks) and generation: one template rule for both, so a
model is asked questions in exactly the format it was trained on."""

from __future__ import annotations

from collections.abc import Sequence

CHATML_FALLBACK = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def ensure_chat_template(tokenizer) -> None:
    """Base models without a chat template get ChatML, the most common one."""
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = CHATML_FALLBACK


def render(tokenizer, messages: Sequence[dict[str, str]], add_generation_prompt: bool = False) -> str:
    return tokenizer.apply_chat_template(
        list(messages), tokenize=False, add_generation_prompt=add_generation_prompt
    )
