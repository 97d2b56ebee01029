"""The ``eval.judge`` recipe section: what to ask, who answers, who judges.

Kept apart from the recipe schema so the judge can be used on its own (``run_judge``) and the
``eval:`` section only mounts it (``judge: JudgeSpec | None = None`` on ``EvalSpec``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lingotune.core.schema import LANGUAGE_CODE, Strict
from lingotune.inference.spec import BackendSpec

__all__ = ["BackendSpec", "JudgeSpec"]


class JudgeSpec(Strict):
    """MT-Bench(-X) judging of the model under test, single-answer and/or pairwise."""

    name: str = Field(default="judge", pattern=r"^[A-Za-z0-9_.-]+$")
    questions: str  # MT-Bench question.jsonl (question_id, category, turns)
    language: str = Field(pattern=LANGUAGE_CODE)
    judge: BackendSpec
    mode: Literal["single", "pairwise", "both"] = "single"
    turns: list[Literal[1, 2]] = [1]
    # Where the prompts come from: a judge_prompts.jsonl, or None = MT-Bench-X's for the language when
    # shipped, else FastChat's English prompts.
    judge_prompts: str | None = None
    reference_answers: str | None = None  # FastChat reference_answer/*.jsonl; used for math/reasoning/coding
    reference: Literal["auto", "always", "never"] = "auto"
    answers: str | None = None  # answers of the model under test (FastChat model_answer JSONL); None = generate
    baseline_answers: str | None = None  # pairwise baseline (FastChat model_answer JSONL), or "stage:base"
    baseline_name: str = "baseline"
    # A classifiable answer in the wrong language scores 1 / loses, whatever the judge says.
    enforce_language: bool = True
    max_items: int | None = Field(default=None, gt=0)
    max_new_tokens: int = Field(default=256, gt=0)  # answers of the model under test
    judge_max_tokens: int = Field(default=512, gt=0)
    judge_temperature: float = Field(default=0.0, ge=0)
    parse_retries: int = Field(default=1, ge=0, le=5)  # repair turns after a malformed verdict
    cache_path: str | None = None  # sqlite request cache; None = <lingotune cache>/requests.sqlite
    bootstrap_resamples: int = Field(default=1000, gt=0)
