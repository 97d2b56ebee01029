"""Turn every supported data format into a list of :class:`Example`.

A format is a *reader* (file → raw records, each knowing where it came from) plus a *parser* (one raw
record → one Example, or a DataError naming that record). :func:`load_examples` stops at the first bad
record; :func:`collect_examples` runs the very same readers and parsers but keeps going, so that
``validate_file`` can list every problem of a file in one pass instead of one per run.

Where an error points: JSONL, TSV and text files give the 1-based line number, a CSV file the line its
row starts on (a quoted cell may span lines), a JSON list gives ``record i``, SQuAD gives
``data[i].paragraphs[j].qas[k]``, a Hugging Face dataset gives ``row i`` and a problem with the whole
file gives ``file``.

Files whose column names (or JSON keys) are localised, as in CrossAlpaca's translated XQuAD/MLQA CSVs
(``id,contesto,domanda,risposte``), are read through a ``columns`` mapping from the canonical names to
the file's own; it renames each record before the parser sees it, so every parser stays as it is.
"""

from __future__ import annotations

import ast
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lingotune.core.errors import DataError
from lingotune.core.schema import COLUMN_NAMES, check_columns
from lingotune.data.example import ROLES, Example
from lingotune.data.readers import (
    RawRecord,
    csv_rows,
    describe,
    first_record,
    hf_rows,
    json_records,
    parallel_records,
    squad_records,
)
from lingotune.language.codes import normalize_language

PathLike = str | os.PathLike[str]
DataPath = PathLike | tuple[PathLike, PathLike] | list[PathLike]

FORMATS = ("alpaca", "sharegpt", "messages", "squad", "parallel", "hf", "mt_bench", "csv", "auto")
Columns = Mapping[str, str] | None

# Language subtag, then an optional script (Hans, Latn) and an optional region (BR, 419).
_LANGUAGE_HINT = ("expected an ISO 639-1/-3 code such as 'es' or 'fil', optionally with a script or region: "
                  "'zh-Hans', 'pt-BR'")


@dataclass(frozen=True)
class Options:
    """What a parser needs besides the record: the languages the caller declared and the source name."""

    language: str
    source: str
    source_language: str | None = None


Parser = Callable[[RawRecord, Options], Example]


# --------------------------------------------------------------------------------------------- languages
def check_language(code: Any, path: str, where: str) -> str:
    normalized = normalize_language(code) if isinstance(code, str) else None
    if normalized is None:
        raise DataError(path, where, f"{code!r} is not a language code; {_LANGUAGE_HINT}")
    return normalized


def _language(rec: RawRecord, record: dict[str, Any], opts: Options) -> str:
    """A record's own "language"/"lang" field wins: mixed-language files label each row."""
    for key in ("language", "lang"):
        if record.get(key) is not None:
            own = normalize_language(record[key]) if isinstance(record[key], str) else None
            if own is None:
                raise rec.fail(f'"{key}" is {record[key]!r}, not a language code; {_LANGUAGE_HINT}')
            return own
    return opts.language


def _meta(rec: RawRecord, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"index": rec.index}
    if rec.line is not None:
        meta["line"] = rec.line
    meta.update(extra)
    return meta


