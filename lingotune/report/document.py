"""A tiny document model (headings, paragraphs, tables, images, code) rendered to Markdown and to
self-contained HTML, so both report formats come from one list of blocks and cannot drift apart."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass

from lingotune.report.run_files import DASH, is_number


@dataclass
class Cell:
    """A table cell; when ``full`` is longer than ``text``, HTML shows it in a <details> element."""

    text: str
    full: str | None = None


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Para:
    text: str


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Cell | str]]


@dataclass
class Image:
    rel_path: str
    alt: str
    png: bytes


@dataclass
class Code:
    text: str
    lang: str = ""


Block = Heading | Para | Table | Image | Code


def duration(seconds: object) -> str:
    if not is_number(seconds):
        return DASH
    total = int(round(float(seconds)))  # type: ignore[arg-type]
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    clock = f"{h}h {m:02d}m {s:02d}s" if h else f"{m}m {s:02d}s"
    return f"{clock} ({float(seconds):.1f} s)"  # type: ignore[arg-type]


def count(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else DASH




def _md_escape(text: str) -> str:
    """Escape HTML (Markdown renders raw HTML, so a model's "<script>" must stay text)."""
    return html.escape(text, quote=False)


def _md_cell(cell: Cell | str) -> str:
    text = cell.text if isinstance(cell, Cell) else cell
    text = _md_escape(text).replace("\\", "\\\\").replace("|", "\\|")
    return re.sub(r"\r\n|\r|\n", "<br>", text) or " "


def _md_block(block: Block) -> str:
    match block:
        case Heading(text, level):
            return f"{'#' * level} {_md_escape(text)}"
        case Para(text):
            return _md_escape(text)
        case Table(headers, rows):
            lines = ["| " + " | ".join(_md_cell(h) for h in headers) + " |",
                     "|" + "---|" * len(headers)]
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
            return "\n".join(lines)
        case Image(rel_path, alt, _):
            return f"![{_md_escape(alt)}]({rel_path})"
        case Code(text, lang):
            fence = "`" * max(3, 1 + max((len(r) for r in re.findall(r"`+", text)), default=0))
            return f"{fence}{lang}\n{text.rstrip()}\n{fence}"
    raise TypeError(f"unknown block {block!r}")


def render_markdown(blocks: list[Block]) -> str:
    return "\n\n".join(_md_block(b) for b in blocks) + "\n"


def _html_cell(cell: Cell | str, tag: str = "td") -> str:
    if isinstance(cell, Cell) and cell.full is not None and cell.full != cell.text:
        inner = (f"<details><summary>{html.escape(cell.text)}</summary>"
                 f"<div class=\"full\">{html.escape(cell.full)}</div></details>")
    else:
        inner = html.escape(cell.text if isinstance(cell, Cell) else cell)
    return f"<{tag}>{inner}</{tag}>"


def _html_block(block: Block) -> str:
    match block:
        case Heading(text, level):
            return f"<h{level}>{html.escape(text)}</h{level}>"
        case Para(text):
            return f"<p>{html.escape(text)}</p>"
        case Table(headers, rows):
            head = "<tr>" + "".join(_html_cell(h, "th") for h in headers) + "</tr>"
            body = "".join("<tr>" + "".join(_html_cell(c) for c in row) + "</tr>" for row in rows)
            return f"<table><thead>{head}</thead><tbody>{body}</tbody></table>"
        case Image(_, alt, png):
            data = base64.b64encode(png).decode("ascii")
            return f"<figure><img alt=\"{html.escape(alt)}\" src=\"data:image/png;base64,{data}\"></figure>"
        case Code(text, _):
            return f"<pre><code>{html.escape(text)}</code></pre>"
    raise TypeError(f"unknown block {block!r}")


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; vertical-align: top; text-align: left;
         white-space: pre-wrap; max-width: 32em; }
th { background: #f3f3f3; }
pre { background: #f6f8fa; padding: 1em; overflow-x: auto; }
img { max-width: 100%; }
summary { cursor: pointer; }
.full { margin-top: 0.5em; border-top: 1px dashed #bbb; }
"""


def render_html(blocks: list[Block], title: str) -> str:
    body = "\n".join(_html_block(b) for b in blocks)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n<body>\n{body}\n</body></html>\n")


