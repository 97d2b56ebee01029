"""Build the NL→code data under data/code/ from the shared public data (deterministic; committed outputs).

- HumanEval-XL Python (MIT): English, Spanish, German, Chinese, Arabic, byte-identical copies.
- mHumanEval-Expert Python (Apache-2.0): Hindi, Bengali, Swahili, byte-identical copies.
- MBPP (CC BY 4.0): the test split (task ids 11–510) as released, and the train split (511–974) as Alpaca
  records (instruction = the task and its first test, output = the reference code with LF line endings) for
  training a code expert.

    python scripts/make_code_fixtures.py [--shared /path/to/shared/data] [--out data/code]
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SHARED = REPO.parent / "shared" / "data"
DEFAULT_OUT = REPO / "data" / "code"
HUMANEVAL_XL = ("English", "Spanish", "German", "Chinese", "Arabic")
MHUMANEVAL = ("hin_Deva", "ben_Beng", "swh_Latn")
MBPP_TEST, MBPP_TRAIN = (11, 510), (511, 974)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    xl, mh, mbpp = args.out / "humaneval_xl_python", args.out / "mhumaneval_expert_python", args.out / "mbpp"
    for folder in (xl, mh, mbpp):
        folder.mkdir(parents=True, exist_ok=True)
    for name in HUMANEVAL_XL:
        shutil.copyfile(args.shared / "humaneval_xl_python" / f"{name}.jsonl", xl / f"{name}.jsonl")
    shutil.copyfile(args.shared / "humaneval_xl_python" / "LICENSE-MIT.txt", xl / "LICENSE-MIT.txt")
    for code in MHUMANEVAL:
        shutil.copyfile(args.shared / "mhumaneval_expert_python" / f"Human_Expert_{code}.jsonl",
                        mh / f"Human_Expert_{code}.jsonl")
    shutil.copyfile(args.shared / "mhumaneval_expert_python" / "LICENSE-Apache-2.0.txt", mh / "LICENSE-Apache-2.0.txt")
    rows = [json.loads(line) for line in (args.shared / "mbpp" / "mbpp.jsonl").read_text(encoding="utf-8").splitlines()]
    test = [r for r in rows if MBPP_TEST[0] <= int(r["task_id"]) <= MBPP_TEST[1]]
    train = [{"instruction": f"{r['text']}\nYour code should pass this test:\n\n```python\n{r['test_list'][0]}\n```",
              "output": f"```python\n{r['code'].replace(chr(13), '')}\n```", "id": f"mbpp/{r['task_id']}"}
             for r in rows if MBPP_TRAIN[0] <= int(r["task_id"]) <= MBPP_TRAIN[1]]
    (mbpp / "mbpp.test.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in test),
                                          encoding="utf-8")
    (mbpp / "mbpp.train.alpaca.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in train),
                                                  encoding="utf-8")
    print(f"HumanEval-XL: {len(HUMANEVAL_XL)} languages; mHumanEval: {len(MHUMANEVAL)}; MBPP test {len(test)}, "
          f"train {len(train)}")


if __name__ == "__main__":
    main()