# ----------------------------------------------------------------------------------------------- parsers
def _record(rec: RawRecord, expected: str, required: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(rec.value, dict) or any(key not in rec.value for key in required):
        raise rec.fail(f"expected {expected}, got {describe(rec.value)}")
    return rec.value


def _text(rec: RawRecord, record: dict[str, Any], key: str, *, required: bool = True,
          nonempty: bool | None = None) -> str:
    """A string field; an absent or null optional field reads as empty, a required one must have text.

    ``nonempty=False`` lets a required field be blank: real Alpaca dumps have rows with an empty
    output, and refusing the whole file for them would help nobody (builders can drop such rows).
    """
    value = record.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise rec.fail(f'"{key}" must be a string, got {describe(value)}')
    if (required if nonempty is None else nonempty) and not value.strip():
        raise rec.fail(f'"{key}" is empty')
    return value


def _check_messages(rec: RawRecord, messages: Any, key: str) -> list[dict[str, str]]:
    """The chat rules every conversation format shares, so a chat template never sees a broken turn list."""
    if not isinstance(messages, list) or not messages:
        raise rec.fail(f'"{key}" must be a non-empty list of messages, got {describe(messages)}')
    checked = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            expected = '{"role": ..., "content": <string>}'
            raise rec.fail(f"{key}[{i}]: expected {expected}, got {describe(message)}")
        role = message.get("role")
        if role not in ROLES:
            raise rec.fail(f"{key}[{i}]: role {role!r} is not one of {', '.join(ROLES)}")
        if role == "system" and i != 0:
            raise rec.fail(f"{key}[{i}]: a system message may only come first")
        checked.append({"role": role, "content": message["content"]})
    if not any(m["role"] == "user" for m in checked):
        raise rec.fail(f'"{key}" has no user message')
    return checked


def _id(record: dict[str, Any], *keys: str) -> dict[str, Any]:
    return next(({"id": record[k]} for k in keys if record.get(k) is not None), {})


def parse_alpaca(rec: RawRecord, opts: Options) -> Example:
    expected = 'a JSON object with "instruction" and "output" (strings)'
    record = _record(rec, expected, ("instruction", "output"))
    instruction, output = _text(rec, record, "instruction"), _text(rec, record, "output", nonempty=False)
    extra, system = _text(rec, record, "input", required=False), _text(rec, record, "system", required=False)
    user = f"{instruction}\n\n{extra}" if extra.strip() else instruction
    messages = [{"role": "system", "content": system}] if system.strip() else []
    messages += [{"role": "user", "content": user}, {"role": "assistant", "content": output}]
    return Example(messages, _language(rec, record, opts), opts.source, _meta(rec, **_id(record, "id")))


_SHAREGPT_ROLES = {
    "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system",
}


def parse_sharegpt(rec: RawRecord, opts: Options) -> Example:
    record = _record(rec, 'a JSON object with "conversations": [{"from", "value"}, ...]', ("conversations",))
    turns = record["conversations"]
    if not isinstance(turns, list):
        raise rec.fail(f'"conversations" must be a list of {{"from", "value"}}, got {describe(turns)}')
    messages = []
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict) or not isinstance(turn.get("value"), str):
            expected = '{"from": ..., "value": <string>}'
            raise rec.fail(f"conversations[{i}]: expected {expected}, got {describe(turn)}")
        if turn.get("from") not in _SHAREGPT_ROLES:
            found = turn.get("from")
            raise rec.fail(f'conversations[{i}]: "from" is {found!r}, expected human, gpt or system')
        messages.append({"role": _SHAREGPT_ROLES[turn["from"]], "content": turn["value"]})
    system = _text(rec, record, "system", required=False)
    if system.strip():
        messages.insert(0, {"role": "system", "content": system})
    messages = _check_messages(rec, messages, "conversations")
    return Example(messages, _language(rec, record, opts), opts.source, _meta(rec, **_id(record, "id")))


def parse_messages(rec: RawRecord, opts: Options) -> Example:
    record = _record(rec, 'a JSON object with "messages": [{"role", "content"}, ...]', ("messages",))
    messages = _check_messages(rec, record["messages"], "messages")
    return Example(messages, _language(rec, record, opts), opts.source, _meta(rec, **_id(record, "id")))


def parse_squad(rec: RawRecord, opts: Options) -> Example:
    """One question; the reader has already attached its article's title and its paragraph's context."""
    record = _record(rec, 'a question {"id", "question", "answers": [{"text", "answer_start"}]}',
                     ("id", "question", "answers"))
    question = _text(rec, record, "question")
    answers = record["answers"]
    if isinstance(answers, dict):  # the Hugging Face layout: {"text": [...], "answer_start": [...]}
        pairs = zip(answers.get("text") or [], answers.get("answer_start") or [], strict=False)
        answers = [{"text": text, "answer_start": start} for text, start in pairs]
    if not isinstance(answers, list) or not answers or not all(
        isinstance(a, dict) and isinstance(a.get("text"), str) and isinstance(a.get("answer_start"), int)
        for a in answers
    ):
        raise rec.fail(f'"answers" must be a non-empty list of {{"text": <string>, "answer_start": <int>}}, '
                       f"got {describe(answers)}")
    meta = _meta(rec, id=record["id"], title=record.get("title"), context=_text(rec, record, "context"),
                 question=question, answers=[a["text"] for a in answers],
                 answer_start=[a["answer_start"] for a in answers])
    meta.update({k: record[k] for k in ("article_index", "paragraph_index") if k in record})
    messages = [{"role": "user", "content": question}, {"role": "assistant", "content": answers[0]["text"]}]
    return Example(messages, _language(rec, record, opts), opts.source, meta)


