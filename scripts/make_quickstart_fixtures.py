"""Build the quickstart data under data/quickstart/ from the shared public data.

The outputs are committed, so the quickstart runs without this script; the script is committed so that
anyone can check how they were made. It is deterministic: running it again writes the same bytes
(a test checks this). Usage::

    python scripts/make_quickstart_fixtures.py [--shared /path/to/shared/data] [--out data/quickstart]
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

from lingotune.data.mix import choose_articles

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SHARED = REPO.parent / "shared" / "data"
DEFAULT_OUT = REPO / "data" / "quickstart"

XQUAD_LANGUAGES = ("en", "es")
XQUAD_EVAL_ARTICLES, XQUAD_SEED = 8, 0
NTREX_TRAIN_LINES = 900
NTREX_SRC, NTREX_TGT = "newstest2019-src.eng.first1000.txt", "newstest2019-ref.spa.first1000.txt"
SELF_INSTRUCT = ("self_instruct_seed_tasks.jsonl", "self_instruct_user_oriented_instructions.jsonl")

XQUAD_ORIGIN = "google-deepmind/xquad @ 7d30520c717524000f0d9d2f9c10a069acd9d285"
NTREX_ORIGIN = "MicrosoftTranslator/NTREX @ 8561f6a622db9edad1217683e5c83daefd8bb2bf (NTREX-128/)"
SELF_INSTRUCT_ORIGIN = "yizhongw/self-instruct @ 0b26ccaa415992100fa32df62d41b994cf928e23"
MT_BENCH_X_ORIGIN = "Modalities/MT-Bench-X @ f8972dc70595a7e981ada7f2ac5e7c191ab12441 (data/mt_bench_ES, _EN)"


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    write_text(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def copy(src: Path, dst: Path) -> None:
    """Bytes only (copyfile): the shared files are read-only and the copies must stay editable."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def text_lines(path: Path) -> list[str]:
    """Lines without their CRLF/LF ending (NTREX uses CRLF) and with inner tabs made spaces (TSV safety)."""
    lines = path.read_text(encoding="utf-8-sig").split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r").replace("\t", " ") for line in lines]


# --------------------------------------------------------------------------------------------- XQuAD
def count_questions(doc: dict[str, Any]) -> int:
    return sum(len(p["qas"]) for article in doc["data"] for p in article["paragraphs"])


def check_parallel(docs: dict[str, dict[str, Any]]) -> int:
    """The languages must hold the same articles with the same question ids, or the split would differ."""
    reference = docs[XQUAD_LANGUAGES[0]]["data"]
    for language, doc in docs.items():
        assert len(doc["data"]) == len(reference), language
        for article, ref in zip(doc["data"], reference, strict=True):
            ids = [q["id"] for p in article["paragraphs"] for q in p["qas"]]
            assert ids == [q["id"] for p in ref["paragraphs"] for q in p["qas"]], (language, article["title"])
    return len(reference)


def make_xquad(shared: Path, out: Path) -> dict[str, Any]:
    docs = {lang: json.loads((shared / "xquad" / f"xquad.{lang}.json").read_text("utf-8"))
            for lang in XQUAD_LANGUAGES}
    n_articles = check_parallel(docs)
    eval_idx = choose_articles(n_articles, XQUAD_EVAL_ARTICLES, XQUAD_SEED)
    train_idx = [i for i in range(n_articles) if i not in eval_idx]
    counts = {}
    for lang, doc in docs.items():
        for side, indices in (("train", train_idx), ("eval", eval_idx)):
            subset = {"version": doc.get("version", "1.1"), "data": [doc["data"][i] for i in indices]}
            text = json.dumps(subset, ensure_ascii=False) + "\n"
            write_text(out / "xquad" / f"xquad.{lang}.{side}.json", text)
            counts[f"xquad.{lang}.{side}.json"] = (len(indices), count_questions(subset))
    copy(shared / "xquad" / "LICENSE-CC-BY-SA-4.0.txt", out / "xquad" / "LICENSE-CC-BY-SA-4.0.txt")
    titles = [docs["en"]["data"][i]["title"] for i in eval_idx]
    last, n_eval, n_train = n_articles - 1, len(eval_idx), len(train_idx)
    files = "\n".join(f"- `{name}`: {a} articles, {q} questions" for name, (a, q) in counts.items())
    write_text(out / "xquad" / "README.md", f"""# XQuAD subsets (English, Spanish)

Origin: `{XQUAD_ORIGIN}`, files `xquad.en.json` and `xquad.es.json` (48 articles, 240 paragraphs,
1,190 questions each; the two files are parallel and share question ids).
Licence: CC BY-SA 4.0 (`LICENSE-CC-BY-SA-4.0.txt`). These subsets are adaptations and are shared under
the same licence. Only whole articles were selected; no text was changed.

{files}

## How the split was made

By article, so that no article (and no paragraph) is on both sides: questions about the same
text would leak answers from training into evaluation. The article indices `0..{last}` (file
order) were shuffled with Python's `random.Random({XQUAD_SEED}).shuffle`, and the first {n_eval} indices
of the shuffled list form the eval side; the other {n_train} are the train side. Both sides keep the
original article order. The same indices are used for English and Spanish.
Code: `scripts/make_quickstart_fixtures.py` (`lingotune.data.mix.choose_articles`).

Eval articles (index: title): {", ".join(f"{i}: {t}" for i, t in zip(eval_idx, titles, strict=True))}.
""")
    return {f"xquad/{name}": f"{q} questions ({a} articles)" for name, (a, q) in counts.items()}


