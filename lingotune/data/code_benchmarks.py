"""Natural-language → code benchmarks as one :class:`CodeProblem` type (methods.md §5).

Four record layouts, told apart by their fields, from any file name:

- **HumanEval-XL** (Peng et al., LREC-COLING 2024): ``task_id, prompt, entry_point, test, canonical_solution,
  description, natural_language, language``; Python (``test`` defines ``check(candidate)``) and Java (``test`` is
  a ``class Main`` whose ``main`` throws on the first failure; no canonical solutions upstream: the field is
  ``"nan"``/null, loaded as "").
- **mHumanEval** (Raihan et al., NAACL 2025): ``nl`` (FLORES-200 code), ``pl``, ``prompt``, ``canonical_solution``,
  ``test``; no task id or entry point: row *i* is ``HumanEval/i`` (upstream keeps HumanEval's order) and the
  entry point is the last top-level ``def`` of the prompt. Upstream files are JSON Lines named ``.json``.
- **MBPP** (Austin et al. 2021): ``text, code, task_id, test_setup_code, test_list, challenge_test_list``; the
  model writes the whole function, the tests are asserts. Splits by task id: see :data:`MBPP_SPLITS`.
- **HumanEval** (Chen et al. 2021): ``task_id, prompt, canonical_solution, test, entry_point`` (``.jsonl`` or the
  distributed ``.jsonl.gz``).

Natural languages are stored as lingotune's canonical codes (``English`` → ``en``, ``hin_Deva`` → ``hi``), the
original label kept in ``language_label``. Malformed records raise :class:`DataError` with file and line.
"""

from __future__ import annotations

import gzip
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lingotune.core.errors import DataError
from lingotune.data.readers import RawRecord, describe, json_records, jsonl_records
from lingotune.language.codes import canonical_language

FORMATS = ("humaneval-xl", "mhumaneval", "mbpp", "humaneval")
# Task-id ranges of MBPP (google-research/mbpp README): 1–10 few-shot prompts, 11–510 test. The README divides
# 511–974 into validation (511–600) and training (601–974); "train" here is all of 511–974, the English NL→code
# training data of the code expert (issue 14), disjoint from "test" either way.
MBPP_SPLITS: dict[str, tuple[int, int]] = {
    "prompt": (1, 10), "test": (11, 510), "train": (511, 974), "validation": (511, 600),
    "train_upstream": (601, 974), "all": (1, 974),
}  # fmt: skip


@dataclass(frozen=True)
class CodeProblem:
    """One problem in one natural language. ``format`` says how a solution is checked: ``humaneval`` (the
    completion continues ``prompt``; ``test`` is run after it) or ``mbpp`` (the solution is the whole code;
    ``test_setup`` and the ``test_list`` asserts follow it). ``description`` is the task in words alone, for
    chat prompts; ``canonical_solution`` is "" where the source has none."""

    task_id: str
    natural_language: str
    programming_language: str
    prompt: str
    entry_point: str
    test: str
    canonical_solution: str
    description: str
    format: str
    benchmark: str
    language_label: str = ""
    test_setup: str = ""
    test_list: tuple[str, ...] = ()
    source: str = ""


def _records(path: str) -> Iterator[RawRecord]:
    if path.endswith(".gz"):
        try:
            text = gzip.decompress(Path(path).read_bytes()).decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:
            raise DataError(path, "file", f"cannot read as gzip-compressed UTF-8 JSON Lines: {error}") from None
        yield from jsonl_records(path, text)
        return
    yield from json_records(path)


def detect_code_format(record: Any) -> str | None:
    if not isinstance(record, dict):
        return None
    keys = set(record)
    if {"nl", "pl", "prompt", "test"} <= keys:
        return "mhumaneval"
    if {"text", "code", "test_list"} <= keys:
        return "mbpp"
    if {"prompt", "test", "entry_point", "natural_language"} <= keys or {"prompt", "test", "description"} <= keys:
        return "humaneval-xl"
    if {"task_id", "prompt", "test", "entry_point"} <= keys:
        return "humaneval"
    return None