def parse_parallel(rec: RawRecord, opts: Options) -> Example:
    src, tgt = (side.strip() for side in rec.value)
    for side, text in (("source", src), ("target", tgt)):
        if not text:
            raise rec.fail(f"the {side} side is empty; every line needs a sentence on both sides")
    meta = _meta(rec, src=src, tgt=tgt, src_lang=opts.source_language, tgt_lang=opts.language)
    messages = [{"role": "user", "content": src}, {"role": "assistant", "content": tgt}]
    return Example(messages, opts.language, opts.source, meta)


def parse_mt_bench(rec: RawRecord, opts: Options) -> Example:
    record = _record(rec, 'a JSON object with "question_id", "category" and "turns" (list of strings)',
                     ("question_id", "category", "turns"))
    turns = record["turns"]
    if not isinstance(turns, list) or not turns or not all(isinstance(t, str) and t.strip() for t in turns):
        raise rec.fail(f'"turns" must be a non-empty list of non-empty strings, got {describe(turns)}')
    meta = _meta(rec, id=record["question_id"], category=_text(rec, record, "category"), turns=list(turns))
    if record.get("reference"):
        meta["reference"] = record["reference"]
    messages = [{"role": "user", "content": turns[0]}]
    return Example(messages, _language(rec, record, opts), opts.source, meta)


# --------------------------------------------------------------------------------------------------- csv
# Cells a CSV row always has, even when its writer had nothing to put there: blank means absent (a
# blank "language" cell is no language code, a blank "id" no id).
_BLANK_IS_ABSENT = ("id", "language", "lang", "title")
# What is parsed as a dict/list: "{...}" and "[" followed by a container or a quote. An answer text
# such as "[1] Smith" stays text; a dict literal that fails to parse is an error, never answer text.
_STRUCTURED = re.compile(r"\s*(\{|\[\s*[\[{'\"\]])")
# pandas writes a Hugging Face row's answers as "{'text': array(['308'], dtype=object), ...}".
_NUMPY_ARRAY = re.compile(r"array\((\[.*?\])(?:,\s*dtype=[\w.]+)?\)", re.S)
_ANSWERS = ('{"text": [...], "answer_start": [...]}, a list of {"text", "answer_start"} or the answer '
            "text itself")


def _cells(rec: RawRecord) -> dict[str, Any]:
    return {k: v for k, v in rec.value.items() if k not in _BLANK_IS_ABSENT or str(v).strip()}


def _literal(cell: str) -> Any:
    """JSON, then a Python literal (``ast.literal_eval``, which runs nothing), then pandas' numpy repr."""
    try:
        return json.loads(cell)
    except ValueError:
        pass
    for text in (cell, _NUMPY_ARRAY.sub(r"\1", cell) if "array(" in cell else None):
        if text is None:
            continue
        try:
            return ast.literal_eval(text.strip())
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            pass
    return None


