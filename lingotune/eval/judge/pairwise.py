"""Pairwise comparison with position swap (MT-Bench ``pair-v2``; FastChat ``show_result.py``).

Each pair is judged twice: game 1 with the model as assistant A and the baseline as B, game 2
swapped. A verdict counts only when both games agree; a tie in game 1 or a disagreement is a tie
(judges prefer a position: GPT-4 is consistent under swap only ~65 % of the time, methods.md §6.1).
If either game is unparseable or failed, the pair is not counted.
"""

from __future__ import annotations

from lingotune.eval.judge.prompts import JudgePrompt, pick_prompt
from lingotune.eval.judge.single import Question, _reference_fields, use_reference


def pair_prompt(prompts: dict[str, JudgePrompt], question: Question, turn: int, policy: str) -> JudgePrompt:
    return pick_prompt(prompts, "pair", reference=use_reference(question, policy), multi_turn=turn == 2)


def pair_messages(prompt: JudgePrompt, question: Question, answers_a: list[str], answers_b: list[str], turn: int,
                  reference: bool) -> list[dict[str, str]]:
    fields = _reference_fields(question, reference)
    if turn == 1:
        fields |= {"question": question.turns[0], "answer_a": answers_a[0], "answer_b": answers_b[0]}
    else:
        fields |= {"question_1": question.turns[0], "question_2": question.turns[1],
                   "answer_a_1": answers_a[0], "answer_a_2": answers_a[1],
                   "answer_b_1": answers_b[0], "answer_b_2": answers_b[1]}
    return [{"role": "system", "content": prompt.system_prompt}, {"role": "user", "content": prompt.render(**fields)}]


def combine(game1: str | None, game2: str | None) -> str | None:
    """Outcome for the model: game 1 has the model as A, game 2 as B. None when a game has no verdict."""
    if game1 is None or game2 is None:
        return None
    winner1 = {"A": "model", "B": "baseline", "C": "tie"}[game1]
    winner2 = {"A": "baseline", "B": "model", "C": "tie"}[game2]
    if winner1 == "tie" or winner1 != winner2:
        return "tie"
    return "win" if winner1 == "model" else "loss"


def apply_language_rule(outcome: str | None, model_ok: bool | None,
                        baseline_ok: bool | None) -> tuple[str | None, bool]:
    """An answer in the wrong language loses to one in the right language (methods.md §6.3).

    Only when both languages were classifiable; returns (outcome, overridden)."""
    if outcome is None or model_ok is None or baseline_ok is None or model_ok == baseline_ok:
        return outcome, False
    forced = "win" if model_ok else "loss"
    return forced, forced != outcome
