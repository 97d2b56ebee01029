"""What of a field is sent to a translator, and how it is put back together.

Instruction data is full of things a translator must not touch: code blocks, inline code, URLs,
LaTeX, ``{placeholders}`` / ``%s`` / ``{{x}}``, numbers, list markers and table pipes. Tools in the wild
drop such examples or let the MT model mangle them. Here a field is planned into *pieces*: verbatim
text (code blocks, markup, blank lines) that is never sent, and *units* (the prose of one line, or one
chunk of it below the model's limit) whose protected spans are replaced by numbered masks
(``<m0>``, ``<m1>``…). A unit's translation is accepted only when every mask comes back exactly once;
the caller then retries sentence by sentence, then keeps the span untranslated and flags it.

Block structure comes from markdown-it-py (the CommonMark parser rich already uses); the inline masks
and the line prefixes are hand-written regexes because no library masks spans for MT.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from markdown_it import MarkdownIt

MASK = "<m{}>"
_MASK_FOUND = re.compile(r"<\s*m\s*(\d+)\s*>", re.IGNORECASE)

# Inline spans that must come back unchanged, leftmost first; the alternation order settles overlaps.
_PROTECTED = re.compile(
    "|".join(
        [
            r"(`+)[^`]*?\1",  # inline code
            r"\$\$.+?\$\$",  # display math on one line
            r"\\\(.+?\\\)|\\\[.+?\\\]",  # \( … \), \[ … \]
            r"\$(?=\S)[^$\n]*?\S\$(?!\d)|\$[^\s$\d]\$",  # $x^2$, not "$5 and $10"
            r"\\[A-Za-z]+(?:\{[^{}\n]*\})*",  # bare LaTeX commands: \frac{a}{b}
            r"\]\([^)\s]+(?:\s+\"[^\"]*\")?\)",  # the target of a Markdown link/image: ](url "title")
            r"<(?:https?://|mailto:)[^>\s]+>",  # autolinks
            r"(?:https?://|www\.)[^\s<>()\[\]]*[^\s<>()\[\].,;:!?'\"]",  # bare URLs (no trailing punctuation)
            r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",  # e-mail addresses
            r"\{\{.*?\}\}|\$\{[^}\n]*\}",  # {{jinja}}, ${shell}
            r"\{[A-Za-z_][\w.]*(?:\[[^\]]*\])?(?:![rsa])?(?::[^{}\n]*)?\}|\{\d*\}",  # str.format fields
            r"%(?:\([A-Za-z_]\w*\))?[-+ #0]*\d*(?:\.\d+)?[sdifouxXeEgGcr]",  # printf: %s %d %(name)s %.2f
            r"</?[A-Za-z][\w-]*(?:\s[^<>\n]*)?/?>",  # inline HTML tags
            r"(?<![\w<])[-+]?\d+(?:[.,:/]\d+)*%?(?![\w>])",  # numbers: 1,000.5  1/2  12:30  50%
        ]
    )
)
# Markup that starts a line and stays as is: blockquote marks, list markers, task boxes, headings.
_LINE_PREFIX = re.compile(r"^(\s*(?:>\s?)*(?:(?:[-*+]|\d{1,9}[.)])\s+(?:\[[ xX]\]\s+)?)?(?:#{1,6}\s+)?)")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？;:])\s+")
_CLAUSE_END = re.compile(r"(?<=[,;])\s+")
_LETTER = re.compile(r"[^\W\d_]")
_VERBATIM_BLOCKS = ("fence", "code_block", "html_block")
_md = MarkdownIt("commonmark").enable("table")


@dataclass
class Unit:
    """One request: prose with its protected spans replaced by ``<m0>…<mN>``."""

    masked: str
    masks: list[str] = field(default_factory=list)

    @property
    def source(self) -> str:
        return unmask(self.masked, self.masks) or self.masked


@dataclass
class FieldPlan:
    """A field as verbatim strings and units, in order; joining their texts gives the field back."""

    pieces: list[str | Unit]

    @property
    def units(self) -> list[Unit]:
        return [p for p in self.pieces if isinstance(p, Unit)]


def mask(text: str) -> Unit:
    masks: list[str] = []

    def replace(match: re.Match[str]) -> str:
        masks.append(match.group(0))
        return MASK.format(len(masks) - 1)

    return Unit(_PROTECTED.sub(replace, text), masks)


def unmask(translated: str, masks: list[str]) -> str | None:
    """The translation with its masks restored, or None unless each mask is there exactly once."""
    found = [int(m.group(1)) for m in _MASK_FOUND.finditer(translated)]
    if sorted(found) != list(range(len(masks))):
        return None
    return _MASK_FOUND.sub(lambda m: masks[int(m.group(1))], translated)


def _renumbered(masked: str, masks: list[str]) -> Unit:
    """A chunk of a masked line as its own unit, masks numbered from 0 (so equal chunks share a cache entry)."""
    local: list[str] = []

    def replace(match: re.Match[str]) -> str:
        local.append(masks[int(match.group(1))])
        return MASK.format(len(local) - 1)

    return Unit(_MASK_FOUND.sub(replace, masked), local)


def _split_long(text: str, max_chars: int, pattern: re.Pattern[str]) -> list[str]:
    """Split at ``pattern`` (keeping separators with the left part) into chunks of at most ``max_chars``."""
    parts, last = [], 0
    for match in pattern.finditer(text):
        parts.append(text[last:match.end()])
        last = match.end()
    parts.append(text[last:])
    chunks: list[str] = []
    for part in parts:
        if chunks and len(chunks[-1]) + len(part) <= max_chars:
            chunks[-1] += part
        else:
            chunks.append(part)
    return [c for c in chunks if c]


def split_chunks(text: str, max_chars: int) -> list[str]:
    """Sentences packed into chunks below ``max_chars``; over-long sentences split at clauses, then words."""
    if len(text) <= max_chars:
        return [text]
    out: list[str] = []
    for chunk in _split_long(text, max_chars, _SENTENCE_END):
        if len(chunk) <= max_chars:
            out.append(chunk)
            continue
        for clause in _split_long(chunk, max_chars, _CLAUSE_END):
            out.extend([clause] if len(clause) <= max_chars else _split_long(clause, max_chars, re.compile(r"(?<=\s)")))
    return out


def sentences(unit: Unit) -> list[Unit]:
    """A unit split at sentence ends: the retry when a whole unit lost a mask."""
    pieces = [p for p in _split_long(unit.masked, 1, _SENTENCE_END) if p.strip()]
    return [_renumbered(p.strip(), unit.masks) for p in pieces]


def _verbatim_lines(text: str) -> set[int]:
    """0-based line numbers inside code blocks, HTML blocks and ``$$`` math blocks."""
    lines: set[int] = set()
    for token in _md.parse(text):
        if token.type in _VERBATIM_BLOCKS and token.map:
            lines.update(range(*token.map))
    in_math = False
    for number, line in enumerate(text.split("\n")):
        stripped = line.strip()
        if stripped.startswith("$$") and not (len(stripped) > 2 and stripped.endswith("$$")):
            lines.add(number)
            in_math = not in_math
        elif in_math:
            lines.add(number)
    return lines


def _table_cells(line: str) -> list[str] | None:
    """A table row's cells with their pipes, or None when the line is not a table row."""
    if line.count("|") < 2 or not line.strip().startswith("|"):
        return None
    return re.split(r"((?<!\\)\|)", line)