def _start(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():  # pandas turns int columns with gaps into floats
        return int(value)
    return None


def _answer(rec: RawRecord, text: Any, start: Any, context: str, where: str) -> dict[str, Any]:
    if not isinstance(text, str):
        raise rec.fail(f'"answers"{where}: the answer text must be a string, got {describe(text)}')
    if start is None:  # only the text is given: find it, as a plain-string cell is
        return {"text": text, "answer_start": context.find(text)}
    if _start(start) is None:
        raise rec.fail(f'"answers"{where}: answer_start must be an integer, got {describe(start)}')
    return {"text": text, "answer_start": _start(start)}


def _answer_list(rec: RawRecord, value: Any, context: str) -> list[dict[str, Any]]:
    if isinstance(value, dict) and "text" in value:
        texts, starts = value["text"], value.get("answer_start")
        if isinstance(texts, str):
            return [_answer(rec, texts, starts, context, "")]
        if not isinstance(texts, (list, tuple)):
            raise rec.fail(f'"answers": "text" must be a list of strings, got {describe(texts)}')
        if starts is None:
            starts = [None] * len(texts)
        if not isinstance(starts, (list, tuple)) or len(starts) != len(texts):
            raise rec.fail(f'"answers": {len(texts)} texts but answer_start is {describe(starts)}')
        return [_answer(rec, t, s, context, f"[{i}]") for i, (t, s) in enumerate(zip(texts, starts, strict=True))]
    if isinstance(value, (list, tuple)):
        answers = []
        for i, item in enumerate(value):
            if isinstance(item, dict):
                answers.append(_answer(rec, item.get("text"), item.get("answer_start"), context, f"[{i}]"))
            else:
                answers.append(_answer(rec, item, None, context, f"[{i}]"))
        return answers
    raise rec.fail(f'"answers": expected {_ANSWERS}, got {describe(value)}')


def _answers_cell(rec: RawRecord, cell: Any, context: str) -> list[dict[str, Any]]:
    """CrossAlpaca's Python-dict literal, a JSON object or list, or the answer text alone."""
    if not isinstance(cell, str) or not cell.strip():
        raise rec.fail('"answers" is empty')
    if not _STRUCTURED.match(cell):
        return [{"text": cell, "answer_start": context.find(cell)}]
    value = _literal(cell)
    if value is None:
        raise rec.fail(f'"answers" looks like a dict or list but is neither JSON nor a Python literal: '
                       f"{describe(cell)}")
    return _answer_list(rec, value, context)


def parse_csv_qa(rec: RawRecord, opts: Options) -> Example:
    """A translated XQuAD/MLQA row: the same Example as its SQuAD question, once the answers cell is read.

    A file without an id column numbers its questions by row, as SQuAD's ids are required downstream.
    """
    record = _cells(rec)
    answers = _answers_cell(rec, record.get("answers"), _text(rec, record, "context"))
    record = {**record, "answers": answers, "id": record.get("id", str(rec.index))}
    return parse_squad(replace(rec, value=record), opts)


def parse_csv_alpaca(rec: RawRecord, opts: Options) -> Example:
    return parse_alpaca(replace(rec, value=_cells(rec)), opts)


def _csv_parser(path: str, header: list[str], mapping: Mapping[str, str]) -> Parser:
    """The header decides, once for the file: each row has the same cells."""
    names = set(header) - set(mapping.values()) | set(mapping)
    qa = ("context", "question", "answers")
    if names.issuperset(qa):
        return parse_csv_qa
    if names.issuperset(("instruction", "output")):
        return parse_csv_alpaca
    missing = [name for name in qa if name not in names]
    partly = f" (it has {', '.join(n for n in qa if n in names)} but no {', '.join(missing)})" \
        if len(missing) < len(qa) else ""
    raise DataError(path, "file", f"the header {header} has no context, question and answers columns "
                    f"(extractive QA){partly} and no instruction and output columns (Alpaca); if the file "
                    "names them in another language, map them: columns: {context: <its name>, "
                    "question: <its name>, answers: <its name>}")


def _csv_mapping(path: str, header: list[str], columns: Columns) -> dict[str, str]:
    """The caller's mapping, plus header names that match a canonical name but for case ("Context")."""
    mapping = dict(columns or {})
    _check_mapped(path, mapping, header, "column")
    used, exact = set(mapping.values()), set(header)
    for name in header:
        canonical = name.lower()
        if (name not in used and canonical in COLUMN_NAMES and canonical not in mapping
                and canonical not in exact):
            mapping[canonical] = name
    return mapping


# ------------------------------------------------------------------------------------------------ columns
def _checked_columns(source: str, columns: Columns) -> dict[str, str] | None:
    """The recipe schema checks this too; API callers get the same message as a DataError."""
    try:
        return check_columns(dict(columns)) if columns else None
    except ValueError as error:
        raise DataError(source, "columns", str(error)) from None


def _check_mapped(path: str, columns: Mapping[str, str], present: Iterable[str], what: str) -> None:
    """A mapped name the file lacks is almost always a typo: say what the file does have."""
    present = list(present)
    missing = [f"{canonical}: {name}" for canonical, name in columns.items() if name not in present]
    if missing:
        raise DataError(path, "file", f"columns maps {', '.join(missing)}, but the file has no such {what}; "
                        f"its {what}s are {', '.join(map(str, present)) or 'none'}")


def _renamed(value: Any, columns: Mapping[str, str]) -> Any:
    """The record under canonical names; one file column may feed several canonical names."""
    if not isinstance(value, dict) or not columns:
        return value
    sources = set(columns.values())
    renamed = {key: item for key, item in value.items() if key not in sources}
    renamed.update({canonical: value[name] for canonical, name in columns.items() if name in value})
    return renamed


def _rename_records(records: Iterable[RawRecord], columns: Mapping[str, str]) -> Iterator[RawRecord]:
    for rec in records:
        yield replace(rec, value=_renamed(rec.value, columns)) if isinstance(rec.value, dict) else rec


# A record's keys name its format; used for "auto" and for Hugging Face columns.
_BY_KEYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("messages", ("messages",)),
    ("sharegpt", ("conversations",)),
    ("alpaca", ("instruction", "output")),
    ("mt_bench", ("question_id", "turns")),
    ("squad", ("question", "context", "answers")),
)
_PARSERS: dict[str, Parser] = {"alpaca": parse_alpaca, "sharegpt": parse_sharegpt, "messages": parse_messages,
                               "squad": parse_squad, "parallel": parse_parallel, "mt_bench": parse_mt_bench}


