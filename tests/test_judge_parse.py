"""Strict verdict parsing, prompt loading and the pairwise aggregation rule (fast, no model)."""

from __future__ import annotations

import pytest

from lingotune.eval.judge.pairwise import apply_language_rule, combine
from lingotune.eval.judge.parse import parse_choice, parse_rating
from lingotune.eval.judge.prompts import load_judge_prompts, pick_prompt
from lingotune.eval.judge.single import Question, single_messages


@pytest.mark.parametrize("text, value", [
    ("Good answer. Rating: [[7]]", 7.0), ("[[ 8.5 ]]", 8.5), ("[[10]]", 10.0), ("[[3]] ... so [[3]]", 3.0),
])
def test_rating_parsed(text: str, value: float) -> None:
    assert parse_rating(text).value == value


@pytest.mark.parametrize("text", [
    "", None, "Rating: 7", "[7]", "[[rating]]", "[[0]]", "[[11]]", "[[5]] no wait [[6]]", "[[A]]",
])
def test_rating_rejected(text: str | None) -> None:
    verdict = parse_rating(text)
    assert verdict.value is None and verdict.error


@pytest.mark.parametrize("text, value", [("[[A]]", "A"), ("so [[B]].", "B"), ("[[C]]", "C"), ("[[A]] [[A]]", "A")])
def test_choice_parsed(text: str, value: str) -> None:
    assert parse_choice(text).value == value


@pytest.mark.parametrize("text", ["A is better", "[A]", "[[A]] or [[B]]", "[[D]]", "[[7]]", ""])
def test_choice_rejected(text: str) -> None:
    assert not parse_choice(text).ok


def test_position_swap_counts_only_agreeing_verdicts() -> None:
    assert combine("A", "B") == "win"  # model was A in game 1 and B in game 2: it won both
    assert combine("B", "A") == "loss"
    assert combine("A", "A") == "tie"  # a judge that always picks position A: no winner
    assert combine("C", "B") == "tie" and combine("A", "C") == "tie"
    assert combine(None, "B") is None


def test_wrong_language_loses() -> None:
    assert apply_language_rule("win", False, True) == ("loss", True)
    assert apply_language_rule("tie", True, False) == ("win", True)
    assert apply_language_rule("win", False, False) == ("win", False)
    assert apply_language_rule("win", None, True) == ("win", False)


def test_spanish_prompts_carry_the_language_rule() -> None:
    prompts = load_judge_prompts(None, "es")
    prompt = pick_prompt(prompts, "single", reference=True, multi_turn=True)
    assert prompt.name == "single-math-v1-multi-turn" and "mt_bench_x/ES" in prompt.source
    assert "juez imparcial" in prompt.system_prompt and "must answer in Spanish" in prompt.system_prompt
    question = Question("1", "math", ["¿2+2?", "¿Y 3+3?"], ["4", "6"])
    messages = single_messages(prompt, question, ["cuatro {x}", "seis"], 2, reference=True)
    assert "cuatro {x}" in messages[1]["content"] and "¿Y 3+3?" in messages[1]["content"]
    assert "6" in messages[1]["content"]


def test_language_without_translated_prompts_falls_back_to_english() -> None:
    prompts = load_judge_prompts(None, "sw")
    assert "impartial judge" in prompts["single-v1"].prompt_template  # FastChat keeps it in the user turn
    assert "must answer in Swahili" in prompts["single-v1"].system_prompt
