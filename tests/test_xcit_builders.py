"""X-CIT builders (methods.md §1.2–1.3): exact chat messages and loss masks, alignment, PLUG."""

from __future__ import annotations

from pathlib import Path

import pytest

from lingotune.core.errors import LingotuneError
from lingotune.data.builders import build_extractive_qa
from lingotune.data.example import Example
from lingotune.data.loaders import load_examples
from lingotune.data.xcit import (
    ParallelInstruction,
    align_parallel,
    build_monolingual_subset,
    build_plug,
    build_think_in_english_chat,
    default_cue,
    extract_plug_answer,
    loss_turns_of,
    pairs_from_parallel,
    two_turn_conversation,
)
from lingotune.models.loading import load_tokenizer
from lingotune.train.tokenize import tokenize_example

PAIR = ParallelInstruction(
    id="q1",
    x_en="What is the capital of France?",
    y_en="Paris is the capital of France.",
    x_tgt="¿Cuál es la capital de Francia?",
    y_tgt="París es la capital de Francia.",
    language="es",
)
RESTATED = "What is the capital of France?\n\nParis is the capital of France."
EXPECTED_CHAT = [
    {"role": "user", "content": "¿Cuál es la capital de Francia?"},
    {"role": "assistant", "content": RESTATED},
    {"role": "user", "content": "Ahora da la respuesta en español."},
    {"role": "assistant", "content": "París es la capital de Francia."},
]
XQUAD = Path(__file__).resolve().parent.parent / "data" / "quickstart" / "xquad"


def masked_text(tokenizer, tokenized) -> str:
    return tokenizer.decode([t for t, m in zip(tokenized.input_ids, tokenized.assistant_masks, strict=True) if m])


def chat(pair: ParallelInstruction = PAIR, **kwargs) -> Example:
    return build_think_in_english_chat([pair], **kwargs)[0]


# ------------------------------------------------------------------------------------------ chat builder
def test_chat_builder_produces_exactly_the_two_turn_conversation():
    example = chat()
    assert example.messages == EXPECTED_CHAT
    assert example.language == "es"
    assert example.meta["id"] == "q1" and example.meta["xcit"] == "chat" and example.meta["loss_turns"] == "all"


@pytest.mark.parametrize(
    ("loss_turns", "expected"),
    [
        ("all", RESTATED + "<|im_end|>\n" + "París es la capital de Francia.<|im_end|>\n"),
        ("last", "París es la capital de Francia.<|im_end|>\n"),
        ([0], RESTATED + "<|im_end|>\n"),
    ],
)
def test_chat_loss_masks_follow_meta_loss_turns(tiny_model, loss_turns, expected):
    tokenizer = load_tokenizer(tiny_model, padding_side="right")
    example = chat(loss_turns=loss_turns)
    assert example.meta["loss_turns"] == loss_turns
    tokenized = tokenize_example(tokenizer, example, loss_turns_of(example))
    assert masked_text(tokenizer, tokenized) == expected


def test_restate_template_is_configurable_and_checked():
    example = chat(restate_template="Question: {x_en}\nAnswer: {y_en}")
    expected = "Question: What is the capital of France?\nAnswer: Paris is the capital of France."
    assert example.messages[1]["content"] == expected
    with pytest.raises(LingotuneError, match=r"\{x_fr\}"):
        chat(restate_template="{x_fr}")
    with pytest.raises(LingotuneError, match="loss_turns"):
        chat(loss_turns=[2])


def test_unknown_language_needs_a_cue_and_a_given_cue_works():
    swahili = ParallelInstruction("s1", "What is water?", "Water is a liquid.", "Maji ni nini?",
                                  "Maji ni kimiminika.", "sw")
    with pytest.raises(LingotuneError, match="no default X-CIT cue for language 'sw'.*any language works"):
        chat(swahili)
    cue = "Sasa toa jibu kwa Kiswahili."
    assert chat(swahili, cue=cue).messages[2] == {"role": "user", "content": cue}
    assert chat(swahili, cue={"sw": cue}).messages[2]["content"] == cue
    assert chat(swahili, cue={"sw": cue}).messages[3]["content"] == "Maji ni kimiminika."


def test_default_cues_follow_region_and_script_subtags():
    assert default_cue("pt-BR") == default_cue("pt") == "Agora dê a resposta em português."
    assert default_cue("zh-Hans") == "现在请用中文给出答案。"


# --------------------------------------------------------------------------------------------- alignment
@pytest.fixture(scope="module")
def xquad():
    en = build_extractive_qa(load_examples(XQUAD / "xquad.en.train.json", "squad", "en"))
    es = build_extractive_qa(load_examples(XQUAD / "xquad.es.train.json", "squad", "es"))
    return en, es


def test_align_by_id_on_real_xquad(xquad):
    en, es = xquad
    reversed_es = list(reversed(es))  # order must not matter when aligning by id
    pairs = align_parallel(en, reversed_es, by="id")
    assert len(pairs) == len(en) == len(es) == 949
    assert [p.id for p in pairs] == [e.meta["id"] for e in en]
    es_by_id = {e.meta["id"]: e for e in es}
    for pair, english in zip(pairs, en, strict=True):
        spanish = es_by_id[pair.id]
        assert pair.x_en == english.messages[0]["content"] and english.meta["question"] in pair.x_en
        assert pair.y_en == english.response
        assert pair.x_tgt == spanish.messages[0]["content"] and spanish.meta["question"] in pair.x_tgt
        assert pair.y_tgt == spanish.response
        assert pair.language == "es"
    first = pairs[0]
    assert first.x_tgt.rstrip().endswith("¿Quién, a su llegada, proporcionó una identidad común a los primeros "
                                         "colonos vikingos?")
    assert first.y_tgt == "Hrolf Ganger"


