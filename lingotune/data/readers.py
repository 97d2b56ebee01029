"""Files → raw records that remember where they came from.

Kept apart from the parsers in :mod:`lingotune.data.loaders` so that a record that cannot even be
decoded (a bad JSON line, a TSV line with three columns) reaches the parser loop as one more bad record
instead of aborting the file: that is what lets validation report every problem of a file at once.
Only problems that make the whole file unreadable are raised here.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lingotune.core.errors import DataError
from lingotune.core.textfile import lines, read_text
from lingotune.language.conll import read_conll

_SQUAD = 'SQuAD v1.1 JSON {"data": [{"title", "paragraphs": [{"context", "qas": [...]}]}]}'


@dataclass(frozen=True)
class RawRecord:
    """One record before interpretation; ``problem`` is set when the reader already knows it is unreadable."""

    path: str
    where: str
    index: int
    value: Any = None
    line: int | None = None
    problem: str | None = None

    def fail(self, problem: str) -> DataError:
        return DataError(self.path, self.where, problem)


def describe(value: Any) -> str:
    """A short account of what was found instead, for "expected X, got Y" messages."""
    if isinstance(value, dict):
        return f"keys {sorted(str(k) for k in value)}"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    text = str(value)
    return f"a string ({text[:40]!r}{'...' if len(text) > 40 else ''})"


def _json_problem(error: json.JSONDecodeError) -> str:
    return f"invalid JSON: {error.msg} (column {error.colno})"


def _whole_json(path: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(path, str(error.lineno), _json_problem(error)) from None


def jsonl_records(path: str, text: str) -> Iterator[RawRecord]:
    index = 0
    for number, line in enumerate(lines(text), 1):
        if not line.strip():
            continue
        try:
            value, problem = json.loads(line), None
        except json.JSONDecodeError as error:
            value, problem = None, _json_problem(error)
        yield RawRecord(path, str(number), index, value, number, problem)
        index += 1


def json_records(path: str) -> Iterator[RawRecord]:
    """A JSON list or JSON Lines, told apart by content: both formats go by .json and by .jsonl."""
    text = read_text(path)
    if text.lstrip().startswith("["):
        records = _whole_json(path, text)
        for index, value in enumerate(records):
            yield RawRecord(path, f"record {index}", index, value)
        return
    _refuse_single_object(path, text)
    yield from jsonl_records(path, text)


def _refuse_single_object(path: str, text: str) -> None:
    """A pretty-printed JSON object read as JSON Lines would give one error per line; say what it is."""
    first = next(line for line in lines(text) if line.strip())
    try:
        json.loads(first)
        return
    except json.JSONDecodeError:
        pass
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return  # genuinely broken lines: report them one by one
    if isinstance(doc, dict):
        hint = " (this looks like SQuAD: use format 'squad')" if "data" in doc else ""
        raise DataError(path, "file", f"a single JSON object with {describe(doc)}; expected a JSON list of "
                        f"records or JSON Lines (one object per line){hint}")


def first_record(path: str) -> Any:
    """The first record of a JSON list / JSONL file, or the whole document when it is one object."""
    text = read_text(path)
    if text.lstrip().startswith("["):
        records = _whole_json(path, text)
        return records[0] if records else None
    first = next(line for line in lines(text) if line.strip())
    try:
        return json.loads(first)
    except json.JSONDecodeError:
        return _whole_json(path, text)  # a pretty-printed single object, e.g. SQuAD


def squad_records(path: str) -> Iterator[RawRecord]:
    """One record per question, carrying its article's title and its paragraph's context."""
    doc = _whole_json(path, read_text(path))
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list) or not doc["data"]:
        raise DataError(path, "file", f"expected {_SQUAD}, got {describe(doc)}")
    index = 0
    for a, article in enumerate(doc["data"]):
        where = f"data[{a}]"
        if not (isinstance(article, dict) and isinstance(article.get("title"), str)
                and isinstance(article.get("paragraphs"), list)):
            expected = '{"title": <string>, "paragraphs": [...]}'
            problem = f"expected an article {expected}, got {describe(article)}"
            yield RawRecord(path, where, index, problem=problem)
            index += 1
            continue
        for p, paragraph in enumerate(article["paragraphs"]):
            if not isinstance(paragraph, dict) or not isinstance(paragraph.get("qas"), list):
                expected = '{"context": <string>, "qas": [...]}'
                problem = f"expected a paragraph {expected}, got {describe(paragraph)}"
                yield RawRecord(path, f"{where}.paragraphs[{p}]", index, problem=problem)
                index += 1
                continue
            for q, qa in enumerate(paragraph["qas"]):
                place = {"title": article["title"], "context": paragraph.get("context"),
                         "article_index": a, "paragraph_index": p}
                value = {**qa, **place} if isinstance(qa, dict) else qa
                yield RawRecord(path, f"{where}.paragraphs[{p}].qas[{q}]", index, value)
                index += 1


def _aligned_records(src: str, tgt: str) -> Iterator[RawRecord]:
    src_lines, tgt_lines = lines(read_text(src)), lines(read_text(tgt))
    label = f"{src}|{tgt}"
    if len(src_lines) != len(tgt_lines):
        raise DataError(label, "file", f"line counts differ: {src} has {len(src_lines)} lines but {tgt} has "
                        f"{len(tgt_lines)}; the two sides must be line-aligned")
    for index, pair in enumerate(zip(src_lines, tgt_lines, strict=True)):
        yield RawRecord(label, str(index + 1), index, pair, index + 1)


def _tsv_records(path: str) -> Iterator[RawRecord]:
    index = 0
    for number, line in enumerate(lines(read_text(path)), 1):
        if not line.strip():
            continue
        columns = line.split("\t")
        if len(columns) == 2:
            yield RawRecord(path, str(number), index, tuple(columns), number)
        else:
            problem = f"expected 2 tab-separated columns (source<TAB>target), got {len(columns)}"
            yield RawRecord(path, str(number), index, None, number, problem)
        index += 1


def parallel_records(spec: str | os.PathLike[str] | tuple[Any, ...] | list[Any]) -> Iterator[RawRecord]:
    """Two line-aligned files (a pair, or "src|tgt") or one two-column TSV file."""
    if isinstance(spec, (tuple, list)):
        if len(spec) != 2:
            label = "|".join(map(str, spec))
            raise DataError(label, "file", f"expected 2 files (source, target), got {len(spec)}")
        yield from _aligned_records(str(spec[0]), str(spec[1]))
    elif "|" in str(spec):
        src, tgt = str(spec).split("|", 1)
        yield from _aligned_records(src.strip(), tgt.strip())
    else:
        yield from _tsv_records(str(spec))


def conll_records(path: str, pair: tuple[str, str] | None = None) -> Iterator[RawRecord]:
    """One record per utterance of a token-tagged CoNLL file (tags mapped by the built-in tagsets; a
    file whose tags none covers fails here, with the listing): see :mod:`lingotune.language.conll`."""
    for index, utterance in enumerate(read_conll(path, "auto", pair)):
        yield RawRecord(path, str(utterance.line), index, utterance, line=utterance.line)


def _csv_source(text: str) -> list[str]:
    """Lines for ``csv.reader`` cut at "\n" only, ends kept: like :func:`lines`, so line numbers agree
    with an editor's, and a quoted cell keeps its own line breaks."""
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def csv_rows(path: str) -> tuple[list[str], Iterator[RawRecord]]:
    """The header (it decides the parser) and one record per row, a dict keyed by the header's names.

    A row's ``line`` is the line it starts on: a quoted cell may span several lines, and the start
    is where a user looks. Strict quoting, so a stray quote is reported rather than silently merging
    cells; a row with the wrong number of cells is a bad record, not the end of the file.
    """
    source = _csv_source(read_text(path))
    reader = csv.reader(source, strict=True)
    header: list[str] | None = None
    while header is None:
        try:
            row = next(reader)
        except StopIteration:
            raise DataError(path, "file", "no header line (column names) found") from None
        except csv.Error as error:
            raise DataError(path, str(reader.line_num), f"the header is not valid CSV: {error}") from None
        header = [cell.strip() for cell in row] if any(cell.strip() for cell in row) else None
    seen: set[str] = set()
    for name in header:
        if name and name in seen:
            raise DataError(path, str(reader.line_num), f"the header names column {name!r} twice")
        seen.add(name)
    return header, _csv_records(path, reader, header)


