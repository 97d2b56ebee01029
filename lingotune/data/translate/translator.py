"""Fields in, translated fields out, through any cached chat or MT backend.

Every unit is one request to a ``ChatBackend`` (its ``RequestCache`` keys each by backend identity,
messages and parameters, so the source text, the target language named in the prompt and the model
are all in the key). Requests go in chunks: a killed run loses at most the chunk in flight, and a
rerun sends only what is not cached. A unit whose masks do not all come back exactly once is retried
sentence by sentence, then kept untranslated and flagged; nothing is dropped silently.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lingotune.core.errors import LingotuneError
from lingotune.core.progress import console
from lingotune.data.translate.masking import FieldPlan, Unit, assemble, plan_text, sentences, unmask
from lingotune.inference.backends import ChatBackend, Completion
from lingotune.language.codes import canonical_language, language_name, normalize_language

PROMPT_TEMPLATE = (
    "Translate the following text from {source_name} into {target_name}. Reply with the translation only."
)
MASK_NOTE = " Copy every tag such as <m0> unchanged, once, where it belongs."

LOST_MASK, REQUEST_FAILED = "lost_mask", "request_failed"


@dataclass
class FieldResult:
    """One translated field; ``pairs`` are (source prose, translated prose) of its units, masks removed."""

    source: str
    text: str
    pairs: list[tuple[str, str]] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    untranslated: list[str] = field(default_factory=list)  # the spans kept in the source language


def language_for_prompt(code: str, names: dict[str, str] | None = None) -> str:
    """The language's English name, or a clear error before any request when none is known."""
    if normalize_language(code) is None:
        raise LingotuneError(f"{code!r} is not a language code (expected e.g. 'es', 'spa', 'pt-BR')")
    name = language_name(code, (names or {}).get(code))
    if name == code:
        raise LingotuneError(f"no language name is known for {code!r}; a prompted translator needs one: give it "
                             f"in the recipe's language_names (e.g. {{{code}: Name}}) or use a seq2seq MT model")
    return name


class Translator:
    """``chat=True``: the backend is prompted (instructions + few-shot pairs); ``False``: an MT model
    that takes the bare text (``Seq2SeqBackend``)."""

    def __init__(self, backend: ChatBackend, source_language: str, target_language: str, *, chat: bool = True,
                 prompt_template: str | None = None, few_shot: Sequence[tuple[str, str]] = (),
                 max_chars: int = 400, chunk_size: int = 64, names: dict[str, str] | None = None) -> None:
        if canonical_language(source_language) == canonical_language(target_language):
            raise LingotuneError(f"source and target language are both {target_language!r}")
        self.backend, self.chat, self.max_chars, self.chunk_size = backend, chat, max_chars, chunk_size
        self.source_language, self.target_language = source_language, target_language
        self.few_shot = list(few_shot)
        if chat:
            template = prompt_template or PROMPT_TEMPLATE
            try:
                self.instruction = template.format(source_name=language_for_prompt(source_language, names),
                                                   target_name=language_for_prompt(target_language, names))
            except KeyError as missing:
                raise LingotuneError(f"translate prompt_template uses {{{missing.args[0]}}}; only {{source_name}} "
                                     "and {target_name} are filled in") from None

    # ------------------------------------------------------------------ requests
    def request(self, unit: Unit) -> tuple[list[dict[str, str]], dict[str, Any]]:
        # ~3.5 characters a token, with room: cuts loops short. Rounded up to 32 so that a local backend,
        # which batches requests of equal max_tokens together, gets full batches.
        max_tokens = min(1024, 32 * math.ceil((len(unit.masked) // 3 + 16) / 32))
        if not self.chat:
            return [{"role": "user", "content": unit.masked}], {"max_tokens": max_tokens}
        note = MASK_NOTE if unit.masks else ""
        messages: list[dict[str, str]] = []
        for source, target in self.few_shot:
            messages += [{"role": "user", "content": f"{self.instruction}\n\n{source}"},
                         {"role": "assistant", "content": target}]
        messages.append({"role": "user", "content": f"{self.instruction}{note}\n\n{unit.masked}"})
        return messages, {"max_tokens": max_tokens, "temperature": 0}

    def _send(self, units: list[Unit], description: str) -> list[Completion]:
        """Each distinct unit once, shortest first in chunks (similar lengths batch and pad well; the cache
        commits each answer as it comes); answers in the units' order."""
        by_text = {u.masked: u for u in units}
        order = sorted(by_text, key=len)
        answers: dict[str, Completion] = {}
        for start in range(0, len(order), self.chunk_size):
            texts = order[start:start + self.chunk_size]
            label = f"{description} units {start + 1}-{start + len(texts)} of {len(order)}"
            answers.update(zip(texts, self.backend.complete_many([self.request(by_text[t]) for t in texts], label),
                               strict=True))
        return [answers[u.masked] for u in units]

    # ------------------------------------------------------------------ units
    def translate_units(self, units: list[Unit], description: str = "Translating") -> list[tuple[str | None, str]]:
        """(restored translation or None, status) per unit; status is "ok", LOST_MASK or REQUEST_FAILED."""
        results: list[tuple[str | None, str]] = []
        retry: list[int] = []
        for index, (unit, answer) in enumerate(zip(units, self._send(units, description), strict=True)):
            restored = None if answer.text is None else unmask(clean(answer.text), unit.masks)
            results.append((restored, "ok") if restored is not None and restored.strip() else
                           (None, REQUEST_FAILED if answer.text is None else LOST_MASK))
            if results[-1][0] is None:
                retry.append(index)
        split = {i: sentences(units[i]) for i in retry}
        split = {i: parts for i, parts in split.items() if len(parts) > 1}
        if split:
            console.print(f"{len(split)} unit(s) lost a mask or failed: retrying them sentence by sentence")
            flat = [p for parts in split.values() for p in parts]
            answers = iter(self._send(flat, f"{description} (retry)"))
            for i, parts in split.items():
                restored = [unmask(clean(a.text), p.masks) if a.text is not None else None
                            for p, a in zip(parts, (next(answers) for _ in parts), strict=True)]
                if all(r is not None and r.strip() for r in restored):
                    results[i] = (" ".join(r for r in restored if r), "ok")
        return results

    def translate_fields(self, texts: Sequence[str], description: str = "Translating") -> list[FieldResult]:
        plans: list[FieldPlan] = [plan_text(text, self.max_chars) for text in texts]
        units = [u for plan in plans for u in plan.units]
        outcomes = iter(self.translate_units(units, description) if units else [])
        results = []
        for text, plan in zip(texts, plans, strict=True):
            translations: dict[int, str] = {}
            result = FieldResult(text, text)
            for index, unit in enumerate(plan.units):
                translated, status = next(outcomes)
                if translated is None:
                    result.flags.append(status)
                    result.untranslated.append(unit.source)
                    continue
                translations[index] = translated
                result.pairs.append((prose(unit.source, unit.masks), prose(translated, unit.masks)))
            result.text = assemble(plan, translations)
            results.append(result)
        return results


def clean(answer: str) -> str:
    """The model's reply without the wrapping small chat models add: surrounding blank lines and quotes."""
    text = answer.strip()
    if len(text) > 1 and text[0] == text[-1] and text[0] in "\"'«“" and text.count(text[0]) == 2:
        text = text[1:-1].strip()
    return text


def prose(text: str, masks: list[str]) -> str:
    """The text without its protected spans: what language detection and length checks should look at."""
    for span in sorted(masks, key=len, reverse=True):
        text = text.replace(span, " ")
    return " ".join(text.split())
