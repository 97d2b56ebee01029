"""CrossAlpaca's translated XQuAD/MLQA CSVs (localised column names) and MLQA's SQuAD JSON, built from the
quickstart's real XQuAD-es questions, must load into the very Examples the SQuAD file gives."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from lingotune.core.errors import DataError, RecipeError
from lingotune.data.example import Example
from lingotune.data.loaders import collect_examples, detect_format, load_alpaca, load_examples, load_squad
from lingotune.data.validate import validate_file
from lingotune.plan import load_recipe

REPO = Path(__file__).resolve().parent.parent
XQUAD_ES = REPO / "data" / "quickstart" / "xquad" / "xquad.es.eval.json"
N = 20
LOCAL = ["id", "contexto", "pregunta", "respuestas"]
MAPPING = {"context": "contexto", "question": "pregunta", "answers": "respuestas"}


@pytest.fixture(scope="module")
def squad() -> list[Example]:
    """The first questions of the real file, spread over several paragraphs."""
    examples = load_squad(XQUAD_ES, "es")[:N]
    assert len({e.meta["context"] for e in examples}) > 1
    return examples


def crossalpaca_rows(examples: list[Example]) -> list[list[str]]:
    """CrossAlpaca's layout: the answers cell is ``str()`` of the Hugging Face answers dict."""
    return [
        [
            e.meta["id"],
            e.meta["context"],
            e.meta["question"],
            str({"text": e.meta["answers"], "answer_start": e.meta["answer_start"]}),
        ]
        for e in examples
    ]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)  # minimal quoting, as pandas' to_csv: contexts are full of commas
        writer.writerow(header)
        writer.writerows(rows)
    return path


def qa_fields(examples: list[Example]) -> list[tuple[Any, ...]]:
    keys = ("id", "context", "question", "answers", "answer_start")
    return [(*(e.meta[k] for k in keys), e.messages, e.language) for e in examples]


def raises_at(path: Path, where: str, *fragments: str, **load: Any) -> DataError:
    with pytest.raises(DataError) as caught:
        load_examples(path, **load)
    message = str(caught.value)
    assert message.startswith(f"{path}:{where}: "), message
    for fragment in fragments:
        assert fragment in message, message
    return caught.value


# ----------------------------------------------------------------------------------------- QA csv files
def test_canonical_csv_equals_squad(squad: list[Example], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "xquad_ES.csv", ["id", "context", "question", "answers"], crossalpaca_rows(squad))
    assert any("," in e.meta["context"] for e in squad)
    assert detect_format(path) == "csv"
    for fmt in ("csv", "auto"):
        loaded = load_examples(path, fmt, "es")
        assert qa_fields(loaded) == qa_fields(squad)
    assert [e.meta["line"] for e in loaded] == list(range(2, N + 2))  # a row is its line, after the header


def test_localised_headers_need_and_take_the_mapping(squad: list[Example], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "xquad_ES.csv", LOCAL, crossalpaca_rows(squad))
    loaded = load_examples(path, "csv", "es", columns=MAPPING)
    assert qa_fields(loaded) == qa_fields(squad)
    assert qa_fields(load_examples(path, "auto", "es", columns=MAPPING)) == qa_fields(squad)
    assert validate_file(path, "csv", columns=MAPPING) == []
    error = raises_at(path, "file", "no context, question and answers columns", "columns:", format="csv", language="es")
    assert "contexto" in error.problem  # the header it did find


def test_header_case_is_ignored_and_a_partial_mapping_keeps_the_rest(squad: list[Example], tmp_path: Path) -> None:
    upper = write_csv(tmp_path / "upper.csv", ["ID", "Context", "Question", "Answers"], crossalpaca_rows(squad))
    assert qa_fields(load_examples(upper, "csv", "es")) == qa_fields(squad)
    mixed = write_csv(tmp_path / "mixed.csv", ["ID", "contexto", "Question", "answers"], crossalpaca_rows(squad))
    assert qa_fields(load_examples(mixed, "csv", "es", columns={"context": "contexto"})) == qa_fields(squad)
    partly = write_csv(tmp_path / "partly.csv", ["id", "context", "pregunta", "answers"], crossalpaca_rows(squad))
    raises_at(partly, "file", "it has context, answers but no question", format="csv", language="es")


