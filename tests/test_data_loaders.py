"""Loaders: every format on small real data, and malformed input that names the file and the record."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lingotune.core.errors import DataError
from lingotune.data.loaders import (
    check_language,
    detect_format,
    load_alpaca,
    load_examples,
    load_hf,
    load_messages,
    load_mt_bench,
    load_parallel,
    load_sharegpt,
    load_squad,
    normalize_language,
)
from lingotune.data.validate import format_errors, validate_file

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
QUICKSTART = REPO / "data" / "quickstart"


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
        encoding="utf-8",
    )
    return path


def raises_at(path: Path | str, where: str, *fragments: str, **load: object) -> DataError:
    """Load and expect a DataError whose message starts with ``path:where:`` and contains the fragments."""
    with pytest.raises(DataError) as caught:
        load_examples(path, **load)  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith(f"{path}:{where}: "), message
    for fragment in fragments:
        assert fragment in message, message
    return caught.value


# ------------------------------------------------------------------------------------------------ alpaca
ALPACA_ROWS = [
    {"instruction": "Traduce al inglés.", "input": "Hola mundo", "output": "Hello world", "id": "a1"},
    {"instruction": "Di hola.", "input": "", "output": "Hola."},
    {"instruction": "Be brief.", "output": "Ok.", "system": "You are terse.", "lang": "en"},
]


def test_alpaca_jsonl_and_json_list(tmp_path: Path) -> None:
    jsonl = load_alpaca(write_jsonl(tmp_path / "a.jsonl", ALPACA_ROWS), "es")
    (tmp_path / "a.json").write_text(json.dumps(ALPACA_ROWS), encoding="utf-8")
    as_list = load_alpaca(tmp_path / "a.json", "es")
    assert [e.messages for e in jsonl] == [e.messages for e in as_list]
    first, second, third = jsonl
    assert first.messages == [
        {"role": "user", "content": "Traduce al inglés.\n\nHola mundo"},
        {"role": "assistant", "content": "Hello world"},
    ]
    assert first.meta == {"index": 0, "line": 1, "id": "a1"} and first.source == str(tmp_path / "a.jsonl")
    assert second.messages[0]["content"] == "Di hola."
    assert third.messages[0] == {"role": "system", "content": "You are terse."}
    assert (first.language, third.language) == ("es", "en")  # a record's own "lang" wins
    assert as_list[2].meta == {"index": 2}  # a JSON list has record indices, not lines


def test_alpaca_errors_name_file_line_and_expectation(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "data.jsonl", [ALPACA_ROWS[0]] * 6 + [{"foo": 1}])
    raises_at(
        path,
        "7",
        'expected a JSON object with "instruction" and "output" (strings), got keys [\'foo\']',
        format="alpaca",
        language="es",
    )
    bad_json = write_jsonl(tmp_path / "bad.jsonl", [ALPACA_ROWS[0], '{"instruction": "x", "output": '])
    raises_at(bad_json, "2", "invalid JSON", format="alpaca", language="es")
    (tmp_path / "list.json").write_text(json.dumps([ALPACA_ROWS[0], {"instruction": 3, "output": "y"}]))
    raises_at(
        tmp_path / "list.json", "record 1", '"instruction" must be a string', format="alpaca", language="es"
    )
    (tmp_path / "broken.json").write_text('[\n {"instruction": "x",\n  "output": }\n]')
    raises_at(tmp_path / "broken.json", "3", "invalid JSON", format="alpaca", language="es")


def test_empty_missing_and_single_object_files(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("\n  \n")
    raises_at(tmp_path / "empty.jsonl", "file", "empty", format="alpaca", language="es")
    raises_at(tmp_path / "nope.jsonl", "file", "no such file", format="alpaca", language="es")
    (tmp_path / "none.json").write_text("[]")
    raises_at(tmp_path / "none.json", "file", "no records", format="alpaca", language="es")
    (tmp_path / "squad.json").write_text(json.dumps({"data": [], "version": "1.1"}, indent=2))
    raises_at(
        tmp_path / "squad.json",
        "file",
        "single JSON object",
        "format 'squad'",
        format="alpaca",
        language="es",
    )


# ---------------------------------------------------------------------------------- sharegpt / messages
def test_sharegpt(tmp_path: Path) -> None:
    rows = [
        {
            "conversations": [
                {"from": "system", "value": "Sé amable."},
                {"from": "human", "value": "Hola"},
                {"from": "gpt", "value": "¡Hola!"},
            ]
        }
    ]
    [example] = load_sharegpt(write_jsonl(tmp_path / "s.jsonl", rows), "es")
    assert [m["role"] for m in example.messages] == ["system", "user", "assistant"]
    bad = write_jsonl(tmp_path / "bad.jsonl", rows + [{"conversations": [{"from": "bot", "value": "x"}]}])
    raises_at(bad, "2", "conversations[0]", "'bot'", format="sharegpt", language="es")


def test_messages(tmp_path: Path) -> None:
    rows = [
        {
            "messages": [{"role": "user", "content": "Habari?"}, {"role": "assistant", "content": "Nzuri."}],
            "language": "sw",
        }
    ]
    [example] = load_messages(write_jsonl(tmp_path / "m.jsonl", rows), "und")
    assert example.language == "sw" and example.response == "Nzuri."
    bad_role = {"messages": [{"role": "tool", "content": "x"}]}
    late_system = {"messages": [{"role": "user", "content": "x"}, {"role": "system", "content": "y"}]}
    path = write_jsonl(tmp_path / "bad.jsonl", rows + [bad_role, late_system, {"messages": []}])
    raises_at(path, "2", "messages[0]", "'tool'", format="messages", language="sw")
    errors = validate_file(path, "messages")
    assert [e.where for e in errors] == ["2", "3", "4"]
    assert "may only come first" in errors[1].problem and "non-empty list" in errors[2].problem


# ------------------------------------------------------------------------------------------------- squad
def squad_doc() -> dict[str, object]:
    qa = {
        "id": "q1",
        "question": "¿Dónde?",
        "answers": [{"text": "aquí", "answer_start": 4}, {"text": "aquí mismo", "answer_start": 4}],
    }
    return {
        "version": "1.1",
        "data": [
            {"title": "A", "paragraphs": [{"context": "Está aquí mismo.", "qas": [qa, {**qa, "id": "q2"}]}]},
            {"title": "B", "paragraphs": [{"context": "Otro texto.", "qas": [{**qa, "id": "q3"}]}]},
        ],
    }


def test_squad_one_example_per_question(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text(json.dumps(squad_doc()), encoding="utf-8")
    examples = load_squad(tmp_path / "x.json", "es")
    assert [e.meta["id"] for e in examples] == ["q1", "q2", "q3"]
    first = examples[0]
    assert first.messages == [
        {"role": "user", "content": "¿Dónde?"},
        {"role": "assistant", "content": "aquí"},
    ]
    assert first.meta["answers"] == ["aquí", "aquí mismo"] and first.meta["answer_start"] == [4, 4]
    assert (first.meta["title"], first.meta["context"], examples[2].meta["article_index"]) == (
        "A",
        "Está aquí mismo.",
        1,
    )
    assert detect_format(tmp_path / "x.json") == "squad"


def test_squad_errors_point_into_the_structure(tmp_path: Path) -> None:
    doc = squad_doc()
    doc["data"][1]["paragraphs"][0]["qas"][0]["answers"] = []  # type: ignore[index]
    doc["data"].append({"paragraphs": []})  # type: ignore[attr-defined]
    (tmp_path / "x.json").write_text(json.dumps(doc))
    raises_at(
        tmp_path / "x.json",
        "data[1].paragraphs[0].qas[0]",
        '"answers" must be a non-empty list',
        format="squad",
        language="es",
    )
    errors = validate_file(tmp_path / "x.json", "squad")
    assert [e.where for e in errors] == ["data[1].paragraphs[0].qas[0]", "data[2]"]
    (tmp_path / "list.json").write_text("[1, 2]")
    raises_at(tmp_path / "list.json", "file", "SQuAD v1.1", format="squad", language="es")


def test_squad_fixture_is_parallel_across_languages() -> None:
    en = load_squad(QUICKSTART / "xquad" / "xquad.en.eval.json", "en")
    es = load_squad(QUICKSTART / "xquad" / "xquad.es.eval.json", "es")
    assert len(en) == len(es) == 241
    assert [e.meta["id"] for e in en] == [e.meta["id"] for e in es]
    assert {e.language for e in es} == {"es"}


# ---------------------------------------------------------------------------------------------- parallel
def test_parallel_two_files_tsv_and_pair(tmp_path: Path) -> None:
    (tmp_path / "src.txt").write_text("Hello.\r\nGood night.\r\n", encoding="utf-8")
    (tmp_path / "tgt.txt").write_text("Hujambo.\r\nUsiku mwema.\r\n", encoding="utf-8")
    (tmp_path / "pairs.tsv").write_text("Hello.\tHujambo.\nGood night.\tUsiku mwema.\n", encoding="utf-8")
    joined = load_parallel(f"{tmp_path / 'src.txt'}|{tmp_path / 'tgt.txt'}", "sw", source_language="en")
    paired = load_parallel((tmp_path / "src.txt", tmp_path / "tgt.txt"), "sw", source_language="en")
    tsv = load_parallel(tmp_path / "pairs.tsv", "sw", source_language="en")
    for examples in (joined, paired, tsv):
        assert [e.messages for e in examples] == [e.messages for e in tsv]
    second = tsv[1]
    assert second.messages == [
        {"role": "user", "content": "Good night."},
        {"role": "assistant", "content": "Usiku mwema."},
    ]
    assert second.meta == {
        "index": 1,
        "line": 2,
        "src": "Good night.",
        "tgt": "Usiku mwema.",
        "src_lang": "en",
        "tgt_lang": "sw",
    }
    assert second.language == "sw"


def test_parallel_errors(tmp_path: Path) -> None:
    (tmp_path / "src.txt").write_text("a\nb\nc\n")
    (tmp_path / "tgt.txt").write_text("x\ny\n")
    with pytest.raises(DataError) as caught:
        load_parallel((tmp_path / "src.txt", tmp_path / "tgt.txt"), "es")
    message = str(caught.value)
    assert str(tmp_path / "src.txt") in message and str(tmp_path / "tgt.txt") in message
    assert "has 3 lines" in message and "has 2" in message
    (tmp_path / "p.tsv").write_text("a\tb\nonly one column\na\tb\tc\nd\t \n")
    raises_at(
        tmp_path / "p.tsv", "2", "expected 2 tab-separated columns", "got 1", format="parallel", language="es"
    )
    assert [e.where for e in validate_file(tmp_path / "p.tsv", "parallel")] == ["2", "3", "4"]


def test_parallel_fixture() -> None:
    train = load_parallel(QUICKSTART / "ntrex" / "ntrex.en-es.train.tsv", "es", source_language="en")
    evaluation = load_examples(
        QUICKSTART / "ntrex" / "ntrex.en-es.eval.tsv", "auto", "es", source_language="en"
    )
    assert (len(train), len(evaluation)) == (900, 100)
    src = SHARED / "ntrex128" / "newstest2019-src.eng.first1000.txt"
    if src.exists():
        assert evaluation[0].meta["src"] == src.read_text("utf-8").split("\n")[900].strip()


# ---------------------------------------------------------------------------------------------- mt_bench
def test_mt_bench_fixture_and_errors(tmp_path: Path) -> None:
    examples = load_mt_bench(QUICKSTART / "mt_bench_x" / "question.es.jsonl", "es")
    assert len(examples) == 80
    first = examples[0]
    assert (
        first.meta["id"] == "81_ES" and first.meta["category"] == "writing" and len(first.meta["turns"]) == 2
    )
    assert first.messages == [{"role": "user", "content": first.meta["turns"][0]}] and first.response is None
    path = write_jsonl(tmp_path / "q.jsonl", [{"question_id": 1, "category": "math", "turns": []}])
    raises_at(path, "1", '"turns" must be a non-empty list', format="mt_bench", language="es")


# ---------------------------------------------------------------------------------------------------- hf
def test_hf_saved_dataset_parquet_and_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = pytest.importorskip("datasets")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    rows = [
        {"instruction": "Sema jambo.", "input": None, "output": "Jambo."},
        {"instruction": "Hesabu.", "input": "1, 2", "output": "3"},
    ]
    data = datasets.Dataset.from_list(rows)
    datasets.DatasetDict({"train": data, "test": data.select([0])}).save_to_disk(str(tmp_path / "saved"))
    data.to_parquet(str(tmp_path / "rows.parquet"))
    write_jsonl(tmp_path / "rows.jsonl", rows)
    saved = load_hf(tmp_path / "saved", "sw")
    assert [e.messages[0]["content"] for e in saved] == ["Sema jambo.", "Hesabu.\n\n1, 2"]
    assert len(load_hf(tmp_path / "saved", "sw", split="test")) == 1
    assert [e.messages for e in load_hf(tmp_path / "rows.parquet", "sw")] == [e.messages for e in saved]
    assert [e.messages for e in load_hf(tmp_path / "rows.jsonl", "sw")] == [e.messages for e in saved]
    assert detect_format(tmp_path / "saved") == "hf"
    with pytest.raises(DataError, match="no split 'dev'"):
        load_hf(tmp_path / "saved", "sw", split="dev")
    datasets.Dataset.from_list([{"text": "x"}]).save_to_disk(str(tmp_path / "plain"))
    with pytest.raises(DataError, match=r"cannot interpret columns \['text'\]"):
        load_hf(tmp_path / "plain", "sw")
    broken = datasets.Dataset.from_list([{"messages": [{"role": "robot", "content": "x"}]}])
    broken.save_to_disk(str(tmp_path / "broken"))
    raises_at(tmp_path / "broken", "row 0", "'robot'", format="hf", language="sw")


# ------------------------------------------------------------------------------------ auto and languages
def test_auto_detects_each_fixture() -> None:
    expected = {
        "xquad/xquad.es.train.json": "squad",
        "ntrex/ntrex.en-es.eval.tsv": "parallel",
        "instructions_en/self_instruct.alpaca.jsonl": "alpaca",
        "mt_bench_x/question.en.jsonl": "mt_bench",
    }
    for name, fmt in expected.items():
        assert detect_format(QUICKSTART / name) == fmt
    replay = load_examples(QUICKSTART / "instructions_en" / "self_instruct.alpaca.jsonl", "auto", "en")
    assert len(replay) == 427 and replay[0].meta["id"] == "seed_task_0"


def test_auto_refuses_unknown_records(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "x.jsonl", [{"text": "hello"}])
    raises_at(path, "file", "cannot tell the format", "keys ['text']", format="auto", language="en")


@pytest.mark.parametrize(
    "code, expected",
    [
        ("es", "es"),
        ("fil", "fil"),
        ("zh-hans", "zh-Hans"),
        ("pt_BR", "pt-BR"),
        ("es-419", "es-419"),
        ("sr-Latn-RS", "sr-Latn-RS"),
        ("und", "und"),
    ],
)
def test_any_language_code_is_accepted(code: str, expected: str) -> None:
    assert normalize_language(code) == expected


@pytest.mark.parametrize("code", ["English", "e", "español", "", "en-"])
def test_bad_language_codes_are_refused(code: str, tmp_path: Path) -> None:
    assert normalize_language(code) is None
    path = write_jsonl(tmp_path / "a.jsonl", ALPACA_ROWS[:1])
    with pytest.raises(DataError, match="not a language code"):
        load_alpaca(path, code)
    with pytest.raises(DataError, match="language"):
        check_language(code, "x", "language")


def test_bad_record_language_points_at_the_record(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [ALPACA_ROWS[0], {**ALPACA_ROWS[0], "language": "Spanish"}])
    raises_at(path, "2", "\"language\" is 'Spanish'", format="alpaca", language="es")


# -------------------------------------------------------------------------------------------- validation
def test_validate_collects_every_bad_record(tmp_path: Path) -> None:
    rows = [
        ALPACA_ROWS[0],
        {"foo": 1},
        ALPACA_ROWS[1],
        "{not json",
        {"instruction": "", "output": "x"},
        ALPACA_ROWS[2],
    ]
    path = write_jsonl(tmp_path / "data.jsonl", rows)
    errors = validate_file(path, "alpaca")
    assert [e.where for e in errors] == ["2", "4", "5"]
    assert all(e.path == str(path) for e in errors)
    assert "invalid JSON" in errors[1].problem and '"instruction" is empty' in errors[2].problem
    assert format_errors(errors, limit=2).endswith("... and 1 more problems")
    assert validate_file(QUICKSTART / "xquad" / "xquad.en.train.json", "squad") == []
    assert len(validate_file(tmp_path / "missing.jsonl", "alpaca")) == 1


def test_fixture_script_is_deterministic(tmp_path: Path) -> None:
    if not (SHARED / "xquad" / "xquad.en.json").exists():
        pytest.skip("shared data not available")
    script = REPO / "scripts" / "make_quickstart_fixtures.py"
    subprocess.run(
        [sys.executable, str(script), "--shared", str(SHARED), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    committed = sorted(p.relative_to(QUICKSTART) for p in QUICKSTART.rglob("*") if p.is_file())
    assert made == committed
    for name in made:
        assert (tmp_path / name).read_bytes() == (QUICKSTART / name).read_bytes(), name
