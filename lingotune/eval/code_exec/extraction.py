"""The code in a model's answer: fenced or not, with prose around it, with the prompt repeated or not.

Completion models continue the prompt and are cut by stop sequences (methods.md §5.3: ``\\nclass``,
``\\ndef``, ``\\n#``, ``\\nif``, ``\\nprint``): :func:`truncate_at_stop` does that after generation. Chat models
write a code fence, often with prose before and after, sometimes several fences (the solution, then example
usage), sometimes none. :func:`extract_code` picks the block that defines the entry point (else the first
block of the language, else any block, else the answer's code-looking lines) and, for Python, drops top-level
statements that are not definitions — example calls, ``print``, the answer's own ``assert`` s, ``if __name__``
blocks — that could fail or wait on stdin and turn a correct function into a failed sample (the same idea as
evalplus' ``sanitize``, written here on ``ast`` because that tool pulls in tree-sitter).
"""

from __future__ import annotations

import ast
import re

PYTHON_STOP_SEQUENCES = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")
_FENCE = re.compile(r"^[ \t]*(```|~~~)[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:^[ \t]*\1[ \t]*$|\Z)", re.DOTALL | re.MULTILINE)
_LANGUAGE_TAGS = {"python": {"python", "py", "python3", "py3"}, "java": {"java"}}
_CODE_START = {
    "python": re.compile(r"^(?:from\s+\S+\s+import|import\s+\w|def\s+\w+\s*\(|class\s+\w+|@\w|async\s+def\s)"),
    "java": re.compile(r"^(?:import\s+[\w.]+|(?:public|private|protected|static|final|class)\b"
                       r"|[\w<>\[\]]+\s+\w+\s*\()"),
}


def truncate_at_stop(text: str, stops: tuple[str, ...] | list[str] = PYTHON_STOP_SEQUENCES) -> str:
    """Cut a completion at the first stop sequence (the sequence itself is dropped)."""
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=len(text))
    return text[:cut]


def fenced_blocks(answer: str) -> list[tuple[str, str]]:
    """(language tag, code) of every fenced block, in order; an unclosed last fence runs to the end."""
    return [(m.group(2).lower(), m.group(3)) for m in _FENCE.finditer(answer)]


def _defines(code: str, entry_point: str | None, language: str) -> bool:
    if not entry_point:
        return False
    name = re.escape(entry_point)
    if language == "python":
        return re.search(rf"^[ \t]*(?:async\s+)?def\s+{name}\s*\(", code, re.MULTILINE) is not None
    return re.search(rf"\b{name}\s*\([^)]*\)\s*(?:throws[\w.,\s]+)?\{{", code) is not None


def _unfenced_code(answer: str, language: str) -> str:
    """Prose removed around code that came without fences: from the first line that starts code (flush left)
    to the last line that is indented or looks like code; a bare body (all lines indented) is kept whole."""
    lines = answer.split("\n")
    start = next((i for i, line in enumerate(lines) if _CODE_START[language].match(line)), None)
    if start is None:
        return answer if any(line.startswith((" ", "\t")) for line in lines) else answer.strip()
    end = start
    for i in range(start, len(lines)):
        line = lines[i]
        if not line.strip() or line[0] in " \t}" or _CODE_START[language].match(line):
            end = i
        elif language == "python" and re.match(r"^[A-Za-z_][\w.]*\s*(=|\+=|\()", line):
            end = i  # a top-level assignment or call is code; a sentence is not
        else:
            break
    return "\n".join(lines[start : end + 1]).rstrip() + "\n"


def _keep_definitions(code: str) -> str:
    """Top-level imports, definitions and assignments of a Python answer (its source segments, so comments
    inside functions stay); the answer unchanged when it does not parse or defines nothing."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    kept = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign,
            ast.AnnAssign)
    nodes = [node for node in tree.body if isinstance(node, kept)]
    if not any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in nodes):
        return code
    lines = code.split("\n")
    parts = []
    for node in nodes:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        parts.append("\n".join(lines[first - 1 : node.end_lineno]))
    return "\n\n".join(parts) + "\n"


def extract_code(answer: str, language: str = "python", entry_point: str | None = None) -> str:
    """The solution in a model's answer (see the module docstring). The result may be a whole function,
    a whole class, or a body continuing the prompt; :func:`~.program.build_program` accepts each."""
    if language not in _LANGUAGE_TAGS:
        raise ValueError(f"cannot extract {language!r} code; supported: {sorted(_LANGUAGE_TAGS)}")
    blocks = fenced_blocks(answer)
    tagged = [code for tag, code in blocks if tag in _LANGUAGE_TAGS[language]]
    untagged = [code for tag, code in blocks if not tag]
    pool = tagged + untagged or [code for _, code in blocks]
    code = next((c for c in pool if _defines(c, entry_point, language)), pool[0] if pool else None)
    if code is None:
        code = _unfenced_code(answer, language)
    if language == "python" and (entry_point is None or _defines(code, entry_point, language)):
        code = _keep_definitions(code)
    return code
