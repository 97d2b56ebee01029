"""Extraction of the function from chat answers, and program assembly (HumanEval, MBPP, Java), checked on
crafted answers: the text extracted, the program compiling, and — where isolation is available — the program
passing in the sandbox."""

from __future__ import annotations

import pytest
from conftest import SHARED_DATA

from lingotune.data.code_benchmarks import load_code_problems
from lingotune.eval.code_exec.extraction import extract_code, fenced_blocks, truncate_at_stop
from lingotune.eval.code_exec.program import build_program, java_source, prompt_preamble
from lingotune.eval.code_exec.sandbox import Sandbox, SandboxUnavailableError

XL_PY = SHARED_DATA / "humaneval_xl_python" / "English.jsonl"
XL_JAVA = SHARED_DATA / "humaneval_xl_java" / "English.jsonl"
needs_data = pytest.mark.skipif(not XL_PY.exists(), reason="shared HumanEval-XL data")

UNIQUE = "def unique(l: list):\n    return sorted(list(set(l)))\n"

# Chat answers for HumanEval-XL python/10 (unique), in the shapes models produce.
ANSWERS = {
    "fence with prose around and example usage": (
        "Sure! Here is the implementation:\n\n```python\ndef unique(l: list):\n    \"\"\"Sorted unique.\"\"\"\n"
        "    return sorted(list(set(l)))\n\nprint(unique([5, 3, 5]))\nassert unique([1]) == [2]\n```\n\n"
        "This works because a set drops duplicates."),
    "no fence, prose before and after": (
        "Here's a solution:\n\ndef unique(l: list):\n    seen = set(l)\n\n    return sorted(seen)\n\n"
        "It runs in O(n log n) time."),
    "completion body": "    return sorted(list(set(l)))\n",
    "body flush left": "return sorted(set(l))",
    "prompt repeated in the fence": (
        "```python\n\n\ndef unique(l: list):\n    \"\"\"Return sorted unique elements in a list\n"
        "    >>> unique([5, 3, 5, 2, 3, 3, 9, 0, 123])\n    [0, 2, 3, 5, 9, 123]\n    \"\"\"\n"
        "    return sorted(list(set(l)))\n```"),
    "usage fence first, solution second": (
        "Call it like this:\n```python\nprint(unique([1, 1]))\n```\nand define it as:\n```py\n"
        "from typing import List\n\ndef unique(l: list) -> List[int]:\n    return sorted(set(l))\n```\n"),
    "unclosed fence (cut by max_new_tokens)": "```python\ndef unique(l):\n    return sorted(set(l))\n",
    "untagged fence and a main block reading stdin": (
        "```\nimport sys\n\ndef unique(l):\n    return sorted(set(l))\n\nif __name__ == '__main__':\n"
        "    print(unique(eval(sys.stdin.read())))\n```"),
    "helper function and a constant": (
        "```python\nSENTINEL = object()\n\ndef _dedupe(items):\n    return set(items)\n\n"
        "@staticmethod\ndef unused():\n    pass\n\ndef unique(l):\n    return sorted(_dedupe(l))\n```"),
}


@pytest.fixture(scope="module")
def unique_problem():
    if not XL_PY.exists():
        pytest.skip("shared HumanEval-XL data")
    return next(p for p in load_code_problems(XL_PY) if p.entry_point == "unique")


@pytest.fixture(scope="module")
def sandbox():
    try:
        return Sandbox()
    except SandboxUnavailableError as error:
        pytest.skip(str(error))


@pytest.mark.parametrize("shape", list(ANSWERS))
def test_extracted_answer_compiles_and_passes(shape, unique_problem, sandbox):
    code = extract_code(ANSWERS[shape], "python", "unique")
    assert "print(" not in code and "assert unique" not in code and "__main__" not in code
    assert "Sure" not in code and "It runs" not in code
    program = build_program(unique_problem, code, name=shape)
    compile(program.source, shape, "exec")
    result = sandbox.run(program)
    assert result.passed, (shape, code, result.stderr_tail)


def test_wrong_answer_fails(unique_problem, sandbox):
    code = extract_code("```python\ndef unique(l):\n    return l\n```", "python", "unique")
    assert sandbox.run(build_program(unique_problem, code)).status == "failed"