def test_answers_cell_forms(tmp_path: Path) -> None:
    context = "Los Panthers dejaron escapar 308 puntos, el sexto lugar de la liga."
    cells = [
        "{'text': ['308'], 'answer_start': [29]}",  # CrossAlpaca
        '{"text": ["308"], "answer_start": [29]}',  # JSON object
        '[{"text": "308", "answer_start": 29}]',  # JSON list of SQuAD answers
        "{'text': array(['308'], dtype=object), 'answer_start': array([29], dtype=int32)}",  # pandas/numpy
        "308",  # the text alone: found in the context
        "['308', 'sexto lugar']",  # texts alone
        "trescientos ocho",  # not in the context
    ]
    path = write_csv(
        tmp_path / "a.csv",
        ["id", "context", "question", "answers"],
        [[f"q{i}", context, "¿Cuántos?", cell] for i, cell in enumerate(cells)],
    )
    got = [(e.meta["answers"], e.meta["answer_start"]) for e in load_examples(path, "csv", "es")]
    assert got == [(["308"], [29])] * 5 + [(["308", "sexto lugar"], [29, 44]), (["trescientos ocho"], [-1])]
    bad = write_csv(
        tmp_path / "bad.csv",
        ["id", "context", "question", "answers"],
        [
            ["q0", context, "?", cells[0]],
            ["q1", context, "?", "{'text': ['308'], 'answer_start': "],
            ["q2", context, "?", "{'text': ['308', 'x'], 'answer_start': [29]}"],
            ["q3", context, "?", "{'text': [__import__('os').getcwd()], 'answer_start': [0]}"],
            ["q4", context, "?", ""],
        ],
    )
    examples, errors = collect_examples(bad, "csv", "es")
    assert [e.meta["id"] for e in examples] == ["q0"] and [e.where for e in errors] == ["3", "4", "5", "6"]
    assert "neither JSON nor a Python literal" in errors[0].problem
    assert "2 texts but answer_start is a list of 1 items" in errors[1].problem
    assert "neither JSON nor a Python literal" in errors[2].problem  # literal_eval runs no call
    assert '"answers" is empty' in errors[3].problem


def test_malformed_row_names_its_line(squad: list[Example], tmp_path: Path) -> None:
    rows = crossalpaca_rows(squad[:3])
    rows[0][1] += "\n\nSegundo párrafo, con comas."  # a quoted cell over three lines: the next row starts on 5
    rows.insert(2, ["solo", "dos celdas"])
    path = write_csv(tmp_path / "m.csv", LOCAL, rows)
    raises_at(path, "6", "expected 4 comma-separated cells", "got 2", format="csv", language="es", columns=MAPPING)
    examples, errors = collect_examples(path, "csv", "es", columns=MAPPING)
    assert [e.meta["line"] for e in examples] == [2, 5, 7] and [e.where for e in errors] == ["6"]
    assert examples[0].meta["context"].endswith("\n\nSegundo párrafo, con comas.")
    unclosed = tmp_path / "u.csv"
    unclosed.write_text(path.read_text("utf-8") + 'q9,"sin cerrar,pregunta,308\n', encoding="utf-8")
    assert [e.where for e in validate_file(unclosed, "csv", columns=MAPPING)] == ["6", "8"]
    header_only = write_csv(tmp_path / "h.csv", LOCAL, [])
    raises_at(header_only, "file", "no records", format="csv", language="es", columns=MAPPING)


def test_mapping_to_a_missing_column_names_the_files_columns(squad: list[Example], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "x.csv", LOCAL, crossalpaca_rows(squad[:2]))
    raises_at(
        path,
        "file",
        "columns maps question: domanda",
        "its columns are id, contexto, pregunta, respuestas",
        format="csv",
        language="es",
        columns={**MAPPING, "question": "domanda"},
    )
    raises_at(
        path,
        "columns",
        "unknown column name(s) ['contexts']",
        format="csv",
        language="es",
        columns={"contexts": "contexto"},
    )
    (tmp_path / "x.json").write_text(json.dumps({"data": []}), encoding="utf-8")
    raises_at(tmp_path / "x.json", "columns", "fixed layout", format="squad", language="es", columns=MAPPING)
    raises_at(path, "format", "use 'csv'", format="alpaca", language="es")


# ------------------------------------------------------------------------------------- alpaca csv/jsonl
ALPACA = [
    {"instruction": "Traduce al inglés.", "input": "Hola mundo", "output": "Hello world", "id": "a1"},
    {"instruction": "Di hola.", "output": "Hola.", "lang": "en"},
]
LOCAL_KEYS = {"instruction": "instrucción", "input": "entrada", "output": "salida", "lang": "idioma"}


def test_jsonl_with_localised_keys_and_mapping(tmp_path: Path) -> None:
    canonical = tmp_path / "a.jsonl"
    canonical.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ALPACA), encoding="utf-8")
    renamed = [{LOCAL_KEYS.get(k, k): v for k, v in r.items()} for r in ALPACA]
    local = tmp_path / "l.jsonl"
    local.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in renamed), encoding="utf-8")
    expected = [(e.messages, e.language, e.meta) for e in load_alpaca(canonical, "es")]
    for fmt in ("alpaca", "auto"):
        loaded = load_examples(local, fmt, "es", columns=LOCAL_KEYS)
        assert [(e.messages, e.language, e.meta) for e in loaded] == expected
    (tmp_path / "l.json").write_text(json.dumps(renamed, ensure_ascii=False), encoding="utf-8")
    assert len(load_examples(tmp_path / "l.json", "alpaca", "es", columns=LOCAL_KEYS)) == 2
    raises_at(
        local,
        "file",
        "columns maps output: respuesta",
        "its keys are entrada, id, idioma, instrucción, salida",
        format="alpaca",
        language="es",
        columns={**LOCAL_KEYS, "output": "respuesta"},
    )


