"""Where the text is in each format's records, so a translated file comes out in the format it went in.

A field is addressed by a path of keys (``("messages", 2, "content")``) and a role (who speaks it:
``user``/``assistant``/``system``), which is how ``fields: prompt`` knows what to leave for regeneration.
"""

from __future__ import annotations

from typing import Any

from lingotune.core.errors import DataError

Path = tuple[str | int, ...]
TRANSLATABLE = ("alpaca", "messages", "sharegpt", "mt_bench")
_SHAREGPT_ROLE = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}
_ALPACA_ROLES = (("system", "system"), ("instruction", "user"), ("input", "user"), ("output", "assistant"))


def text_fields(record: Any, fmt: str, source: str, where: str) -> list[tuple[Path, str, str]]:
    """(path, role, text) of every non-empty text of the record, in reading order."""
    if not isinstance(record, dict):
        raise DataError(source, where, f"expected a JSON object, got {type(record).__name__}")
    out: list[tuple[Path, str, str]] = []
    if fmt == "alpaca":
        out = [((key,), role, record[key]) for key, role in _ALPACA_ROLES if isinstance(record.get(key), str)]
    elif fmt in ("messages", "sharegpt"):
        key, text_key = ("messages", "content") if fmt == "messages" else ("conversations", "value")
        for i, turn in enumerate(record.get(key) or []):
            if isinstance(turn, dict) and isinstance(turn.get(text_key), str):
                role = turn.get("role") if fmt == "messages" else _SHAREGPT_ROLE.get(turn.get("from", ""), "user")
                out.append(((key, i, text_key), str(role), turn[text_key]))
        if isinstance(record.get("system"), str):
            out.insert(0, (("system",), "system", record["system"]))
    elif fmt == "mt_bench":
        out = [(("turns", i), "user", t) for i, t in enumerate(record.get("turns") or []) if isinstance(t, str)]
        out += [(("reference", i), "assistant", t) for i, t in enumerate(record.get("reference") or [])
                if isinstance(t, str)]
    return [(path, role, text) for path, role, text in out if text.strip()]


def get_path(record: Any, path: Path) -> Any:
    for key in path:
        record = record[key]
    return record


def set_path(record: Any, path: Path, value: Any) -> None:
    for key in path[:-1]:
        record = record[key]
    record[path[-1]] = value


def path_name(path: Path) -> str:
    """``messages[2].content``: how the report and the metadata name a field."""
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else key)
    return out


def refuse_format(fmt: str, source: str) -> None:
    if fmt == "squad":
        raise DataError(source, "format", "translating SQuAD-format QA would need the answer span re-aligned "
                        "in every translated context; translate question/answer pairs as chat or alpaca "
                        "records instead (or use XQuAD/MLQA, which are translated by people)")
    if fmt == "parallel":
        raise DataError(source, "format", "parallel data is already translated; to translate its source side, "
                        "convert it to alpaca or messages records first")
    if fmt not in TRANSLATABLE:
        raise DataError(source, "format", f"cannot translate format {fmt!r}; expected one of {', '.join(TRANSLATABLE)}")
