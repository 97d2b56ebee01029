"""X-CIT data builders: parallel instruction pairs → phase-2 training conversations (methods.md §1.2–1.3).

X-CIT (Wu et al., ACL 2025) continues an English-tuned model on (i) a small monolingual
target-language subset and (ii) a *two-turn chat* built from each parallel pair, so the model first
"thinks and responds" in English and then answers in the target language. The exact wording of the
chat is [GAP] in methods.md; the structure here is the reconstruction of §1.3 [INF]:

    user      : x_tgt                      (the question, asked in the target language)
    assistant : restate_template(x_en, y_en)   (default "{x_en}\\n\\n{y_en}": English restatement + answer)
    user      : cue                        (short request for the answer, written in the target language)
    assistant : y_tgt

PLUG (Zhang et al. 2023, arXiv 2311.08711), the closest verified analogue and an X-CIT baseline, puts
the English draft and the target answer in *one* assistant turn behind fixed section labels (§1.3 [V-C]).

Everything is plain data in, :class:`Example` out; the recipe decides which builders run and the
tokenizer reads each example's ``meta["loss_turns"]`` to mask per example.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from lingotune.core.errors import LingotuneError
from lingotune.data.example import Example
from lingotune.language.codes import canonical_language, normalize_language

LossTurns = str | list[int]

# methods.md §1.3 [INF]: restate the task in English, then answer in English. Fields: {x_en}, {y_en}, {x_tgt}.
DEFAULT_RESTATE_TEMPLATE = "{x_en}\n\n{y_en}"

# "Now give the answer in <language>." written in that language (§1.3: the cue may be in T or English;
# default in T so the second request itself is target-language input). Not a list of supported
# languages: any other code works when the recipe gives its own cue.
DEFAULT_CUES: dict[str, str] = {
    "en": "Now give the answer in English.",
    "es": "Ahora da la respuesta en español.",
    "de": "Gib jetzt die Antwort auf Deutsch.",
    "fr": "Maintenant, donne la réponse en français.",
    "it": "Ora dai la risposta in italiano.",
    "pt": "Agora dê a resposta em português.",
    "nl": "Geef nu het antwoord in het Nederlands.",
    "ru": "Теперь дай ответ на русском языке.",
    "zh": "现在请用中文给出答案。",
    "ja": "では、日本語で答えてください。",
    "ko": "이제 한국어로 답해 주세요.",
    "hi": "अब उत्तर हिंदी में दीजिए।",
    "ar": "الآن أعطِ الإجابة باللغة العربية.",
}

# PLUG's delimiter scheme (methods.md §1.3 [V-C]): "English response:" and a label in the target
# language; es/it/zh/ko are PLUG's own labels, the others follow the same pattern [INF].
PLUG_ENGLISH_LABEL = "English response:"
PLUG_TARGET_LABELS: dict[str, str] = {
    "es": "Respuesta en español:",
    "it": "Risposta in italiano:",
    "zh": "中文回复：",
    "ko": "한국어 응답:",
    "de": "Antwort auf Deutsch:",
    "fr": "Réponse en français :",
    "pt": "Resposta em português:",
    "nl": "Antwoord in het Nederlands:",
    "ru": "Ответ на русском языке:",
    "ja": "日本語の回答：",
    "hi": "हिंदी में उत्तर:",
    "ar": "الإجابة بالعربية:",
}


@dataclass
class ParallelInstruction:
    """One instruction with its answer in English and in the target language (methods.md §1.2)."""

    id: str
    x_en: str
    y_en: str
    x_tgt: str
    y_tgt: str
    language: str
    source: str = "parallel"
    meta: dict[str, Any] = field(default_factory=dict)  # the target-side example's meta (answers, context…)


# ------------------------------------------------------------------------------------------ alignment
def _prompt_and_answer(example: Example, side: str, position: int) -> tuple[str, str]:
    prompt = example.prompt_messages
    where = f"{side} example {position} ({example.source}, record {example.meta.get('index', position)})"
    if not prompt or prompt[-1]["role"] != "user" or example.response is None:
        raise LingotuneError(f"{where}: X-CIT needs a user prompt followed by an assistant answer; "
                             f"got roles {[m['role'] for m in example.messages]}")
    return prompt[-1]["content"], example.response


def _examples(items: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(repr(i) for i in items[:limit])
    return shown + (f", … ({len(items) - limit} more)" if len(items) > limit else "")


def _by_id(examples: Sequence[Example], side: str) -> dict[str, Example]:
    indexed: dict[str, Example] = {}
    missing, duplicated = [], []
    for position, example in enumerate(examples):
        if example.meta.get("id") is None:
            missing.append(str(example.meta.get("index", position)))
            continue
        key = str(example.meta["id"])
        if key in indexed:
            duplicated.append(key)
        indexed[key] = example
    if missing:
        raise LingotuneError(f"align_parallel(by='id'): {len(missing)} {side} examples have no meta['id'] "
                             f"(records {_examples(missing)}); align by='index' instead")
    if duplicated:
        raise LingotuneError(f"align_parallel(by='id'): {len(duplicated)} duplicated ids on the {side} side: "
                             f"{_examples(duplicated)}")
    return indexed


def align_parallel(
    english: Sequence[Example], target: Sequence[Example], by: Literal["id", "index"] = "id",
    *, allow_unmatched: bool = False,
) -> list[ParallelInstruction]:
    """Pair each English example with its translation; the result follows the English order.

    ``by="id"`` matches ``meta["id"]`` (XQuAD/SQuAD question ids are shared across languages, also
    after ``build_extractive_qa``); ``by="index"`` pairs by position (two Alpaca files of equal
    length). Any unmatched id or a length mismatch is an error unless ``allow_unmatched`` (then only
    matched ids are kept); by index, examples whose ids both exist but differ are always an error,
    since they betray files that are not line-aligned. The language is each target example's.
    """
    pairs: list[tuple[Example, Example]] = []
    if by == "id":
        en_ids, tgt_ids = _by_id(english, "English"), _by_id(target, "target")
        only_en = [i for i in en_ids if i not in tgt_ids]
        only_tgt = [i for i in tgt_ids if i not in en_ids]
        if (only_en or only_tgt) and not allow_unmatched:
            raise LingotuneError(
                f"align_parallel(by='id'): {len(only_en)} of {len(en_ids)} English ids have no target example "
                f"({_examples(only_en) or 'none'}) and {len(only_tgt)} of {len(tgt_ids)} target ids have no "
                f"English example ({_examples(only_tgt) or 'none'}); pass allow_unmatched=True to keep only "
                "the matched ones"
            )
        pairs = [(en_ids[i], tgt_ids[i]) for i in en_ids if i in tgt_ids]
    elif by == "index":
        if len(english) != len(target) and not allow_unmatched:
            raise LingotuneError(
                f"align_parallel(by='index'): the English side has {len(english)} examples and the target side "
                f"{len(target)}; position pairing needs line-aligned data of equal length (or align by='id')"
            )
        pairs = list(zip(english, target, strict=False))
        mismatched = [f"{i}: {a.meta['id']!r} vs {b.meta['id']!r}" for i, (a, b) in enumerate(pairs)
                      if a.meta.get("id") is not None and b.meta.get("id") is not None
                      and str(a.meta["id"]) != str(b.meta["id"])]
        if mismatched:
            raise LingotuneError(f"align_parallel(by='index'): {len(mismatched)} positions pair different ids "
                                 f"({_examples(mismatched)}); the files are not line-aligned, use by='id'")
    else:
        raise LingotuneError(f"align_parallel: by must be 'id' or 'index', got {by!r}")
    aligned = []
    for position, (en, tgt) in enumerate(pairs):
        x_en, y_en = _prompt_and_answer(en, "English", position)
        x_tgt, y_tgt = _prompt_and_answer(tgt, "target", position)
        pair_id = str(tgt.meta.get("id", tgt.meta.get("index", position)))
        aligned.append(ParallelInstruction(pair_id, x_en, y_en, x_tgt, y_tgt, tgt.language, tgt.source,
                                           dict(tgt.meta)))
    return aligned


def pairs_from_parallel(prompts: Sequence[Example], answers: Sequence[Example]) -> list[ParallelInstruction]:
    """Pairs from line-aligned parallel corpora (format ``parallel``: ``meta["src"]`` English,
    ``meta["tgt"]`` target): one corpus of instructions and one of their answers, line by line.

    This is how machine-translated instruction sets are often shipped (instructions.en/.xx and
    outputs.en/.xx); a single sentence-level corpus has no answers and cannot make X-CIT pairs.
    """
    if len(prompts) != len(answers):
        raise LingotuneError(f"pairs_from_parallel: {len(prompts)} instruction lines but {len(answers)} answer "
                             "lines; the two corpora must be line-aligned")
    pairs = []
    for position, (prompt, answer) in enumerate(zip(prompts, answers, strict=True)):
        for side, example in (("instruction", prompt), ("answer", answer)):
            if "src" not in example.meta or "tgt" not in example.meta:
                raise LingotuneError(f"pairs_from_parallel: {side} line {position} ({example.source}) has no "
                                     "meta src/tgt; load it with format 'parallel'")
        pairs.append(ParallelInstruction(str(answer.meta.get("index", position)), prompt.meta["src"],
                                         answer.meta["src"], prompt.meta["tgt"], answer.meta["tgt"],
                                         answer.language, answer.source, dict(answer.meta)))
    return pairs


# ------------------------------------------------------------------------------------------- builders
def subset_pairs(pairs: Sequence[ParallelInstruction], fraction: float = 0.1,
                 seed: int = 0) -> list[ParallelInstruction]:
    """A seeded subset of ``round(fraction·n)`` pairs (at least one), in input order.

    methods.md §1.2: phase 2 uses a 10 % subset [V-S], drawn three times in the paper (vary ``seed``);
    mono and chat data use the same subset by default [INF] — call this once and pass it to both.
    """
    if not 0.0 < fraction <= 1.0:
        raise LingotuneError(f"subset fraction must be in (0, 1], got {fraction}")
    if not pairs:
        return []
    k = max(1, round(fraction * len(pairs)))
    chosen = sorted(random.Random(seed).sample(range(len(pairs)), k))
    return [pairs[i] for i in chosen]


def _example(pair: ParallelInstruction, messages: list[dict[str, str]], kind: str, **meta: Any) -> Example:
    return Example(messages, pair.language, pair.source, {**pair.meta, "id": pair.id, "xcit": kind, **meta})


def build_monolingual_subset(pairs: Sequence[ParallelInstruction], fraction: float = 0.1,
                             seed: int = 0) -> list[Example]:
    """D_mono of methods.md §1.2: x_tgt → y_tgt on a seeded subset (see :func:`subset_pairs`)."""
    return [_example(p, [{"role": "user", "content": p.x_tgt}, {"role": "assistant", "content": p.y_tgt}],
                     "mono") for p in subset_pairs(pairs, fraction, seed)]


def _base(code: str) -> str:
    return canonical_language(code) or code


def _for_language(language: str, given: str | Mapping[str, str] | None, table: Mapping[str, str], what: str,
                  key: str) -> str:
    if isinstance(given, str):
        return given
    for lookup in (given or {}, table):
        for code in (language, normalize_language(language) or language, _base(language)):
            if code in lookup:
                return lookup[code]
    raise LingotuneError(
        f"no default {what} for language {language!r}; give one written in that language "
        f"(recipe key {key}, e.g. {{{language}: '...'}}). Defaults exist for {', '.join(sorted(table))}, "
        "but any language works with a given one"
    )


def default_cue(language: str, cue: str | Mapping[str, str] | None = None) -> str:
    """The turn-2 cue for ``language``: the given string, the mapping's entry, or the built-in default."""
    return _for_language(language, cue, DEFAULT_CUES, "X-CIT cue", "cue")


