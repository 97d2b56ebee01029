"""Loaders of the NL→code benchmarks: the shared files (HumanEval-XL Python and Java, mHumanEval, MBPP and its
splits), the original HumanEval format (also gzipped), any file name, and errors that say file and line."""

from __future__ import annotations

import gzip
import json
import shutil

import pytest
from conftest import SHARED_DATA

from lingotune.core.errors import DataError
from lingotune.data.code_benchmarks import MBPP_SPLITS, load_code_problems, load_mbpp

XL_PY = SHARED_DATA / "humaneval_xl_python"
XL_JAVA = SHARED_DATA / "humaneval_xl_java"
MHE = SHARED_DATA / "mhumaneval_expert_python"
MBPP = SHARED_DATA / "mbpp" / "mbpp.jsonl"
needs_data = pytest.mark.skipif(not (XL_PY.exists() and MHE.exists() and MBPP.exists()), reason="shared code data")

RECORD = {"task_id": "HumanEval/0", "prompt": "def f(x):\n    \"\"\"Double x.\"\"\"\n", "entry_point": "f",
          "canonical_solution": "    return 2 * x\n", "test": "def check(candidate):\n    assert candidate(2) == 4\n"}


@needs_data
def test_humaneval_xl_python_and_java():
    for folder, language in ((XL_PY, "python"), (XL_JAVA, "java")):
        by_language = {path.stem: load_code_problems(path) for path in sorted(folder.glob("*.jsonl"))}
        assert {stem: problems[0].natural_language for stem, problems in by_language.items()} == {
            "Arabic": "ar", "Chinese": "zh", "English": "en", "German": "de", "Spanish": "es"}
        for problems in by_language.values():
            assert len(problems) == 80 and {p.programming_language for p in problems} == {language}
            assert all(p.benchmark == "humaneval-xl" and p.format == "humaneval" and p.description for p in problems)
        ids = [[p.task_id for p in problems] for problems in by_language.values()]
        assert all(i == ids[0] for i in ids)  # parallel across natural languages
    java = load_code_problems(XL_JAVA / "German.jsonl")
    assert {p.canonical_solution for p in java} == {""}  # upstream has "nan" / null: no Java reference solutions
    assert java[0].entry_point == "belowZero" and "class Main" in java[0].test


@needs_data
def test_mhumaneval_ids_entry_points_and_flores_codes():
    problems = load_code_problems(MHE / "Human_Expert_hin_Deva.jsonl")
    assert len(problems) == 164 and problems[0].task_id == "HumanEval/0" and problems[163].task_id == "HumanEval/163"
    assert {p.natural_language for p in problems} == {"hi"} and problems[0].language_label == "hin_Deva"
    assert problems[0].entry_point == "has_close_elements" and problems[38].entry_point == "decode_cyclic"
    assert problems[0].canonical_solution.startswith("    for idx")  # upstream lost the body's indentation
    assert "threshold" not in problems[0].description and problems[0].description  # the Hindi docstring
    assert {p.natural_language for p in load_code_problems(MHE / "Human_Expert_swh_Latn.jsonl")} == {"sw"}


@needs_data
def test_mbpp_splits():
    sizes = {split: len(load_mbpp(MBPP, split)) for split in MBPP_SPLITS}
    assert sizes == {"prompt": 10, "test": 500, "train": 464, "validation": 90, "train_upstream": 374, "all": 974}
    test = load_mbpp(MBPP)
    assert test[0].task_id == "MBPP/11" and test[-1].task_id == "MBPP/510"
    every = load_mbpp(MBPP, "all")
    assert all(p.entry_point for p in every) and every[0].entry_point == "min_cost"
    assert every[0].description.startswith("Write a function to find the minimum cost path")
    assert len(every[0].test_list) == 3 and every[0].natural_language == "en"


def test_original_humaneval_format_plain_and_gzipped(tmp_path):
    plain = tmp_path / "HumanEval.jsonl"
    plain.write_text(json.dumps(RECORD) + "\n")
    packed = tmp_path / "HumanEval.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    for path in (plain, packed):
        (problem,) = load_code_problems(path)
        assert (problem.benchmark, problem.natural_language, problem.entry_point) == ("humaneval", "en", "f")
        assert problem.description == "Double x."
    assert load_code_problems(plain, natural_language="de")[0].natural_language == "de"


@needs_data
def test_any_file_name(tmp_path):
    odd = tmp_path / "my problems (v2).data"
    shutil.copy(XL_PY / "Chinese.jsonl", odd)
    assert load_code_problems(odd)[0].natural_language == "zh"
    assert load_code_problems(odd, natural_language="yue")[0].natural_language == "yue"


@pytest.mark.parametrize(("lines", "message"), [
    (["{bad json"], ":1: invalid JSON"),
    ([json.dumps(RECORD), json.dumps({k: v for k, v in RECORD.items() if k != "entry_point"})],
     ":2: humaneval record without 'entry_point'"),
    ([json.dumps({**RECORD, "test": 42})], ":1: field 'test' must be a string, got a number (42)"),
    ([json.dumps({**RECORD, "test": "assert f(1) == 2"})], ":1: field 'test' defines no check(candidate) function"),
    ([json.dumps({"question": "?"})], ":1: not a known code benchmark record"),
    (["[1, 2]"], "expected a JSON object"),
    ([json.dumps({"task_id": 11, "text": "t", "code": "def g(): pass", "test_list": "assert g()"})],
     ":1: field 'test_list' must be a non-empty list of assert strings"),
    ([json.dumps({"task_id": "11", "text": "t", "code": "def g(): pass", "test_list": ["assert g()"]})],
     ":1: field 'task_id' must be an integer"),
    ([json.dumps({"nl": "xx_Yyyy", "pl": "python", "prompt": "x = 1\n", "test": "def check(c): pass"})],
     ":1: the prompt defines no function"),
    ([json.dumps({**RECORD, "natural_language": "Klingon", "task_id": "python/0"})],
     ":1: unknown natural language 'Klingon'"),
    ([json.dumps({**RECORD, "natural_language": "English", "language": "cobol", "task_id": "cobol/0"})],
     ":1: programming language 'cobol'"),
])
def test_malformed_records_say_file_and_line(tmp_path, lines, message):
    path = tmp_path / "problems.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as error:
        load_code_problems(path)
    assert str(error.value).startswith(str(path)) and message in str(error.value)


def test_file_level_errors(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(DataError, match="empty"):
        load_code_problems(empty)
    good = tmp_path / "he.jsonl"
    good.write_text(json.dumps(RECORD) + "\n")
    with pytest.raises(DataError, match="split='test' applies to MBPP files only"):
        load_code_problems(good, split="test")
    with pytest.raises(DataError, match="unknown MBPP split"):
        load_code_problems(good, split="dev")
    with pytest.raises(DataError, match="unknown code benchmark"):
        load_code_problems(good, "apps")
    with pytest.raises(DataError, match="no such file"):
        load_code_problems(tmp_path / "missing.jsonl")
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(b"not gzip")
    with pytest.raises(DataError, match="gzip"):
        load_code_problems(broken)
