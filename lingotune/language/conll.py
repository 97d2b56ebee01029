"""Token-tagged code-mixed corpora in CoNLL form: one ``token<TAB>tag`` line per token, blank lines
between utterances, and optionally a ``meta<TAB>id<TAB>label`` line opening each (SentiMix).

Strict on purpose: the public CoNLL files mix CRLF endings, stray tabs and unknown tags, and the usual
scripts skip what they cannot read, which silently changes every code-mixing figure computed from them.
Here CRLF is accepted, and anything else that cannot be read is a :class:`DataError` with file and line;
unknown tags are listed all at once with how to map them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lingotune.core.errors import DataError
from lingotune.core.textfile import lines, read_text
from lingotune.language.tagsets import auto_tagset, map_tag, resolve_tagset


@dataclass
class TaggedUtterance:
    """One utterance: its tokens, canonical tags (see :mod:`lingotune.language.tagsets`), the file's
    own tags, and the ``meta`` line's id and label (sentiment) when the file has them."""

    tokens: list[str]
    tags: list[str]
    raw_tags: list[str] = field(default_factory=list)
    uid: str | None = None
    label: str | None = None
    line: int = 0

    @property
    def text(self) -> str:
        return " ".join(self.tokens)


def _unknown_tags_error(path: str, unknown: Counter[str], first_line: dict[str, int]) -> DataError:
    listing = ", ".join(f"{tag!r} ×{count} (first on line {first_line[tag]})" for tag, count in unknown.most_common())
    return DataError(
        path,
        str(min(first_line.values())),
        f"unknown language tags: {listing}. Map them with a tagset: a built-in name (sentimix_hinglish, "
        "sentimix_spanglish, l3cube, lince:LANG1,LANG2) or RAW=TAG pairs such as Hin=hi,Eng=en,O=other "
        "(TAG: a language code or one of other, ne, mixed, ambiguous, unk, fw)",
    )


def read_conll(path: str | Path, tagset: str | Mapping[str, str] | None = "auto",
               pair: tuple[str, str] | None = None) -> list[TaggedUtterance]:
    """Every utterance of a token-tagged CoNLL file, tags mapped to the canonical set.

    ``tagset="auto"`` picks the built-in mapping whose tags cover the file's (SentiMix Hinglish, L3Cube,
    canonical codes; LinCE's lang1/lang2 when ``pair`` names them), so a known corpus needs no option."""
    path = str(path)
    mapping = {} if tagset == "auto" else resolve_tagset(tagset)
    utterances: list[TaggedUtterance] = []
    first_line: dict[str, int] = {}
    current: TaggedUtterance | None = None

    def close() -> None:
        nonlocal current
        if current is None:
            return
        if not current.tokens:
            raise DataError(path, str(current.line), "an utterance with no tokens (a meta line followed by a blank "
                            "line or the end of the file); expected token<TAB>tag lines after it")
        utterances.append(current)
        current = None

    for number, line in enumerate(lines(read_text(path)), 1):
        if not line.strip():
            close()
            continue
        columns = line.split("\t")
        if columns[0] == "meta":
            close()
            if len(columns) < 2:
                raise DataError(path, str(number), "a meta line without an id; expected meta<TAB>id[<TAB>label]")
            current = TaggedUtterance([], [], [], uid=columns[1].strip(), line=number,
                                      label=columns[2].strip() if len(columns) > 2 and columns[2].strip() else None)
            continue
        if len(columns) < 2 or not columns[1].strip():
            raise DataError(path, str(number), f"expected token<TAB>tag, got {line[:60]!r} (no tag column)")
        if not columns[0]:
            raise DataError(path, str(number), "an empty token before the tag")
        raw = columns[1].strip()
        first_line.setdefault(raw, number)
        if current is None:
            current = TaggedUtterance([], [], [], line=number)
        current.tokens.append(columns[0])
        current.raw_tags.append(raw)
    close()
    if tagset == "auto":
        mapping = auto_tagset(first_line, pair)
    mapped = {raw: map_tag(raw, mapping) for raw in first_line}
    unknown = {raw: first_line[raw] for raw, tag in mapped.items() if tag is None}
    if unknown:
        counts = Counter(raw for u in utterances for raw in u.raw_tags if raw in unknown)
        raise _unknown_tags_error(path, counts, unknown)
    for utterance in utterances:
        utterance.tags = [mapped[raw] for raw in utterance.raw_tags]  # type: ignore[misc]
    if not utterances:
        raise DataError(path, "file", "no utterances: expected token<TAB>tag lines separated by blank lines")
    return utterances


def write_conll(utterances: Iterable[TaggedUtterance], path: str | Path, *, tags: Sequence[Sequence[str]] | None = None,
                ) -> None:
    """CoNLL with ``meta`` lines where an utterance has an id or label; ``tags`` overrides each one's tags."""
    out: list[str] = []
    for index, utterance in enumerate(utterances):
        row_tags = tags[index] if tags is not None else utterance.tags
        if utterance.uid is not None or utterance.label is not None:
            label = [utterance.label] if utterance.label else []
            out.append("\t".join(["meta", utterance.uid or str(index), *label]))
        out.extend(f"{token}\t{tag}" for token, tag in zip(utterance.tokens, row_tags, strict=True))
        out.append("")
    Path(path).write_text("\n".join(out) + "\n", encoding="utf-8")
