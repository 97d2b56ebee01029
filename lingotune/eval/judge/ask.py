"""Asking the judge, with repair turns for malformed verdicts.

A judge that ran out of tokens or forgot the format is asked again in the same conversation: its
own reply plus one user turn saying what was missing. That is a new request (a different prompt,
so the cache does not hand back the same bad reply) and it is cached like any other. After
``retries`` repairs the item is recorded as unparseable, with every raw output kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from lingotune.eval.judge.parse import Verdict
from lingotune.inference.backends import ChatBackend, Params

REPAIR = ("Your reply did not give the verdict in the required format ({fmt}). "
          "Reply with the verdict only, exactly in that format.")
RATING_FORMAT = "[[rating]], for example [[5]], a single rating from 1 to 10"
CHOICE_FORMAT = '"[[A]]", "[[B]]" or "[[C]]", exactly one of them'


@dataclass
class JudgeAnswer:
    verdict: Verdict
    status: str  # "ok" | "unparseable" | "error"
    outputs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    cached: bool = True  # every attempt came from the cache


def ask_judge(backend: ChatBackend, conversations: Sequence[list[dict[str, str]]], parse: Callable[[str], Verdict],
              params: Params, *, retries: int, fmt: str, description: str = "Judging") -> list[JudgeAnswer]:
    """One JudgeAnswer per conversation; at most ``retries + 1`` rounds, each one batch through the backend."""
    answers = [JudgeAnswer(Verdict(None, "not asked"), "error") for _ in conversations]
    histories = [list(c) for c in conversations]
    pending = list(range(len(conversations)))
    for attempt in range(retries + 1):
        if not pending:
            break
        label = description if attempt == 0 else f"{description} (repair {attempt})"
        results = backend.complete_many([(histories[i], params) for i in pending], label)
        still: list[int] = []
        for index, result in zip(pending, results, strict=True):
            answer = answers[index]
            answer.cached = answer.cached and result.cached
            if result.text is None:
                answer.errors.append(result.error or "unknown error")
                answer.status, answer.verdict = "error", Verdict(None, result.error)
                continue
            answer.outputs.append(result.text)
            verdict = parse(result.text)
            answer.verdict = verdict
            answer.status = "ok" if verdict.ok else "unparseable"
            if not verdict.ok:
                histories[index] += [{"role": "assistant", "content": result.text},
                                     {"role": "user", "content": REPAIR.format(fmt=fmt)}]
                still.append(index)
        pending = still
    return answers