def _plan_prose(line: str, max_chars: int, pieces: list[str | Unit]) -> None:
    leading = len(line) - len(line.lstrip())
    trailing = len(line.rstrip())
    if leading:
        pieces.append(line[:leading])
    core = line[leading:trailing]
    unit = mask(core)
    if not _LETTER.search(_MASK_FOUND.sub("", unit.masked)):  # nothing to translate: numbers, markup, masks
        pieces.append(core)
    else:
        chunks = split_chunks(unit.masked, max_chars)
        for i, chunk in enumerate(chunks):
            body = chunk.rstrip()
            pieces.append(_renumbered(body, unit.masks))
            if i < len(chunks) - 1 or len(chunk) > len(body):
                pieces.append(chunk[len(body):] or " ")
    if trailing < len(line):
        pieces.append(line[trailing:])


def plan_text(text: str, max_chars: int = 400) -> FieldPlan:
    """The field's pieces. Line by line: verbatim blocks as they are; other lines keep their markup
    prefix (list marker, heading, quote) and table pipes verbatim and send the prose between them."""
    verbatim = _verbatim_lines(text)
    pieces: list[str | Unit] = []
    lines = text.split("\n")
    for number, line in enumerate(lines):
        end = "\n" if number < len(lines) - 1 else ""
        if number in verbatim or not line.strip():
            pieces.append(line + end)
            continue
        prefix = _LINE_PREFIX.match(line).group(1)  # type: ignore[union-attr]
        if prefix:
            pieces.append(prefix)
        rest = line[len(prefix):]
        cells = _table_cells(rest)
        if cells is None:
            _plan_prose(rest, max_chars, pieces)
        else:
            for cell in cells:
                if cell == "|" or not _LETTER.search(cell):
                    pieces.append(cell)
                else:
                    _plan_prose(cell, max_chars, pieces)
        if end:
            pieces.append(end)
    return FieldPlan(_merged(pieces))


def _merged(pieces: list[str | Unit]) -> list[str | Unit]:
    """Adjacent verbatim strings as one (shorter plans, same text)."""
    out: list[str | Unit] = []
    for piece in pieces:
        if isinstance(piece, str) and out and isinstance(out[-1], str):
            out[-1] += piece
        elif piece != "":
            out.append(piece)
    return out


def assemble(plan: FieldPlan, translations: dict[int, str]) -> str:
    """The field with unit ``i`` (counted among units) replaced by ``translations[i]`` where given."""
    out, index = [], 0
    for piece in plan.pieces:
        if isinstance(piece, str):
            out.append(piece)
        else:
            out.append(translations.get(index, piece.source))
            index += 1
    return "".join(out)
