"""Turn every supported data format into a list of :class:`Example`.

A format is a *reader* (file → raw records, each knowing where it came from, :mod:`readers`) plus a
*parser* (one raw record → one Example, or a DataError naming that record, :mod:`record_parsers`).
:func:`load_examples` stops at the first bad record; :func:`collect_examples` runs the very same readers
and parsers but keeps going, so that ``validate_file`` can list every problem of a file in one pass
instead of one per run.

Where an error points: JSONL, TSV and text files give the 1-based line number, a CSV file the line its
row starts on (a quoted cell may span lines), a JSON list gives ``record i``, SQuAD gives
``data[i].paragraphs[j].qas[k]``, a CoNLL file the line its utterance starts on, a Hugging Face dataset
gives ``row i`` and a problem with the whole file gives ``file``.

Files whose column names (or JSON keys) are localised, as in CrossAlpaca's translated XQuAD/MLQA CSVs
(``id,contesto,domanda,risposte``), are read through a ``columns`` mapping from the canonical names to
the file's own; it renames each record before the parser sees it, so every parser stays as it is.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from lingotune.core.errors import DataError
from lingotune.core.schema import check_columns
from lingotune.data.example import Example
from lingotune.data.readers import (
    RawRecord,
    conll_records,
    csv_rows,
    describe,
    first_record,
    hf_rows,
    json_records,
    parallel_records,
    squad_records,
)
from lingotune.data.record_parsers import (
    Columns,
    Options,
    Parser,
    check_language,
    check_mapped,
    csv_mapping,
    csv_parser,
    parse_alpaca,
    parse_conll,
    parse_messages,
    parse_mt_bench,
    parse_parallel,
    parse_sharegpt,
    parse_squad,
)
from lingotune.language.codes import normalize_language

PathLike = str | os.PathLike[str]
DataPath = PathLike | tuple[PathLike, PathLike] | list[PathLike]

FORMATS = ("alpaca", "sharegpt", "messages", "squad", "parallel", "hf", "mt_bench", "csv", "conll", "auto")

# ------------------------------------------------------------------------------------------------ columns
def _checked_columns(source: str, columns: Columns) -> dict[str, str] | None:
    """The recipe schema checks this too; API callers get the same message as a DataError."""
    try:
        return check_columns(dict(columns)) if columns else None
    except ValueError as error:
        raise DataError(source, "columns", str(error)) from None


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
    if p.suffix.lower() == ".conll":
        return "conll"
    record = first_record(str(p))
    if isinstance(record, dict) and isinstance(record.get("data"), list):
        return "squad"
    record = _renamed(record, columns or {})
    guessed = format_for_keys(record) if isinstance(record, dict) else None
    if guessed is None or guessed == "squad":
        raise DataError(str(p), "file", f"cannot tell the format from the first record ({describe(record)}); "
                        f"pass one of {', '.join(FORMATS[:-1])}")
    return guessed


def _open(path: DataPath, fmt: str, split: str | None, columns: Mapping[str, str] | None,
          opts: Options) -> tuple[Iterable[RawRecord], Parser]:
    if columns and fmt in ("squad", "parallel", "conll"):
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
    if fmt == "conll":  # LinCE's lang1/lang2: the source language (English by default), then the language
        return conll_records(path, (opts.source_language or "en", opts.language)), parse_conll
    if fmt == "csv":
        header, rows = csv_rows(path)
        mapping = csv_mapping(path, header, columns)
        return _rename_records(rows, mapping), csv_parser(path, header, mapping)
    if fmt == "hf":
        names, rows = hf_rows(path, split)
        if columns:
            check_mapped(path, columns, names, "column")
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
        check_mapped(path, columns, keys, "key")
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
    opts = Options(language, source, source_language)
    records, parser = _open(path, fmt, split, mapping, opts)
    return _convert(records, parser, opts, errors)


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