def plug_target_label(language: str, label: str | Mapping[str, str] | None = None) -> str:
    """PLUG's target-language section label for ``language`` (given, mapped, or built in)."""
    return _for_language(language, label, PLUG_TARGET_LABELS, "PLUG target label", "target_label")


def check_loss_turns(loss_turns: LossTurns, n_assistant_turns: int) -> LossTurns:
    """Validate "all", "last" or a list of assistant-turn indices (0 = first answer)."""
    if loss_turns in ("all", "last"):
        return loss_turns
    if isinstance(loss_turns, (list, tuple)) and loss_turns and all(
        isinstance(k, int) and not isinstance(k, bool) and 0 <= k < n_assistant_turns for k in loss_turns
    ):
        return sorted(set(loss_turns))
    raise LingotuneError(f"loss_turns must be 'all', 'last' or a non-empty list of assistant-turn indices "
                         f"in 0..{n_assistant_turns - 1}, got {loss_turns!r}")


def build_think_in_english_chat(
    pairs: Sequence[ParallelInstruction],
    *,
    restate_template: str = DEFAULT_RESTATE_TEMPLATE,
    cue: str | Mapping[str, str] | None = None,
    loss_turns: LossTurns = "all",
) -> list[Example]:
    """D_chat of methods.md §1.2–1.3: the two-turn "think in English, then answer in T" chat.

    ``restate_template`` fills the first answer from {x_en}, {y_en} and {x_tgt}; its wording is [GAP]
    in the paper, the default "{x_en}\\n\\n{y_en}" is the §1.3 reconstruction [INF]. ``cue`` is a
    string, a {language: cue} mapping, or None for :data:`DEFAULT_CUES`. ``loss_turns`` ("all" by
    default per §1.3 [INF]; "last" or [1] trains only the target answer) is stored in
    ``meta["loss_turns"]`` so the tokenizer masks each example as its builder intended.
    """
    turns = check_loss_turns(loss_turns, 2)
    built = []
    for pair in pairs:
        try:
            restated = restate_template.format(x_en=pair.x_en, y_en=pair.y_en, x_tgt=pair.x_tgt)
        except (KeyError, IndexError) as missing:
            raise LingotuneError(f"restate_template uses {{{missing.args[0]}}}; available fields are "
                                 "{x_en}, {y_en} and {x_tgt}") from None
        messages = [
            {"role": "user", "content": pair.x_tgt},
            {"role": "assistant", "content": restated},
            {"role": "user", "content": default_cue(pair.language, cue)},
            {"role": "assistant", "content": pair.y_tgt},
        ]
        built.append(_example(pair, messages, "chat", loss_turns=list(turns) if isinstance(turns, list) else turns))
    return built