def _csv_records(path: str, reader: Any, header: list[str]) -> Iterator[RawRecord]:
    index = 0
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            problem = f"not valid CSV: {error}"
            if "unexpected end of data" in str(error):
                problem += " (a quoted cell is never closed)"
            yield RawRecord(path, str(start), index, None, start, problem)
            index += 1
            continue
        if not row or (len(row) == 1 and not row[0].strip() and len(header) > 1):
            continue  # a blank line
        if len(row) != len(header):
            problem = (f"expected {len(header)} comma-separated cells ({', '.join(header)}), got {len(row)}"
                       + (f" (the row runs to line {reader.line_num}: an unbalanced quote?)"
                          if reader.line_num > start else ""))
            yield RawRecord(path, str(start), index, None, start, problem)
        else:
            yield RawRecord(path, str(start), index, dict(zip(header, row, strict=True)), start)
        index += 1


def _pick_split(path: str, data: Any, split: str | None) -> Any:
    names = list(data)
    if split is None:
        if "train" in names or len(names) == 1:
            return data["train" if "train" in names else names[0]]
        raise DataError(path, "file", f"the dataset has splits {names}; pass split= to choose one")
    if split not in names:
        raise DataError(path, "split", f"no split {split!r}; the dataset has {names}")
    return data[split]


def hf_rows(path: str, split: str | None) -> tuple[list[str], Iterator[RawRecord]]:
    """Column names (they decide the parser) and one record per row of a local ``datasets`` dataset."""
    import datasets  # slow to import, and only this format needs it

    p = Path(path)
    if not p.exists():
        raise DataError(path, "file", "no such file or folder")
    suffix = p.suffix.lower()
    if not p.is_dir() and suffix not in (".arrow", ".parquet", ".json", ".jsonl"):
        raise DataError(path, "file", "expected a folder written by save_to_disk, or a .parquet, .arrow, "
                        ".json or .jsonl file")
    try:
        if p.is_dir():
            data = datasets.load_from_disk(str(p))
        elif suffix == ".arrow":
            data = datasets.Dataset.from_file(str(p))
        else:
            builder = "parquet" if suffix == ".parquet" else "json"
            data = datasets.load_dataset(builder, data_files=str(p), split="train")
    except Exception as error:  # datasets raises many unrelated types for unreadable input
        raise DataError(path, "file", f"cannot load with datasets: {type(error).__name__}: {error}") from None
    if isinstance(data, datasets.DatasetDict):
        data = _pick_split(path, data, split)
    if len(data) == 0:
        raise DataError(path, "file", "the dataset has no rows")
    return list(data.column_names), (RawRecord(path, f"row {i}", i, row) for i, row in enumerate(data))
