"""Regenerate the golden results that ``tests/test_golden.py`` compares with.

    PYTHONPATH=. python tests/golden_regen.py                 # all golden recipes
    PYTHONPATH=. python tests/golden_regen.py tiny tiny_xcit  # some of them

Each recipe in ``tests/assets/`` runs afresh through the real CLI (new temporary run folder and
cache) and ``tests/assets/golden/<recipe>.json`` is overwritten with its snapshot.

A golden pins today's behaviour. Regenerate it ONLY when a change is MEANT to alter results (new
data handling, a different default, a bug fix that changes the numbers), never to make a failing
golden test pass after a change that was supposed to leave results unchanged, such as a refactor.
Commit the regenerated goldens with the change that caused them, and say in the commit message
why the results changed and which numbers moved (``git diff tests/assets/golden`` shows them).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.test_golden import RECIPES, run_recipe, snapshot, write_golden  # noqa: E402

os.environ.setdefault("LINGOTUNE_QUIET", "1")  # as tests/conftest.py does for the test run
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("recipes", nargs="*", metavar="RECIPE",
                        help=f"recipe names under tests/assets/ (default: all of {', '.join(RECIPES)})")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.recipes) - set(RECIPES))
    if unknown:
        parser.error(f"not a golden recipe: {', '.join(unknown)} (choose from {', '.join(RECIPES)})")
    with tempfile.TemporaryDirectory(prefix="lingotune-golden-") as workdir:
        for name in args.recipes or RECIPES:
            path = write_golden(name, snapshot(run_recipe(name, Path(workdir))))
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
