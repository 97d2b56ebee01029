"""``kind: code``: natural language → code (HumanEval-XL, mHumanEval, MBPP, HumanEval), scored by pass@k
with every generated program run in the sandbox (:mod:`lingotune.eval.code_exec`).

Each problem becomes ``samples`` items (ids ``TASK#s``), answered greedily when ``samples`` is 1 and by
sampling otherwise (``temperature``, ``top_p``, one seed per sample, so a rerun draws the same programs).
``pass@1`` is also a per-item score (100 when the sample passed): its mean over items equals the unbiased
pass@1 over problems (equal samples per problem), and runs pair on it sample by sample. ``pass@k`` for
``k`` ≤ ``samples`` uses the unbiased estimator (Chen et al. 2021) per problem, with a bootstrap CI over
problems. Samples whose run was a sandbox error (not the program's fault) are counted apart and left out
of n; a stage where every sample errs is a failure of the machine, not a score of 0.

Prompting: ``style: chat`` (instruction models) asks for the function in a code block with the prompt's
signature and docstring as given (in the problem's language); ``completion`` sends the prompt alone for the
model to continue, cut at methods.md's stop sequences.
"""

from __future__ import annotations

import random
import zlib
from collections import Counter, defaultdict
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from lingotune.core.errors import LingotuneError
from lingotune.data.code_benchmarks import CodeProblem, load_code_problems
from lingotune.eval.bootstrap import bootstrap_ci
from lingotune.eval.code_exec.extraction import extract_code, truncate_at_stop
from lingotune.eval.code_exec.pass_at_k import pass_at_k
from lingotune.eval.code_exec.program import build_program
from lingotune.eval.code_exec.runtimes import Limits
from lingotune.eval.code_exec.sandbox import Sandbox
from lingotune.eval.tasks.base import EVAL_SAMPLE_SEED, EvalItem, TaskScores, TaskSpec, metric, register
from lingotune.models.generate import Sampling

CHAT_TEMPLATE = ("Complete the following {language} function. Answer with the whole function in one code "
                 "block.\n\n```{language_tag}\n{prompt}\n```")
MBPP_TEMPLATE = ("{description}\nYour code should pass this test:\n\n```python\n{first_test}\n```\n\n"
                 "Answer with the function in one code block.")


def problem_prompt(problem: CodeProblem, style: str, template: str | None) -> str:
    if style == "completion":
        return problem.prompt
    if problem.format == "mbpp":
        return (template or MBPP_TEMPLATE).format(description=problem.description,
                                                  first_test=(problem.test_list or [""])[0], prompt=problem.prompt)
    language = "Java" if problem.programming_language == "java" else "Python"
    return (template or CHAT_TEMPLATE).format(language=language, language_tag=problem.programming_language,
                                              prompt=problem.prompt.rstrip(), description=problem.description)


@register
class CodeTask(TaskSpec):
    kind: Literal["code"]
    benchmark: Literal["auto", "humaneval-xl", "mhumaneval", "mbpp", "humaneval"] = "auto"
    split: str | None = None  # MBPP task-id range (test, train, …)
    style: Literal["chat", "completion"] = "chat"
    samples: int = Field(default=1, ge=1, le=200)
    temperature: float = Field(default=0.8, gt=0)
    top_p: float = Field(default=0.95, gt=0, le=1)
    k: list[int] = Field(default_factory=lambda: [1, 10])
    max_new_tokens: int = Field(default=256, gt=0)
    timeout_s: float = Field(default=10.0, gt=0)
    isolation: Literal["auto", "bwrap", "unshare", "none"] = "auto"
    unsafe_exec: bool = False  # run without isolation when none is available (resource limits only)

    @model_validator(mode="after")
    def _unsafe_is_explicit(self) -> CodeTask:
        if self.isolation == "none" and not self.unsafe_exec:
            raise ValueError("isolation: none runs model-written code with resource limits only; it needs "
                             "unsafe_exec: true as well (or --unsafe-exec on the command line)")
        return self

    def problems(self) -> list[CodeProblem]:
        problems = load_code_problems(self.path if isinstance(self.path, str) else self.path[0], self.benchmark,
                                      natural_language=self.language, split=self.split)
        if self.max_items and self.max_items < len(problems):
            keep = set(random.Random(EVAL_SAMPLE_SEED).sample(range(len(problems)), self.max_items))
            problems = [p for i, p in enumerate(problems) if i in keep]  # the same problems in every language
        return problems

    def load_items(self, language_names: dict[str, str] | None = None) -> list[EvalItem]:
        items = []
        for problem in self.problems():
            conversation = [{"role": "user", "content": problem_prompt(problem, self.style, self.prompt_template)}]
            if self.system:
                conversation.insert(0, {"role": "system", "content": self.system})
            for s in range(self.samples):
                items.append(EvalItem(f"{problem.task_id}#{s}", conversation, problem.canonical_solution,
                                      {"problem": problem, "sample": s}))
        return items

    def sampling(self, items: list[EvalItem]) -> Sampling | None:
        if self.samples == 1:
            return None
        seeds = tuple(zlib.crc32(item.id.encode()) for item in items)
        return Sampling(temperature=self.temperature, top_p=self.top_p, seeds=seeds)

    def cache_identity(self) -> dict[str, Any]:
        return {"executor": 1}  # bump when extraction or program assembly changes how answers are scored

    def solution(self, problem: CodeProblem, output: str) -> str:
        if self.style == "completion" and problem.format == "humaneval" and problem.programming_language == "python":
            return truncate_at_stop(output)
        return extract_code(output, problem.programming_language, problem.entry_point or None)

    def score(self, items: list[EvalItem], outputs: list[str], detections: list[dict[str, Any]],
              resamples: int) -> TaskScores:
        sandbox = Sandbox(self.isolation, unsafe_exec=self.unsafe_exec,
                          limits={"python": Limits(timeout_s=self.timeout_s)})
        programs = [build_program(item.meta["problem"], self.solution(item.meta["problem"], output), name=item.id)
                    for item, output in zip(items, outputs, strict=True)]
        results = sandbox.run_many(programs)
        statuses = Counter(r.status for r in results)
        if results and statuses["error"] == len(results):
            raise LingotuneError(f"{self.name}: every program failed to start in the sandbox "
                                 f"({results[0].detail or results[0].stderr_tail[-300:]})")
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        per_item = []
        for item, result in zip(items, results, strict=True):
            task_id = item.meta["problem"].task_id
            if result.status != "error":
                counts[task_id][0] += 1
                counts[task_id][1] += int(result.passed)
            per_item.append({"pass@1": 100.0 * result.passed if result.status != "error" else None,
                             "status": result.status, "stderr_tail": result.stderr_tail[-500:]})
        metrics = {}
        for k in sorted(set(self.k)):
            if all(n >= k for n, _ in counts.values()) and counts:
                per_problem = [100 * pass_at_k(n, c, k) for n, c in counts.values()]
                metrics[f"pass@{k}"] = metric(bootstrap_ci(np.asarray(per_problem), resamples))
        return TaskScores(per_item, metrics, {
            "isolation": sandbox.describe(), "problems": len(counts), "samples_per_problem": self.samples,
            "statuses": dict(statuses), "solved_problems": sum(1 for _, c in counts.values() if c > 0)})