def test_extraction_details():
    assert fenced_blocks("a\n```Python\nx = 1\n```\nb\n~~~\ny\n~~~") == [("python", "x = 1\n"), ("", "y\n")]
    assert extract_code("no code at all") == "no code at all"
    # the answer's own example calls and asserts are dropped, the definitions kept with their comments
    code = extract_code("```python\nimport math\n\ndef f(x):\n    # square root\n    return math.sqrt(x)\n\nf(2)\n```",
                        entry_point="f")
    assert code == "import math\n\ndef f(x):\n    # square root\n    return math.sqrt(x)\n"
    # a syntax error is kept as is: the program must fail, not be repaired
    assert extract_code("```python\ndef f(x)\n    return x\n```", entry_point="f") == "def f(x)\n    return x\n"
    with pytest.raises(ValueError):
        extract_code("x", "cobol")


def test_truncate_at_stop_sequences():
    completion = "    return x\n\n\ndef other():\n    pass\nprint(1)"
    assert truncate_at_stop(completion) == "    return x\n\n"
    assert truncate_at_stop("    return x") == "    return x"
    assert truncate_at_stop("    if x:\n        return 1\nif True:", ("\nif",)) == "    if x:\n        return 1"


def test_python_assembly_follows_human_eval():
    prompt = "import math\n\n\ndef helper(x):\n    return x\n\n\ndef f(x):\n    \"\"\"doc\"\"\"\n"
    problem = _problem(prompt, "f", "def check(candidate):\n    assert candidate(4) == 2\n")
    body = build_program(problem, "    return math.sqrt(x)\n").source
    assert body == prompt + "    return math.sqrt(x)\n" + "\n" + problem.test + "\n\ncheck(f)\n"
    whole = build_program(problem, "def f(x):\n    return helper(math.sqrt(x))\n").source
    assert whole.startswith("import math\n\n\ndef helper(x):\n    return x\n\n\ndef f(x):\n    return helper(")
    assert prompt_preamble(prompt, "f") == "import math\n\n\ndef helper(x):\n    return x\n\n\n"


def test_mbpp_assembly(tmp_path):
    path = tmp_path / "mbpp.jsonl"
    path.write_text('{"task_id": 11, "text": "Add.", "code": "def add(a, b):\\r\\n\\treturn a + b", '
                    '"test_setup_code": "X = 1", "test_list": ["assert add(1, 2) == 3", "assert add(X, X) == 2"], '
                    '"challenge_test_list": []}\n')
    problem = load_code_problems(path)[0]
    assert problem.entry_point == "add" and problem.task_id == "MBPP/11"
    source = build_program(problem, problem.canonical_solution).source
    assert source == "def add(a, b):\r\n\treturn a + b\nX = 1\nassert add(1, 2) == 3\nassert add(X, X) == 2\n"


@pytest.mark.skipif(not XL_JAVA.exists(), reason="shared HumanEval-XL Java data")
@pytest.mark.parametrize("shape", ["body", "method", "class with imports", "method in a fence with prose"])
def test_java_solution_shapes(shape, sandbox):
    if "java" not in sandbox.runtimes:
        pytest.skip("no JDK")
    problem = next(p for p in load_code_problems(XL_JAVA) if p.entry_point == "belowZero")
    body = ("        int balance = 0;\n        for (Object op : operations) {\n            balance += (Integer) op;\n"
            "            if (balance < 0) { return true; }\n        }\n        return false;\n")
    method = f"    public static Boolean belowZero(List<Object> operations) {{\n{body}    }}\n"
    solution = {
        "body": body,  # closing braces of the method and the class are added
        "method": method,
        "class with imports": f"import java.util.*;\nimport java.util.stream.*;\n\nclass BelowZero {{\n{method}}}\n",
        "method in a fence with prose": extract_code(f"Here you go:\n```java\n{method}```\nDone.", "java", "belowZero"),
    }[shape]
    program = build_program(problem, solution)
    assert program.source.index("class Main") < program.source.index("class BelowZero")
    assert program.source.count("import java.util.*;") == 1
    result = sandbox.run(program)
    assert result.passed, (shape, program.source, result.stdout_tail, result.stderr_tail)


def test_java_imports_hoisted_and_main_first():
    main = "\n\nclass Main {\n    public static void main(String[] a) {}\n}\n"
    source = java_source("import java.util.*;\n\nclass A {\n    public static int f(int x) {\n",
                         "        return x; // }\n", main, "f")
    assert source.startswith("import java.util.*;\nclass Main {")
    assert source.rstrip().endswith("return x; // }\n}\n}".rstrip())  # braces in comments are not counted


def _problem(prompt: str, entry: str, test: str):
    from lingotune.data.code_benchmarks import CodeProblem

    return CodeProblem("t/0", "en", "python", prompt, entry, test, "", "", "humaneval", "humaneval")
