"""Negative twins: the two ways a small model fails an open request, written out and trained against.

Fine-tuning SmolLM2-135M on extractive QA, translation and short instructions made it answer open
requests by copying the request back (MT-Bench-X ES: 32 → 43 of 80 echoes) and by saying one phrase
again and again; no data mix or learning rate tried brought that back to the base level (issue 10,
docs/measurements/issue10_quickstart_variants.md), since every one of those tasks rewards reproducing
its input. Unlikelihood training (Welleck et al., 2019) lowers the probability of tokens of a given
bad continuation; here each training example that does not itself copy its prompt gets one twin with
the same prompt and a bad answer: either

* **echo**: the last user turn copied back, or
* **loop**: the answer's opening words, then the same words again (only the repeats are negative),

of which the first ``max_tokens`` answer tokens carry the loss ``weight × -log(1 - p)``
(``label_loss.unlikelihood_losses``). Examples whose answers copy their prompt by design (extractive QA
spans) get no echo twin, so the model is never asked both to copy and not to copy the same prompt.
The end-of-turn marker is never a negative token: stopping after a copy is not the failure.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace

from lingotune.data.example import Example
from lingotune.data.recipe_builders.base import copies_prompt
from lingotune.train.spec import UnlikelihoodSpec
from lingotune.train.tokenize import TokenizedExample, assistant_char_spans, tokenize_spans

OPENING_WORDS = 8  # a loop twin repeats this many words of the answer (or 24 characters without spaces)
LOOP_REPEATS = 4


def _opening(answer: str) -> str:
    words = answer.split()
    return " ".join(words[:OPENING_WORDS]) if len(words) >= 3 else answer.strip()[:24]


def negative_twins(examples: Sequence[Example], spec: UnlikelihoodSpec, seed: int) -> list[Example]:
    """One twin per example that has a user turn and an answer not copied from it (or for a random
    ``spec.fraction`` of those); the kind (echo or loop, those enabled) drawn per example with ``seed``.
    ``meta["negative_from"]``: where, in the twin's answer, the negative characters start; ``meta["twin_of"]``:
    the index of its example in ``examples``."""
    kinds = [k for k, on in (("echo", spec.echo), ("loop", spec.loop)) if on]
    rng = random.Random(seed)
    twins = []
    for index, example in enumerate(examples):
        users = [m["content"] for m in example.prompt_messages if m["role"] == "user"]
        answer = (example.response or "").strip()
        if not kinds or not users or not users[-1].strip() or not answer or copies_prompt(example):
            continue
        kind = rng.choice(kinds)
        if spec.fraction < 1 and rng.random() >= spec.fraction:
            continue
        if kind == "echo":
            text, start = users[-1].strip(), 0
        else:
            opening = _opening(answer)
            text, start = " ".join([opening] * LOOP_REPEATS), len(opening) + 1
        messages = [*example.prompt_messages, {"role": "assistant", "content": text}]
        twins.append(replace(example, messages=messages,
                             meta={**example.meta, "negative": kind, "negative_from": start,
                                   "twin_of": index}))
    return twins


def tokenize_negatives(tokenizer, twins: Sequence[Example], spec: UnlikelihoodSpec,
                       max_length: int) -> list[TokenizedExample]:
    """Twins → token ids whose negative tokens are the answer's, from ``negative_from``, at most
    ``spec.max_tokens`` of them; the end-of-turn marker stays out. Twins over ``max_length`` are dropped, and
    each twin ends at its last negative token: attention is causal, so what follows it changes no loss (an
    echo of a long prompt kept ~6 tokens past the 48 negative ones on average in the quickstart)."""
    tokenized = []
    for twin in twins:
        text, spans = assistant_char_spans(tokenizer, twin.messages, "last")
        start, end = spans[0]
        content = twin.messages[-1]["content"]
        at = text.find(content, start, end)
        if at < 0:  # the template rewrote the answer (e.g. stripped it): negatives over the whole turn
            at, content = start, text[start:end]
        item = tokenize_spans(tokenizer, text, [(at + twin.meta["negative_from"], at + len(content))])
        seen = 0
        for i, m in enumerate(item.assistant_masks):
            seen += m
            if m and seen > spec.max_tokens:
                item.assistant_masks[i] = 0
        if len(item.input_ids) <= max_length and any(item.assistant_masks):
            end = max(i for i, m in enumerate(item.assistant_masks) if m) + 1
            tokenized.append(replace(item, input_ids=item.input_ids[:end], assistant_masks=item.assistant_masks[:end],
                                     negative=True, source=twin.meta.get("twin_of")))
    return tokenized
