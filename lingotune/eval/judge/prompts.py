"""Judge prompts per language, and the rule that an answer in the wrong language is penalised.

MT-Bench-X (Weber et al. 2024) ships FastChat's judge prompts translated per language
(``mt_bench_x/<LANG>/judge_prompts.jsonl``); where a language has none, FastChat's English prompts
are used, which methods.md §6.3 recommends anyway ("judge prompt in English, question/answers
verbatim"). Either way we append two sentences the originals lack: the answer must be in the
user's language (wrong language → rating 1 / the other assistant wins), and unnatural or
ungrammatical language counts against it (PLUG's X-AlpacaEval "focus-language" addition).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from lingotune.core.errors import DataError, LingotuneError
from lingotune.core.paths import repo_root
from lingotune.data.builders import language_name
from lingotune.language.codes import canonical_language

# FastChat's NEED_REF_CATS: categories judged against a reference answer.
REFERENCE_CATEGORIES = frozenset({"math", "reasoning", "coding"})

SINGLE_RULE = (
    "The user wrote in {name}. The assistant must answer in {name}. If the answer (or most of it) is "
    "in another language, it did not follow the user: rate it [[1]], whatever its content. Pay special "
    "attention to unnatural language, disfluent sentences and grammar errors in {name}."
)
PAIR_RULE = (
    "The user wrote in {name}. The assistants must answer in {name}. An assistant whose answer (or most "
    "of it) is in another language did not follow the user and loses to one that answered in {name}. Pay "
    "special attention to unnatural language, disfluent sentences and grammar errors in {name}."
)


@dataclass(frozen=True)
class JudgePrompt:
    name: str  # e.g. "single-math-v1-multi-turn"
    system_prompt: str
    prompt_template: str
    source: str  # the file it came from

    def render(self, **fields: str) -> str:
        return self.prompt_template.format(**fields)


def _data_roots() -> list[Path]:
    """Checkout data first, then the shared data folder next to the checkout."""
    root = repo_root()
    return [root / "data", root.parent / "shared" / "data"]


def default_prompt_file(language: str) -> Path:
    """MT-Bench-X's prompts for ``language`` if shipped, else English MT-Bench-X, else FastChat's."""
    code = (canonical_language(language) or language).upper()
    candidates = [r / "mt_bench_x" / code / "judge_prompts.jsonl" for r in _data_roots()]
    candidates += [r / "mt_bench_x" / "EN" / "judge_prompts.jsonl" for r in _data_roots()]
    candidates += [r / "mt_bench" / "judge_prompts.jsonl" for r in _data_roots()]
    for path in candidates:
        if path.is_file():
            return path
    raise LingotuneError(
        "no judge prompts found; set eval.judge.judge_prompts to a FastChat/MT-Bench-X judge_prompts.jsonl "
        f"(looked in {[str(c) for c in candidates]})"
    )


def load_judge_prompts(path: str | Path | None, language: str) -> dict[str, JudgePrompt]:
    """Prompts by name, each with the wrong-language rule appended to its system prompt."""
    file = Path(path) if path else default_prompt_file(language)
    name = language_name(language)
    prompts: dict[str, JudgePrompt] = {}
    for line_no, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            pairwise = row["type"] == "pairwise"
            rule = (PAIR_RULE if pairwise else SINGLE_RULE).format(name=name)
            prompts[row["name"]] = JudgePrompt(
                row["name"], f"{row['system_prompt'].rstrip()}\n\n{rule}", row["prompt_template"], str(file)
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DataError(str(file), str(line_no), f"not a judge prompt record ({exc})") from None
    return prompts


def prompt_name(kind: str, *, reference: bool, multi_turn: bool) -> str:
    """FastChat's names: single-v1 / single-math-v1 / pair-v2 / pair-math-v1, optionally -multi-turn."""
    base = {("single", False): "single-v1", ("single", True): "single-math-v1",
            ("pair", False): "pair-v2", ("pair", True): "pair-math-v1"}[(kind, reference)]
    return base + ("-multi-turn" if multi_turn else "")


def pick_prompt(prompts: dict[str, JudgePrompt], kind: str, *, reference: bool, multi_turn: bool) -> JudgePrompt:
    wanted = prompt_name(kind, reference=reference, multi_turn=multi_turn)
    if wanted not in prompts:
        source = next(iter(prompts.values())).source if prompts else "?"
        raise LingotuneError(f"judge prompt {wanted!r} missing from {source} (has {sorted(prompts)})")
    return prompts[wanted]