def format_for_keys(keys: Iterable[str]) -> str | None:
    present = set(keys)
    return next((name for name, needed in _BY_KEYS if present.issuperset(needed)), None)


# ------------------------------------------------------------------------------------------------ driver
def _source_name(path: DataPath, name: str | None) -> str:
    if name:
        return name
    if isinstance(path, (tuple, list)):
        return "|".join(str(p) for p in path)
    return str(path)


def detect_format(path: DataPath, columns: Columns = None) -> str:
    """Guess from the path, then from the first record's keys (under ``columns``' names): extensions
    alone are ambiguous."""
    if isinstance(path, (tuple, list)) or "|" in str(path):
        return "parallel"
    p = Path(path)
    if p.is_dir() or p.suffix.lower() in (".parquet", ".arrow"):
        return "hf"
    if p.suffix.lower() in (".tsv", ".tab"):
        return "parallel"
    if p.suffix.lower() == ".csv":
        return "csv"
    record = first_record(str(p))
    if isinstance(record, dict) and isinstance(record.get("data"), list):
        return "squad"
    record = _renamed(record, columns or {})
    guessed = format_for_keys(record) if isinstance(record, dict) else None
    if guessed is None or guessed == "squad":
        raise DataError(str(p), "file", f"cannot tell the format from the first record ({describe(record)}); "
                        f"pass one of {', '.join(FORMATS[:-1])}")
    return guessed


def _open(path: DataPath, fmt: str, split: str | None,
          columns: Mapping[str, str] | None) -> tuple[Iterable[RawRecord], Parser]:
    if columns and fmt in ("squad", "parallel"):
        raise DataError(_source_name(path, None), "columns", f"a column mapping applies to csv, JSON/JSONL "
                        f"and hf files; format {fmt!r} has a fixed layout")
    if fmt == "parallel":
        return parallel_records(path), parse_parallel
    if isinstance(path, (tuple, list)):
        problem = f"a pair of files is only valid for format 'parallel', not {fmt!r}"
        raise DataError(_source_name(path, None), "file", problem)
    path = str(path)
    if fmt == "squad":
        return squad_records(path), parse_squad
    if fmt == "csv":
        header, rows = csv_rows(path)
        mapping = _csv_mapping(path, header, columns)
        return _rename_records(rows, mapping), _csv_parser(path, header, mapping)
    if fmt == "hf":
        names, rows = hf_rows(path, split)
        if columns:
            _check_mapped(path, columns, names, "column")
            names, rows = list(_renamed(dict.fromkeys(names), columns)), _rename_records(rows, columns)
        guessed = format_for_keys(names)
        if guessed is None:
            raise DataError(path, "file", f"cannot interpret columns {sorted(names)}: expected messages, "
                            "conversations, instruction+output, question_id+turns or "
                            "question+context+answers")
        return rows, _PARSERS[guessed]
    if Path(path).suffix.lower() == ".csv":
        raise DataError(path, "format", f"a .csv file cannot be read as {fmt!r}, a JSON format; use 'csv'")
    records: Iterable[RawRecord] = json_records(path)
    if columns:
        records = list(records)  # every record's keys count: an optional key may be absent from the first
        keys = sorted({str(key) for rec in records if isinstance(rec.value, dict) for key in rec.value})
        _check_mapped(path, columns, keys, "key")
        records = _rename_records(records, columns)
    return records, _PARSERS[fmt]


