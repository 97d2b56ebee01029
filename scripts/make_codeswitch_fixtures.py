"""Build the code-switching data under data/codeswitch/ from the shared public data.

Committed outputs, deterministic (rerunning writes the same bytes). Only permissively licensed sources:
SentiMix 2020 Hinglish (CC BY 4.0), Hinglish-TOP (Apache-2.0), NTREX (CC BY-SA 4.0) and the Wiktionary
es→en dictionary (CC BY-SA). Usage::

    python scripts/make_codeswitch_fixtures.py [--shared /path/to/shared/data] [--out data/codeswitch]
"""

from __future__ import annotations

import argparse
import csv
import shutil
import zlib
from dataclasses import replace
from pathlib import Path

from lingotune.data.codemix_synthetic import build_synthetic_codemix, read_dictionary
from lingotune.language.conll import read_conll, write_conll

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SHARED = REPO.parent / "shared" / "data"
DEFAULT_OUT = REPO / "data" / "codeswitch"

SENTIMIX_EVAL_PER_MILLE = 100  # 10 % of tweets by a hash of their uid: evaluation
TOP_TRAIN_ROWS, TOP_EVAL_ROWS = 1200, 300  # Hinglish-TOP: first rows of train.tsv / every k-th of test.tsv
SPANGLISH_RATES = (0.2, 0.35, 0.5)  # cycled over the sentences: a set spread over switching levels
SPANGLISH_SEED = 0


def _held_out(uid: str) -> bool:
    return zlib.crc32(f"sentimix-eval:{uid}".encode()) % 1000 < SENTIMIX_EVAL_PER_MILLE


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")


def sentimix(shared: Path, out: Path) -> dict[str, int]:
    src = shared / "sentimix2020"
    utterances = read_conll(src / "Hinglish_dev_3k_split_conll.txt", "sentimix_hinglish")
    train = [u for u in utterances if not _held_out(u.uid or "")]
    held = [u for u in utterances if _held_out(u.uid or "")]
    (out / "sentimix").mkdir(parents=True, exist_ok=True)
    for name, part in (("train", train), ("eval", held)):  # the corpus's own tags, as released
        write_conll(part, out / "sentimix" / f"sentimix_hinglish.{name}.conll", tags=[u.raw_tags for u in part])
    shutil.copyfile(src / "LICENSE-NOTICE.md", out / "sentimix" / "LICENSE-NOTICE.md")
    return {"sentimix train": len(train), "sentimix eval": len(held)}


def hinglish_top(shared: Path, out: Path) -> dict[str, int]:
    src = shared / "hinglish_top"

    def rows(name: str) -> list[dict[str, str]]:
        with (src / name).open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))

    train = rows("train.tsv")[:TOP_TRAIN_ROWS]
    test = rows("test.tsv")
    step = len(test) // TOP_EVAL_ROWS
    evaluation = test[::step][:TOP_EVAL_ROWS]
    folder = out / "hinglish_top"
    for split, chosen in (("train", train), ("eval", evaluation)):
        # English request -> Hinglish request (rewriting), Hinglish request -> its parse (semantic parsing)
        for name, left, right in (("en-hi", "en_query", "cs_query"), ("parse", "cs_query", "cs_parse")):
            _write(folder / f"hinglish_top.{name}.{split}.tsv", "".join(f"{r[left]}\t{r[right]}\n" for r in chosen))
    shutil.copyfile(src / "LICENSE-Apache-2.0.md", folder / "LICENSE-Apache-2.0.md")
    return {"hinglish_top train": len(train), "hinglish_top eval": len(evaluation)}


def spanglish(shared: Path, out: Path) -> dict[str, int]:
    """English NTREX evaluation sentences mixed with Spanish words (the unseen pair), with their rates."""
    pairs = [tuple(line.split("\t")) for line in
             (REPO / "data" / "quickstart" / "ntrex" / "ntrex.en-es.eval.tsv").read_text(encoding="utf-8").splitlines()]
    dictionary = read_dictionary(str(shared / "bilingual_dictionaries" / "wiktionary_bli" / "es-en.test.tsv"),
                                 reverse=True)
    mixed = build_synthetic_codemix(pairs, dictionary, matrix="en", embedded="es", rate=SPANGLISH_RATES,
                                    seed=SPANGLISH_SEED)
    folder = out / "spanglish_synthetic"
    rows = [f"{en}\t{m.text}\n" for (en, _), m in zip(pairs, mixed, strict=True)]
    _write(folder / "ntrex_en_es.mixed.eval.tsv", "".join(rows))
    write_conll([replace(m.utterance, uid=str(index), label=f"rate={m.requested_rate}")
                 for index, m in enumerate(mixed)], folder / "ntrex_en_es.mixed.eval.conll")
    return {"spanglish eval": len(mixed)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    counts = {**sentimix(args.shared, args.out), **hinglish_top(args.shared, args.out),
              **spanglish(args.shared, args.out)}
    for name, count in counts.items():
        print(f"{name}: {count}")


if __name__ == "__main__":
    main()