def test_unmatched_ids_are_an_error_with_counts_and_examples(xquad):
    en, es = xquad
    bogus = Example(es[0].messages, "es", "t", {"id": "not-in-english"})
    with pytest.raises(LingotuneError, match=r"1 of 949 English ids.*'56dde1d966d3e219004dad8d'.*"
                                             r"1 of 949 target ids.*'not-in-english'"):
        align_parallel(en, [*es[1:], bogus], by="id")
    kept = align_parallel(en, [*es[1:], bogus], by="id", allow_unmatched=True)
    assert len(kept) == 948


def test_align_by_index_checks_length_and_ids(xquad):
    en, es = xquad
    pairs = align_parallel(en[:5], es[:5], by="index")
    assert [p.y_tgt for p in pairs] == [e.response for e in es[:5]]
    with pytest.raises(LingotuneError, match="5 examples and the target side 4"):
        align_parallel(en[:5], es[:4], by="index")
    with pytest.raises(LingotuneError, match="not line-aligned"):
        align_parallel(en[:2], [es[1], es[0]], by="index")


def test_pairs_from_two_parallel_corpora():
    def line(src: str, tgt: str, i: int) -> Example:
        return Example([{"role": "user", "content": src}, {"role": "assistant", "content": tgt}], "es", "p",
                       {"index": i, "src": src, "tgt": tgt})

    prompts = [line(PAIR.x_en, PAIR.x_tgt, 0)]
    answers = [line(PAIR.y_en, PAIR.y_tgt, 0)]
    (pair,) = pairs_from_parallel(prompts, answers)
    assert (pair.x_en, pair.y_en, pair.x_tgt, pair.y_tgt, pair.language) == (
        PAIR.x_en, PAIR.y_en, PAIR.x_tgt, PAIR.y_tgt, "es")
    with pytest.raises(LingotuneError, match="line-aligned"):
        pairs_from_parallel(prompts, answers * 2)


def test_monolingual_subset_size_and_determinism(xquad):
    pairs = align_parallel(*xquad, by="id")
    subset = build_monolingual_subset(pairs, fraction=0.1, seed=0)
    assert len(subset) == 95  # round(0.1 · 949)
    assert [e.meta["id"] for e in subset] == [e.meta["id"] for e in build_monolingual_subset(pairs, 0.1, 0)]
    assert [e.meta["id"] for e in subset] != [e.meta["id"] for e in build_monolingual_subset(pairs, 0.1, 1)]
    by_id = {p.id: p for p in pairs}
    for example in subset:
        pair = by_id[example.meta["id"]]
        assert example.messages == [{"role": "user", "content": pair.x_tgt},
                                    {"role": "assistant", "content": pair.y_tgt}]
        assert example.language == "es" and example.meta["xcit"] == "mono"
    with pytest.raises(LingotuneError, match="fraction"):
        build_monolingual_subset(pairs, fraction=0.0)


# -------------------------------------------------------------------------------------------------- PLUG
def test_plug_format_and_extraction():
    (example,) = build_plug([PAIR])
    answer = ("English response:\nParis is the capital of France.\n\n"
              "Respuesta en español:\nParís es la capital de Francia.")
    assert example.messages == [{"role": "user", "content": PAIR.x_tgt}, {"role": "assistant", "content": answer}]
    extracted = extract_plug_answer(answer, "Respuesta en español:")
    assert extracted == PAIR.y_tgt and extracted.label_found
    # case and full-width colon variants still count as the label
    assert extract_plug_answer("respuesta en español：  Sí.", "Respuesta en español:") == "Sí."
    custom = build_plug([PAIR], english_label="Draft:", target_label="Final:")[0]
    assert custom.response == "Draft:\nParis is the capital of France.\n\nFinal:\nParís es la capital de Francia."


def test_plug_missing_label_returns_last_paragraph_and_flags_it():
    extracted = extract_plug_answer("English response:\nParis.\n\nParís.\n", "Respuesta en español:")
    assert extracted == "París." and not extracted.label_found


def test_plug_unknown_language_needs_a_label():
    swahili = ParallelInstruction("s1", "Q?", "A.", "Swali?", "Jibu.", "sw")
    with pytest.raises(LingotuneError, match="no default PLUG target label for language 'sw'"):
        build_plug([swahili])
    assert build_plug([swahili], target_label="Jibu kwa Kiswahili:")[0].response.endswith("Jibu kwa Kiswahili:\nJibu.")


def test_two_turn_conversation_builds_the_second_request():
    assert two_turn_conversation(PAIR.x_tgt, RESTATED, default_cue("es")) == EXPECTED_CHAT[:3]
    system = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": PAIR.x_tgt}]
    assert two_turn_conversation(system, RESTATED, "Cue")[0] == system[0]
