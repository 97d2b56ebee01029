"""FastChat answer files (``model_answer/*.jsonl``, ``reference_answer/*.jsonl``): read by the judge
(answers of the model under test, pairwise baselines, references) and by open-ended tasks (reference
answers for a weak chrF signal), so it sits below both."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lingotune.core.errors import DataError

Answers = dict[str, list[str]]


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    rows = []
    for line_no, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataError(str(path), str(line_no), f"not valid JSON ({exc.msg})") from None
    return rows


def load_answers(path: str | Path) -> Answers:
    """FastChat model_answer / reference_answer JSONL (``choices[0].turns``), or plain ``{question_id, turns}``."""
    answers: Answers = {}
    for line_no, row in enumerate(read_jsonl(path), 1):
        turns = row["choices"][0]["turns"] if row.get("choices") else row.get("turns")
        if not isinstance(turns, list) or "question_id" not in row:
            raise DataError(str(path), str(row.get("question_id", f"record {line_no}")),
                            "an answer needs question_id and choices[0].turns or turns")
        answers[str(row["question_id"])] = [str(t) for t in turns]
    return answers