def _convert(records: Iterable[RawRecord], parser: Parser, opts: Options,
             errors: list[DataError] | None) -> list[Example]:
    """Parse record by record; with an ``errors`` list a bad record is noted and the next one is tried."""
    examples, seen = [], 0
    for rec in records:
        seen += 1
        try:
            if rec.problem is not None:
                raise rec.fail(rec.problem)
            examples.append(parser(rec, opts))
        except DataError as error:
            if errors is None:
                raise
            errors.append(error)
    if seen == 0:
        raise DataError(opts.source, "file", "no records found")
    return examples


def _run(path: DataPath, fmt: str, language: str, source_language: str | None, name: str | None,
         split: str | None, columns: Columns, errors: list[DataError] | None) -> list[Example]:
    source = _source_name(path, name)
    if fmt not in FORMATS:
        raise DataError(source, "format", f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    language = check_language(language, source, "language")
    if source_language is not None:
        source_language = check_language(source_language, source, "source_language")
    mapping = _checked_columns(source, columns)
    if fmt == "auto":
        fmt = detect_format(path, mapping)
    records, parser = _open(path, fmt, split, mapping)
    return _convert(records, parser, Options(language, source, source_language), errors)


def load_examples(path: DataPath, format: str, language: str, *, source_language: str | None = None,
                  name: str | None = None, split: str | None = None, columns: Columns = None) -> list[Example]:
    """Load a file of any supported format; the first malformed record raises a DataError.

    ``columns`` maps canonical names to the file's own (``{"context": "contesto"}``) for csv, JSON/JSONL
    and hf files whose column names or keys are localised.
    """
    return _run(path, format, language, source_language, name, split, columns, None)


def collect_examples(
    path: DataPath, format: str, language: str, *, source_language: str | None = None,
    name: str | None = None, split: str | None = None, columns: Columns = None,
) -> tuple[list[Example], list[DataError]]:
    """Like :func:`load_examples`, but every bad record becomes one entry of the error list."""
    errors: list[DataError] = []
    try:
        examples = _run(path, format, language, source_language, name, split, columns, errors)
    except DataError as error:  # the file as a whole is unreadable: nothing further to check
        return [], [*errors, error]
    return examples, errors


# One loader per format: thin names for callers that know what they have.
def load_alpaca(path: PathLike, language: str, *, name: str | None = None) -> list[Example]:
    return load_examples(path, "alpaca", language, name=name)


def load_sharegpt(path: PathLike, language: str, *, name: str | None = None) -> list[Example]:
    return load_examples(path, "sharegpt", language, name=name)


def load_messages(path: PathLike, language: str, *, name: str | None = None) -> list[Example]:
    return load_examples(path, "messages", language, name=name)


def load_squad(path: PathLike, language: str, *, name: str | None = None) -> list[Example]:
    return load_examples(path, "squad", language, name=name)


def load_parallel(path: DataPath, language: str, *, source_language: str | None = None,
                  name: str | None = None) -> list[Example]:
    return load_examples(path, "parallel", language, source_language=source_language, name=name)


def load_mt_bench(path: PathLike, language: str, *, name: str | None = None) -> list[Example]:
    return load_examples(path, "mt_bench", language, name=name)


def load_csv(path: PathLike, language: str, *, name: str | None = None, columns: Columns = None) -> list[Example]:
    return load_examples(path, "csv", language, name=name, columns=columns)


def load_hf(path: PathLike, language: str, *, name: str | None = None,
            split: str | None = None) -> list[Example]:
    return load_examples(path, "hf", language, name=name, split=split)


__all__ = [
    "FORMATS", "Columns", "Options", "RawRecord", "check_language", "collect_examples", "detect_format",
    "format_for_keys", "load_alpaca", "load_csv", "load_examples", "load_hf", "load_messages", "load_mt_bench",
    "load_parallel", "load_sharegpt", "load_squad", "normalize_language",
]