def test_csv_alpaca(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "a.csv",
        ["ID", "Instruction", "Input", "Output", "Lang"],
        [[r.get("id", ""), r["instruction"], r.get("input", ""), r["output"], r.get("lang", "")] for r in ALPACA],
    )
    canonical = tmp_path / "a.jsonl"
    canonical.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ALPACA), encoding="utf-8")
    # The same Examples, one line further down: the header is line 1.
    expected = [(e.messages, e.language, {**e.meta, "line": e.meta["line"] + 1}) for e in load_alpaca(canonical, "es")]
    assert [(e.messages, e.language, e.meta) for e in load_examples(path, "auto", "es")] == expected


def test_hf_dataset_with_localised_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = pytest.importorskip("datasets")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    rows = [{"instrucción": r["instruction"], "entrada": r.get("input", ""), "salida": r["output"]} for r in ALPACA]
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "saved"))
    columns = {k: v for k, v in LOCAL_KEYS.items() if k != "lang"}
    loaded = load_examples(tmp_path / "saved", "hf", "es", columns=columns)
    assert [e.messages[0]["content"] for e in loaded] == ["Traduce al inglés.\n\nHola mundo", "Di hola."]
    raises_at(
        tmp_path / "saved",
        "file",
        "its columns are instrucción, entrada, salida",
        format="hf",
        language="es",
        columns=LOCAL_KEYS,
    )


# ------------------------------------------------------------------------------------------------- MLQA
def test_mlqa_shaped_squad_json(squad: list[Example], tmp_path: Path) -> None:
    """MLQA ships SQuAD v1.1 JSON (``dev-context-es-question-es.json``, version "1.0"): the squad format."""
    paragraphs: dict[str, list[dict[str, Any]]] = {}
    for e in squad:
        paragraphs.setdefault(e.meta["context"], []).append(
            {
                "answers": [
                    {"answer_start": s, "text": t}
                    for t, s in zip(e.meta["answers"], e.meta["answer_start"], strict=True)
                ],
                "question": e.meta["question"],
                "id": e.meta["id"],
            }
        )
    doc = {
        "data": [{"title": "mlqa", "paragraphs": [{"context": c, "qas": q} for c, q in paragraphs.items()]}],
        "version": "1.0",
    }
    path = tmp_path / "dev-context-es-question-es.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    assert detect_format(path) == "squad"
    for fmt in ("squad", "auto"):
        assert qa_fields(load_examples(path, fmt, "es")) == qa_fields(squad)


# ----------------------------------------------------------------------------------------------- recipes
RECIPE = """name: x
language: es
data:
  sources:
    - name: xquad_it
      path: xquad_ES.csv
      format: csv
      language: es
      builder: extractive_qa
      {key}: {{context: contexto, question: pregunta, answers: respuestas}}
eval:
  tasks:
    - name: xquad_it
      kind: qa
      path: xquad_ES.csv
      format: csv
      language: es
      {key}: {{context: contexto, question: pregunta, answers: respuestas}}
"""


def test_recipe_columns_are_validated(squad: list[Example], tmp_path: Path) -> None:
    write_csv(tmp_path / "xquad_ES.csv", LOCAL, crossalpaca_rows(squad))
    recipe_path = tmp_path / "recipe.yaml"
    recipe_path.write_text(RECIPE.format(key="columns"), encoding="utf-8")
    recipe = load_recipe(recipe_path)
    source, task = recipe.data.sources[0], recipe.eval.tasks[0]
    assert source.columns == task.columns == MAPPING
    for spec in (source, task):
        loaded = load_examples(spec.path, spec.format, spec.language, columns=spec.columns)
        assert qa_fields(loaded) == qa_fields(squad)
    recipe_path.write_text(RECIPE.format(key="colums"), encoding="utf-8")
    with pytest.raises(RecipeError) as caught:
        load_recipe(recipe_path)
    assert "unknown key 'data.sources.0.colums'" in str(caught.value)
    assert "unknown key 'eval.tasks.0.colums'" in str(caught.value)
    recipe_path.write_text(RECIPE.format(key="columns").replace("{context:", "{contxt:", 1), encoding="utf-8")
    with pytest.raises(RecipeError, match=r"recipe.yaml:10: data.sources.0.columns: .*unknown column name"):
        load_recipe(recipe_path)
