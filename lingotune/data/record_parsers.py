"""Record parsers: one raw record of a format → one :class:`Example`, or a DataError naming that record.

Split from :mod:`lingotune.data.loaders` (the driver: formats, detection, readers, error collection) so
that each stays readable; a new format adds its parser here and its reader branch there.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from lingotune.core.errors import DataError
from lingotune.core.schema import COLUMN_NAMES
from lingotune.data.example import ROLES, Example
from lingotune.data.readers import RawRecord, describe
from lingotune.language.codes import normalize_language

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


def parse_conll(rec: RawRecord, opts: Options) -> Example:
    """A token-tagged utterance as a user turn; tokens, canonical tags and the label (SentiMix's
    sentiment) travel in ``meta`` for the code-switching builders, metrics and classification."""
    u = rec.value
    meta = _meta(rec, tokens=u.tokens, tags=u.tags, label=u.label, **({"id": u.uid} if u.uid else {}))
    return Example([{"role": "user", "content": u.text}], opts.language, opts.source, meta)


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


def csv_parser(path: str, header: list[str], mapping: Mapping[str, str]) -> Parser:
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


def csv_mapping(path: str, header: list[str], columns: Columns) -> dict[str, str]:
    """The caller's mapping, plus header names that match a canonical name but for case ("Context")."""
    mapping = dict(columns or {})
    check_mapped(path, mapping, header, "column")
    used, exact = set(mapping.values()), set(header)
    for name in header:
        canonical = name.lower()
        if (name not in used and canonical in COLUMN_NAMES and canonical not in mapping
                and canonical not in exact):
            mapping[canonical] = name
    return mapping



def check_mapped(path: str, columns: Mapping[str, str], present: Iterable[str], what: str) -> None:
    """A mapped name the file lacks is almost always a typo: say what the file does have."""
    present = list(present)
    missing = [f"{canonical}: {name}" for canonical, name in columns.items() if name not in present]
    if missing:
        raise DataError(path, "file", f"columns maps {', '.join(missing)}, but the file has no such {what}; "
                        f"its {what}s are {', '.join(map(str, present)) or 'none'}")