def loss_turns_of(example: Example, default: LossTurns = "all") -> LossTurns:
    """The loss turns an example's builder asked for (``meta["loss_turns"]``), else ``default``."""
    return example.meta.get("loss_turns", default)


def build_plug(
    pairs: Sequence[ParallelInstruction],
    *,
    english_label: str = PLUG_ENGLISH_LABEL,
    target_label: str | Mapping[str, str] | None = None,
) -> list[Example]:
    """PLUG baseline (methods.md §1.3 [V-C]): user x_tgt → one answer "<EN label>\\n{y_en}\\n\\n<T label>\\n{y_tgt}"."""
    built = []
    for pair in pairs:
        label = plug_target_label(pair.language, target_label)
        answer = f"{english_label}\n{pair.y_en}\n\n{label}\n{pair.y_tgt}"
        messages = [{"role": "user", "content": pair.x_tgt}, {"role": "assistant", "content": answer}]
        built.append(_example(pair, messages, "plug", plug_target_label=label))
    return built


class PlugAnswer(str):
    """A ``str`` (the extracted answer) that also says whether the target label was found.

    PLUG counts outputs without the label as "not found" (§1.3 [V-C]); evaluations report
    ``label_found`` next to the score instead of silently scoring a guess.
    """

    label_found: bool

    def __new__(cls, text: str, label_found: bool) -> PlugAnswer:
        obj = super().__new__(cls, text)
        obj.label_found = label_found
        return obj