# --------------------------------------------------------------------------------------------- NTREX
def make_ntrex(shared: Path, out: Path) -> dict[str, Any]:
    src, tgt = text_lines(shared / "ntrex128" / NTREX_SRC), text_lines(shared / "ntrex128" / NTREX_TGT)
    assert len(src) == len(tgt), (len(src), len(tgt))
    pairs = [f"{s}\t{t}\n" for s, t in zip(src, tgt, strict=True)]
    sides = {"train": pairs[:NTREX_TRAIN_LINES], "eval": pairs[NTREX_TRAIN_LINES:]}
    for side, rows in sides.items():
        write_text(out / "ntrex" / f"ntrex.en-es.{side}.tsv", "".join(rows))
    copy(shared / "ntrex128" / "LICENSE-CC-BY-SA-4.0.md", out / "ntrex" / "LICENSE-CC-BY-SA-4.0.md")
    write_text(out / "ntrex" / "README.md", f"""# NTREX-128 English → Spanish

Origin: `{NTREX_ORIGIN}`, `newstest2019-src.eng.txt` and `newstest2019-ref.spa.txt` (WMT19 English news
test set with human Spanish references), via the shared copies holding their first 1,000 lines.
Licence: CC BY-SA 4.0 (`LICENSE-CC-BY-SA-4.0.md`); these files are adaptations under the same licence.

- `ntrex.en-es.train.tsv`: lines 1–{NTREX_TRAIN_LINES} of both files, {len(sides["train"])} pairs.
- `ntrex.en-es.eval.tsv`: lines {NTREX_TRAIN_LINES + 1}–{len(pairs)}, {len(sides["eval"])} pairs.

Format: one pair per line, `English<TAB>Spanish`, UTF-8, LF line endings (the upstream files use CRLF).
Tabs inside a sentence would be replaced by a space (there are none). No other change.
Note: the split is by line number; the document spanning line {NTREX_TRAIN_LINES} is cut in two, so a few
eval sentences share a news story with train sentences.
""")
    return {f"ntrex/ntrex.en-es.{side}.tsv": f"{len(rows)} pairs" for side, rows in sides.items()}


# -------------------------------------------------------------------------------------- Self-Instruct
def to_alpaca(task: dict[str, Any]) -> list[dict[str, str]]:
    """One Alpaca row per instance; a task with several instances gets ids suffixed ``-1``, ``-2``..."""
    instances = task["instances"]
    return [
        {"id": task["id"] if len(instances) == 1 else f"{task['id']}-{k + 1}",
         "instruction": task["instruction"], "input": instance.get("input", ""), "output": instance["output"]}
        for k, instance in enumerate(instances)
    ]


