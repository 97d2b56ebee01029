"""Single-answer grading (MT-Bench ``single-v1`` family): one answer, a 1–10 rating.

Turn 1 shows the question and the answer; turn 2 shows the whole two-turn conversation and asks
about the second answer only (the ``-multi-turn`` prompts). Categories that need a reference
(math, reasoning, coding) get the ``-math-`` prompt with the reference answer when one is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lingotune.eval.judge.prompts import REFERENCE_CATEGORIES, JudgePrompt, pick_prompt


@dataclass
class Question:
    id: str
    category: str
    turns: list[str]
    reference: list[str] = field(default_factory=list)  # reference answers per turn, if any


def use_reference(question: Question, policy: str) -> bool:
    """``auto``: FastChat's rule (reference-guided for math/reasoning/coding, when a reference exists)."""
    if not question.reference or policy == "never":
        return False
    return policy == "always" or question.category in REFERENCE_CATEGORIES


def _reference_fields(question: Question, reference: bool) -> dict[str, str]:
    if not reference:
        return {}
    refs = question.reference + [""] * (2 - len(question.reference))
    return {"ref_answer_1": refs[0], "ref_answer_2": refs[1]}


def single_prompt(prompts: dict[str, JudgePrompt], question: Question, turn: int, policy: str) -> JudgePrompt:
    return pick_prompt(prompts, "single", reference=use_reference(question, policy), multi_turn=turn == 2)


def single_messages(prompt: JudgePrompt, question: Question, answers: list[str], turn: int,
                    reference: bool) -> list[dict[str, str]]:
    """System + user message of one judge request, exactly as FastChat lays them out."""
    fields = _reference_fields(question, reference)
    if turn == 1:
        fields |= {"question": question.turns[0], "answer": answers[0]}
    else:
        fields |= {"question_1": question.turns[0], "answer_1": answers[0],
                   "question_2": question.turns[1], "answer_2": answers[1]}
    return [{"role": "system", "content": prompt.system_prompt}, {"role": "user", "content": prompt.render(**fields)}]
