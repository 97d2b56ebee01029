"""Quality filters on a translated record, each with a reason the report counts and shows.

Checks look at the *prose* (protected spans removed): a code block neither counts as English nor
inflates a length ratio. Thresholds are the spec's; defaults catch what NLLB-style models and small
chat models do wrong: answer in the wrong language, stop early, copy the source, loop.
"""

from __future__ import annotations

import re

from lingotune.data.translate.spec import FilterSpec
from lingotune.data.translate.translator import FieldResult
from lingotune.language.codes import language_matches
from lingotune.language.detect import detect_language
from lingotune.language.echo_loop import LOOP_THRESHOLD, loop_share

REASONS = {
    "lost_mask": "a protected span (code, URL, placeholder, number…) did not come back; kept untranslated",
    "request_failed": "the backend gave no answer (after its retries); kept untranslated",
    "empty": "the translation is empty",
    "same_as_source": "the translation is the source unchanged",
    "wrong_language": "the translation is not in the target language",
    "length_ratio": "translation much shorter or longer than its source (truncated or padded)",
    "loop": "the translation repeats itself",
    "round_trip": "back-translation is too far from the source (chrF)",
    "answer_wrong_language": "the regenerated answer is not in the target language",
}
_WORD = re.compile(r"[^\W\d_]+")


def field_reasons(result: FieldResult, target_language: str, spec: FilterSpec,
                  back_translation: str | None = None) -> list[str]:
    reasons = list(dict.fromkeys(result.flags))
    if not result.pairs:
        return reasons
    source = " ".join(s for s, _ in result.pairs)
    output = " ".join(t for _, t in result.pairs)
    if not output.strip():
        return [*reasons, "empty"]
    words = len(_WORD.findall(source))
    if spec.same_as_source and words >= 4 and any(s.strip() == t.strip() and len(_WORD.findall(s)) >= 4
                                                  for s, t in result.pairs):
        reasons.append("same_as_source")
    if spec.language:
        detected = detect_language(output)
        if detected is not None and not language_matches(detected, target_language):
            reasons.append("wrong_language")
    if len(source) >= spec.min_chars_for_ratio:
        ratio = len(output) / max(len(source), 1)
        if not spec.min_length_ratio <= ratio <= spec.max_length_ratio:
            reasons.append("length_ratio")
    if spec.loops and loop_share(output) >= LOOP_THRESHOLD > loop_share(source):
        reasons.append("loop")
    if spec.round_trip_min_chrf is not None and back_translation is not None:
        import sacrebleu

        if sacrebleu.sentence_chrf(back_translation, [source]).score < spec.round_trip_min_chrf:
            reasons.append("round_trip")
    return reasons
