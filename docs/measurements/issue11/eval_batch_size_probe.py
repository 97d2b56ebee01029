"""Generation batch size with prompts encoded packed: every prompt of the quickstart's five evaluation
tasks (MT-Bench-X ES/EN first turns, XQuAD-es/en, NTREX en→es) at each batch size, in one process, bf16,
the tasks' own ``max_new_tokens``.

    python docs/measurements/issue11/eval_batch_size_probe.py 32,16,24
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def main() -> None:
    from lingotune.models.generate import generate_batched
    from lingotune.models.loading import load_model, load_tokenizer
    from lingotune.models.sources import resolve_model
    from lingotune.plan.load import load_recipe

    recipe = load_recipe(REPO / "recipes" / "quickstart.yaml")
    tasks = [(spec.name, [item.conversation for item in spec.load_items(recipe.language_names)],
              spec.max_new_tokens) for spec in recipe.eval.tasks]
    resolved = resolve_model("smollm2-135m-instruct")
    model, tokenizer = load_model(resolved), load_tokenizer(resolved)
    for batch_size in (int(size) for size in sys.argv[1].split(",")):
        parts, total = [], 0.0
        for name, conversations, max_new in tasks:
            started = time.perf_counter()
            generate_batched(model, tokenizer, conversations, max_new_tokens=max_new, batch_size=batch_size)
            took = time.perf_counter() - started
            total += took
            parts.append(f"{name} {took:.1f}")
        print(batch_size, f"total {total:.1f} s:", ", ".join(parts), flush=True)


if __name__ == "__main__":
    main()
