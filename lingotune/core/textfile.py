"""Reading a user's text file with errors that say where: shared by every layer that parses files."""

from __future__ import annotations

from pathlib import Path

from lingotune.core.errors import DataError


def read_text(path: str) -> str:
    """The file's text (UTF-8, BOM dropped); a missing file, a folder, a non-UTF-8 byte (with its line)
    or an empty file is a :class:`DataError`."""
    p = Path(path)
    if not p.exists():
        raise DataError(path, "file", "no such file")
    if not p.is_file():
        raise DataError(path, "file", "is a folder, expected a file")
    data = p.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DataError(path, str(line), f"not valid UTF-8 (byte {error.start}: {error.reason})") from None
    if not text.strip():
        raise DataError(path, "file", "the file is empty")
    return text


def lines(text: str) -> list[str]:
    """Split on newlines only (CRLF accepted): ``str.splitlines`` would also split inside sentences at
    U+2028 and friends."""
    parts = text.split("\n")
    if parts[-1] == "":
        parts.pop()
    return [part[:-1] if part.endswith("\r") else part for part in parts]
