"""Every shared problem is runnable and its tests discriminate: the canonical solution of every HumanEval-XL
Python problem (5 languages), every mHumanEval problem (3 languages) and every MBPP task passes under its
tests, and a wrong solution fails every distinct test set.

HumanEval-XL Java has no canonical solutions upstream (the field is "nan"/null in every file): the reference
solutions checked here are hand-written for lingotune (``tests/assets/humaneval_xl_java_solutions.jsonl``, one
per problem, the same for every natural language since only the Javadoc is translated). Each Java run compiles
the translated prompt too, so all 400 files are checked.

These are trusted programs, so the sweep also runs where no isolation is available (``unsafe_exec=True``).
Slow: about 3,000 Python and 480 Java programs (times in docs/measurements/issue14/sandbox.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SHARED_DATA

from lingotune.data.code_benchmarks import CodeProblem, load_code_problems
from lingotune.eval.code_exec.program import build_program, canonical_program
from lingotune.eval.code_exec.sandbox import Sandbox

JAVA_SOLUTIONS = Path(__file__).parent / "assets" / "humaneval_xl_java_solutions.jsonl"
FILES = {
    "humaneval-xl-python": sorted((SHARED_DATA / "humaneval_xl_python").glob("*.jsonl")),
    "mhumaneval": sorted((SHARED_DATA / "mhumaneval_expert_python").glob("*.jsonl")),
    "mbpp": [SHARED_DATA / "mbpp" / "mbpp.jsonl"],
    "humaneval-xl-java": sorted((SHARED_DATA / "humaneval_xl_java").glob("*.jsonl")),
}
EXPECTED = {"humaneval-xl-python": 400, "mhumaneval": 492, "mbpp": 974, "humaneval-xl-java": 400}


def _load(benchmark: str) -> list[CodeProblem]:
    if not FILES[benchmark] or not all(path.exists() for path in FILES[benchmark]):
        pytest.skip(f"shared {benchmark} data")
    return [problem for path in FILES[benchmark] for problem in load_code_problems(path)]


def _java_solutions() -> dict[str, str]:
    records = [json.loads(line) for line in JAVA_SOLUTIONS.read_text(encoding="utf-8").splitlines()]
    return {record["task_id"]: record["completion"] for record in records}


def _wrong(problem: CodeProblem) -> str:
    if problem.programming_language == "java":
        return "        throw new UnsupportedOperationException(\"wrong\");\n    }\n}\n"
    if problem.format == "mbpp":  # the reference, then the entry point redefined to answer None
        return f"{problem.canonical_solution}\n\n\ndef {problem.entry_point}(*args, **kwargs):\n    return None\n"
    return "    return None\n"


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox(unsafe_exec=True)


def _failures(problems, results) -> list[str]:
    return [f"{p.task_id} ({p.language_label}): {r.status} {r.detail} {(r.stderr_tail or r.stdout_tail)[-300:]}"
            for p, r in zip(problems, results, strict=True) if not r.passed]


@pytest.mark.slow
@pytest.mark.parametrize("benchmark", list(FILES))
def test_reference_solutions_pass_and_wrong_ones_fail(benchmark, sandbox):
    problems = _load(benchmark)
    assert len(problems) == EXPECTED[benchmark]
    if benchmark == "humaneval-xl-java":
        if "java" not in sandbox.runtimes:
            pytest.skip("no JDK")
        solutions = _java_solutions()
        programs = [build_program(p, solutions[p.task_id]) for p in problems]
    else:
        programs = [canonical_program(p) for p in problems]
    results = sandbox.run_many(programs)
    assert _failures(problems, results) == []
    assert {r.isolation for r in results} == {sandbox.isolation.level}

    distinct = list({(p.task_id, p.test): p for p in problems}.values())  # the tests are shared across languages
    wrong = sandbox.run_many([build_program(p, _wrong(p)) for p in distinct])
    assert [p.task_id for p, r in zip(distinct, wrong, strict=True) if r.status != "failed"] == []
    if benchmark == "humaneval-xl-java":  # the translated prompts compile: failures are the thrown exception
        assert all("UnsupportedOperationException" in r.stderr_tail for r in wrong)


def test_java_reference_solutions_cover_every_problem():
    problems = _load("humaneval-xl-java")
    solutions = _java_solutions()
    assert sorted({p.task_id for p in problems}) == sorted(solutions)
    assert {p.entry_point for p in problems} <= {
        json.loads(line)["entry_point"] for line in JAVA_SOLUTIONS.read_text(encoding="utf-8").splitlines()}