_REQUIRED = {
    "humaneval-xl": ("task_id", "prompt", "entry_point", "test"),
    "mhumaneval": ("nl", "prompt", "test"),
    "mbpp": ("task_id", "text", "code", "test_list"),
    "humaneval": ("task_id", "prompt", "entry_point", "test"),
}


def _text_field(record: RawRecord, key: str, required: bool = True) -> str:
    value = record.value.get(key)
    if value is None or (isinstance(value, float) and value != value) or value == "nan":
        if required:
            raise record.fail(f"field {key!r} is missing or null")
        return ""
    if not isinstance(value, str):
        raise record.fail(f"field {key!r} must be a string, got {describe(value)}")
    return value


def last_function_name(prompt: str) -> str | None:
    names = re.findall(r"^def\s+(\w+)\s*\(", prompt, re.MULTILINE)
    return names[-1] if names else None


def docstring_of(prompt: str) -> str:
    """The last docstring of a Python prompt (signature + docstring, no body): the task in words."""
    found = re.findall(r'(?:"""|\'\'\')(.*?)(?:"""|\'\'\')', prompt, re.DOTALL)
    return textwrap.dedent(found[-1]).strip() if found else ""


def _language(label: str, record: RawRecord) -> str:
    code = canonical_language(label)
    if code is None:
        raise record.fail(f"cannot tell the natural language from {label!r}")
    if len(code) > 3:  # a language name (HumanEval-XL says "English"), not a code
        from lingua import Language

        try:
            return Language.from_str(label.strip()).iso_code_639_1.name.lower()
        except ValueError:
            raise record.fail(f"unknown natural language {label!r}: give natural_language= as a code") from None
    return code


def _programming_language(value: str, record: RawRecord) -> str:
    language = value.strip().lower()
    if language not in ("python", "java"):
        raise record.fail(f"programming language {value!r}: only python and java programs can be executed")
    return language


def _humaneval_like(record: RawRecord, fmt: str, natural_language: str | None, file_stem: str) -> CodeProblem:
    data = record.value
    prompt, test = _text_field(record, "prompt"), _text_field(record, "test")
    label = natural_language or data.get("natural_language") or (file_stem if fmt == "humaneval-xl" else "en")
    task_id = _text_field(record, "task_id")
    pl = data.get("language") or task_id.split("/")[0]
    programming = _programming_language(pl if isinstance(pl, str) and fmt == "humaneval-xl" else "python", record)
    if programming == "python" and not re.search(r"^def\s+check\s*\(", test, re.MULTILINE):
        raise record.fail("field 'test' defines no check(candidate) function")
    description = _text_field(record, "description", required=False) or (
        docstring_of(prompt) if programming == "python" else "")
    return CodeProblem(task_id, _language(label, record), programming, prompt, _text_field(record, "entry_point"),
                       test, _text_field(record, "canonical_solution", required=False), description, "humaneval",
                       fmt, label, source=f"{record.path}:{record.where}")


def _mhumaneval(record: RawRecord, natural_language: str | None) -> CodeProblem:
    prompt = _text_field(record, "prompt")
    entry = last_function_name(prompt)
    if entry is None:
        raise record.fail("the prompt defines no function (its last top-level 'def' is the entry point)")
    label = natural_language or _text_field(record, "nl")
    solution = _text_field(record, "canonical_solution", required=False)
    first = next((line for line in solution.splitlines() if line.strip()), "")
    if first and not first[0].isspace():  # upstream row 0 lost the body's indentation
        solution = textwrap.indent(solution, "    ")
    return CodeProblem(f"HumanEval/{record.index}", _language(label, record),
                       _programming_language(str(record.value.get("pl", "python")), record), prompt, entry,
                       _text_field(record, "test"), solution, docstring_of(prompt), "humaneval", "mhumaneval", label,
                       source=f"{record.path}:{record.where}")


def mbpp_entry_point(code: str, tests: list[str]) -> str | None:
    """The function the asserts call: the first one the code defines that appears in them."""
    called = " ".join(tests)
    for name in re.findall(r"^def\s+(\w+)\s*\(", code, re.MULTILINE):
        if re.search(rf"\b{re.escape(name)}\s*\(", called):
            return name
    return None