def make_instructions(shared: Path, out: Path) -> dict[str, Any]:
    rows: list[dict[str, str]] = []
    per_file = {}
    for name in SELF_INSTRUCT:
        text = (shared / "instructions_en" / name).read_text("utf-8")
        tasks = [json.loads(line) for line in text.splitlines() if line.strip()]
        converted = [row for task in tasks for row in to_alpaca(task)]
        per_file[name] = (len(tasks), len(converted))
        rows += converted
    write_jsonl(out / "instructions_en" / "self_instruct.alpaca.jsonl", rows)
    copy(shared / "instructions_en" / "LICENSE-Apache-2.0-self-instruct.txt",
         out / "instructions_en" / "LICENSE-Apache-2.0.txt")
    sources = "\n".join(f"- `{name}`: {t} tasks → {r} rows" for name, (t, r) in per_file.items())
    write_text(out / "instructions_en" / "README.md", f"""# Self-Instruct English instructions (Alpaca format)

Origin: `{SELF_INSTRUCT_ORIGIN}`: `data/seed_tasks.jsonl` (human-written seed tasks) and
`human_eval/user_oriented_instructions.jsonl` (user-oriented instructions), in that order.
Licence: Apache-2.0 (`LICENSE-Apache-2.0.txt`).

{sources}

`self_instruct.alpaca.jsonl` has {len(rows)} rows `{{"id", "instruction", "input", "output"}}`, one per task
instance (every task has exactly one instance, so `id` is the upstream task id). Texts are unchanged.
Used as English "replay" data, so that tuning for a new language does not erase English ability.
""")
    return {"instructions_en/self_instruct.alpaca.jsonl": f"{len(rows)} rows"}


# ---------------------------------------------------------------------------------------- MT-Bench-X
def make_mt_bench_x(shared: Path, out: Path) -> dict[str, Any]:
    counts = {}
    for folder, lang in (("ES", "es"), ("EN", "en")):
        dst = out / "mt_bench_x" / f"question.{lang}.jsonl"
        copy(shared / "mt_bench_x" / folder / "question.jsonl", dst)
        lines = dst.read_text("utf-8").splitlines()
        counts[f"mt_bench_x/question.{lang}.jsonl"] = sum(1 for line in lines if line.strip())
        refs = out / "mt_bench_x" / f"reference_answer.{lang}.jsonl"
        copy(shared / "mt_bench_x" / folder / "reference_answer_gpt-4.jsonl", refs)
        counts[refs.relative_to(out).as_posix()] = sum(1 for line in refs.read_text("utf-8").splitlines() if line)
    copy(shared / "mt_bench_x" / "LICENSE-Apache-2.0.txt", out / "mt_bench_x" / "LICENSE-Apache-2.0.txt")
    write_text(out / "mt_bench_x" / "README.md", f"""# MT-Bench-X questions and reference answers (Spanish, English)

Origin: `{MT_BENCH_X_ORIGIN}`, `question.jsonl` of the ES and EN folders, copied byte for
byte as `question.es.jsonl` ({counts["mt_bench_x/question.es.jsonl"]} questions) and `question.en.jsonl`
({counts["mt_bench_x/question.en.jsonl"]} questions); 8 categories, 2 turns per question, ids such as
`81_ES`. The Spanish questions are the corrected translations.
`reference_answer/gpt-4.jsonl` of the same folders, byte for byte, as `reference_answer.es.jsonl` and
`reference_answer.en.jsonl`: GPT-4's answers to the {counts["mt_bench_x/reference_answer.es.jsonl"]} math, \
reasoning and coding questions (ids 101–130),
used by the quickstart as a weak reference-similarity signal (`reference_chrf`).
Licence: Apache-2.0 (`LICENSE-Apache-2.0.txt`).
""")
    return {name: f"{n} {'reference answers' if 'reference' in name else 'questions'}" for name, n in counts.items()}


def write_index(out: Path, listing: dict[str, str]) -> None:
    licences = {"xquad": ("CC BY-SA 4.0", XQUAD_ORIGIN), "ntrex": ("CC BY-SA 4.0", NTREX_ORIGIN),
                "instructions_en": ("Apache-2.0", SELF_INSTRUCT_ORIGIN),
                "mt_bench_x": ("Apache-2.0", MT_BENCH_X_ORIGIN)}
    rows = "\n".join(f"| `{name}` | {count} | {licences[name.split('/')[0]][0]} | "
                     f"{licences[name.split('/')[0]][1]} |" for name, count in listing.items())
    write_text(out / "README.md", f"""# Quickstart data

Small, freely licensed subsets used by `recipes/quickstart.yaml` and the tests. All were made by
`scripts/make_quickstart_fixtures.py` from the shared public data (deterministic; rerun it to check).
Each folder holds its licence text and a README saying exactly how its files were made. No
non-commercial data is included.

| file | rows | licence | origin |
|---|---|---|---|
{rows}
""")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared public data folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the fixtures")
    args = parser.parse_args()
    listing: dict[str, str] = {}
    for make in (make_xquad, make_ntrex, make_instructions, make_mt_bench_x):
        listing.update(make(args.shared, args.out))
    write_index(args.out, listing)
    for name, count in listing.items():
        print(f"{name}: {count}")


if __name__ == "__main__":
    main()
