"""Chat examples → token ids with a mask of the tokens that carry loss.

TRL computes assistant-only masks only for chat templates that carry ``{% generation %}`` tags,
which most released templates (SmolLM2's, Gemma's) lack. Written here instead: render the whole
conversation once, find each assistant turn's character span by rendering the conversation up to
that turn, and map characters to tokens through the tokenizer's offsets. The span includes the
template's end-of-turn marker so the model learns to stop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from lingotune.core.errors import LingotuneError
from lingotune.data.example import Example
from lingotune.models.chat import CHATML_FALLBACK, ensure_chat_template, render  # noqa: F401 (re-exported)


@dataclass(frozen=True)
class TwinBranch:
    """A negative twin carried by the example whose prompt it shares (``train/twin_branches.py``): the
    twin's tokens from index ``start`` on, with their encoded labels; in training they attend to the
    example's first ``start`` tokens and to each other, at positions ``start``, ``start + 1``, ..."""

    input_ids: list[int]
    labels: list[int]
    start: int


@dataclass
class TokenizedExample:
    input_ids: list[int]
    assistant_masks: list[int]
    negative: bool = False  # an answer to train against (train/negatives.py)
    source: int | None = None  # index of the Example it came from (a twin: its example's)
    branch: TwinBranch | None = None  # a negative twin sharing this example's prompt

    @property
    def labels(self) -> list[int]:
        """Targets for the loss: the token where the mask is 1, -100 (ignored) elsewhere; a negative
        example's masked tokens are encoded below -100 (``label_loss.negative_label``)."""
        from lingotune.train.label_loss import negative_label

        target = negative_label if self.negative else (lambda t: t)
        return [target(t) if m else -100 for t, m in zip(self.input_ids, self.assistant_masks, strict=True)]


def assistant_char_spans(
    tokenizer, messages: Sequence[dict[str, str]], loss_turns: str | Sequence[int] = "all"
) -> tuple[str, list[tuple[int, int]]]:
    """The rendered text and the character spans of the assistant turns that carry loss.

    ``loss_turns`` is "all", "last", or indices among the assistant turns (0 = first answer).
    """
    text = render(tokenizer, messages)
    assistant_positions = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    if loss_turns == "all":
        chosen = assistant_positions
    elif loss_turns == "last":
        chosen = assistant_positions[-1:]
    else:
        chosen = [assistant_positions[k] for k in loss_turns if k < len(assistant_positions)]
    spans = []
    for position in chosen:
        prefix = render(tokenizer, messages[:position], add_generation_prompt=True)
        upto = render(tokenizer, messages[: position + 1])
        if not text.startswith(prefix) or not text.startswith(upto):
            raise LingotuneError(
                "the model's chat template does not render conversations incrementally (a turn changes "
                "what comes before it), so assistant tokens cannot be located; set train.loss_on: all"
            )
        spans.append((len(prefix), len(upto)))
    return text, spans


def tokenize_example(
    tokenizer, example: Example, loss_turns: str | Sequence[int] = "all"
) -> TokenizedExample:
    text, spans = assistant_char_spans(tokenizer, example.messages, loss_turns)
    return tokenize_spans(tokenizer, text, spans)


def tokenize_spans(tokenizer, text: str, spans: Sequence[tuple[int, int]]) -> TokenizedExample:
    """``text`` tokenised, with the tokens that overlap a character span masked in."""
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    mask = []
    for start, end in encoded["offset_mapping"]:
        inside = any(start < span_end and end > span_start for span_start, span_end in spans)
        mask.append(1 if inside else 0)
    return TokenizedExample(list(encoded["input_ids"]), mask)


def tokenize_examples(
    tokenizer, examples: Sequence[Example], max_length: int, loss_turns: str | Sequence[int] = "all"
) -> tuple[list[TokenizedExample], int]:
    """Tokenise all examples; those longer than ``max_length`` are dropped (truncation could cut the
    answer off and teach the model to stop mid-sentence). Returns the kept ones and how many were dropped.

    An example's ``meta["loss_turns"]`` (set by builders such as X-CIT's two-turn chat) overrides
    ``loss_turns`` for that example."""
    from lingotune.core.progress import progress_bar

    ensure_chat_template(tokenizer)
    kept: list[TokenizedExample] = []
    dropped = 0
    with progress_bar() as bar:
        task = bar.add_task("Tokenising", total=len(examples))
        for index, example in enumerate(examples):
            tokenized = tokenize_example(tokenizer, example, example.meta.get("loss_turns", loss_turns))
            bar.advance(task)
            if len(tokenized.input_ids) > max_length or not any(tokenized.assistant_masks):
                dropped += 1
                continue
            kept.append(replace(tokenized, source=index))
    return kept, dropped