def _mbpp(record: RawRecord, natural_language: str | None) -> CodeProblem:
    data = record.value
    task = data.get("task_id")
    if not isinstance(task, int) or isinstance(task, bool):
        raise record.fail(f"field 'task_id' must be an integer, got {describe(task)}")
    tests = data.get("test_list")
    if not isinstance(tests, list) or not tests or not all(isinstance(t, str) for t in tests):
        raise record.fail(f"field 'test_list' must be a non-empty list of assert strings, got {describe(tests)}")
    code = _text_field(record, "code")
    entry = mbpp_entry_point(code, tests) or ""
    label = natural_language or "en"
    return CodeProblem(f"MBPP/{task}", _language(label, record), "python", "", entry, "\n".join(tests), code,
                       _text_field(record, "text"), "mbpp", "mbpp", label,
                       test_setup=_text_field(record, "test_setup_code", required=False), test_list=tuple(tests),
                       source=f"{record.path}:{record.where}")


def load_code_problems(path: str | Path, benchmark: str = "auto", *, natural_language: str | None = None,
                       split: str | None = None) -> list[CodeProblem]:
    """Every problem of a file. ``benchmark`` is one of :data:`FORMATS` or ``auto`` (from the first record's
    fields). ``natural_language`` overrides what the file says (HumanEval has no such field: "en" by default).
    ``split`` selects MBPP task ids (:data:`MBPP_SPLITS`; MBPP files only)."""
    path = str(path)
    if benchmark != "auto" and benchmark not in FORMATS:
        raise DataError(path, "file", f"unknown code benchmark {benchmark!r}; expected auto or one of {FORMATS}")
    if split is not None and split not in MBPP_SPLITS:
        raise DataError(path, "file", f"unknown MBPP split {split!r}; expected one of {sorted(MBPP_SPLITS)}")
    problems: list[CodeProblem] = []
    fmt = None if benchmark == "auto" else benchmark
    stem = Path(path).name.split(".")[0]
    for record in _records(path):
        if record.problem:
            raise record.fail(record.problem)
        if not isinstance(record.value, dict):
            raise record.fail(f"expected a JSON object, got {describe(record.value)}")
        if fmt is None:
            fmt = detect_code_format(record.value)
            if fmt is None:
                raise record.fail(f"not a known code benchmark record ({describe(record.value)}); expected the "
                                  "fields of HumanEval-XL, mHumanEval, MBPP or HumanEval")
        missing = [key for key in _REQUIRED[fmt] if key not in record.value]
        if missing:
            raise record.fail(f"{fmt} record without {', '.join(map(repr, missing))} ({describe(record.value)})")
        if fmt == "mbpp":
            problem = _mbpp(record, natural_language)
        elif fmt == "mhumaneval":
            problem = _mhumaneval(record, natural_language)
        else:
            problem = _humaneval_like(record, fmt, natural_language, stem)
        problems.append(problem)
    if not problems:
        raise DataError(path, "file", "no problems in the file")
    if split is not None:
        if fmt != "mbpp":
            raise DataError(path, "file", f"split={split!r} applies to MBPP files only (this one is {fmt})")
        low, high = MBPP_SPLITS[split]
        problems = [p for p in problems if low <= int(p.task_id.split("/")[1]) <= high]
    return problems


def load_humaneval_xl(path: str | Path, *, natural_language: str | None = None) -> list[CodeProblem]:
    return load_code_problems(path, "humaneval-xl", natural_language=natural_language)


def load_mhumaneval(path: str | Path, *, natural_language: str | None = None) -> list[CodeProblem]:
    return load_code_problems(path, "mhumaneval", natural_language=natural_language)


def load_mbpp(path: str | Path, split: str = "test") -> list[CodeProblem]:
    return load_code_problems(path, "mbpp", split=split)


def load_humaneval(path: str | Path, *, natural_language: str = "en") -> list[CodeProblem]:
    return load_code_problems(path, "humaneval", natural_language=natural_language)