def _label_pattern(label: str) -> re.Pattern[str]:
    core = label.strip().rstrip(":：").strip()  # tolerate half/full-width colons and spaces around them
    return re.compile(re.escape(core) + r"\s*[:：]?", re.IGNORECASE)


def extract_plug_answer(text: str, target_label: str) -> PlugAnswer:
    """The text after the last occurrence of ``target_label``; without it, the text after the last
    blank line with ``label_found=False`` (the model may have answered without the scheme)."""
    matches = list(_label_pattern(target_label).finditer(text))
    if matches:
        return PlugAnswer(text[matches[-1].end():].strip(), True)
    return PlugAnswer(text.strip().split("\n\n")[-1].strip(), False)


# ----------------------------------------------------------------------------------------- inference
def two_turn_conversation(
    first_prompt: str | Sequence[dict[str, str]], first_answer: str, cue: str
) -> list[dict[str, str]]:
    """The second request of the §1.3(b) chat protocol: the first prompt (a string or messages with a
    system turn), the model's own first answer (its English draft), then the cue; generate turn 2 from it."""
    messages = [{"role": "user", "content": first_prompt}] if isinstance(first_prompt, str) else list(first_prompt)
    return [*messages, {"role": "assistant", "content": first_answer}, {"role": "user", "content": cue}]


__all__ = [
    "DEFAULT_CUES", "DEFAULT_RESTATE_TEMPLATE", "PLUG_ENGLISH_LABEL", "PLUG_TARGET_LABELS", "ParallelInstruction",
    "PlugAnswer", "align_parallel", "build_monolingual_subset", "build_plug", "build_think_in_english_chat",
    "check_loss_turns", "default_cue", "extract_plug_answer", "loss_turns_of", "pairs_from_parallel",
    "plug_target_label", "subset_pairs", "two_turn_conversation",
]
