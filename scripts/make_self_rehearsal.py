"""Self-rehearsal data for the quickstart: the base model's own real answers to open prompts.

Fine-tuning SmolLM2-135M on QA spans and translation demonstrations made it copy open prompts back
(issue 10: MT-Bench-X ES echoes 32 → 50 of 80, English 9 → 24), whatever the mix weights or task tags.
Rehearsing the model's own answers on other open prompts keeps its chat behaviour where training does
not reach (self-synthesised rehearsal, Huang et al., ACL 2024; self-distillation fine-tuning, Yang et
al., ACL 2024), and keeping only answers that pass lingotune's checks (not an echo, loop or too short,
in the prompt's language) rehearses the good half of that behaviour only.

Prompts: Spanish instructions built from the quickstart's XQuAD-es *training* questions and article
titles (never the MT-Bench-X evaluation prompts), and the Self-Instruct English instructions.
Answers: the embedded default, greedy. Output is committed, so the quickstart does not generate it;
rerunning writes the same bytes on the same torch build. Usage::

    python scripts/make_self_rehearsal.py [--per-language 240] [--out docs/measurements/issue10/self_rehearsal]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from lingotune.data.loaders import load_examples
from lingotune.language.detect import detect_language
from lingotune.language.echo_loop import check_answer
from lingotune.models.generate import generate_batched
from lingotune.models.loading import load_model, load_tokenizer
from lingotune.models.sources import resolve_model

REPO = Path(__file__).resolve().parent.parent
QUICKSTART = REPO / "data" / "quickstart"
MODEL = "smollm2-135m-instruct"
MAX_NEW_TOKENS = 96
SEED = 0
ES_TEMPLATES = ("{question}", "Responde con detalle: {question}", "Explica con tus palabras: {question}",
                "Escribe un párrafo sobre {title}.", "Cuéntame qué sabes sobre {title}.")


def spanish_prompts(n: int) -> list[str]:
    examples = load_examples(QUICKSTART / "xquad" / "xquad.es.train.json", "squad", "es")
    rng = random.Random(SEED)
    rng.shuffle(examples)
    prompts = []
    for k, e in enumerate(examples[:n]):
        template = ES_TEMPLATES[k % len(ES_TEMPLATES)]
        title = str(e.meta.get("title", "")).replace("_", " ")
        prompts.append(template.format(question=e.meta["question"], title=title))
    return list(dict.fromkeys(prompts))


def english_prompts(n: int) -> list[str]:
    examples = load_examples(QUICKSTART / "instructions_en" / "self_instruct.alpaca.jsonl", "alpaca", "en")
    rng = random.Random(SEED)
    rng.shuffle(examples)
    return list(dict.fromkeys(e.prompt_messages[-1]["content"] for e in examples[:n]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-language", type=int, default=240)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "measurements" / "issue10" / "self_rehearsal")
    args = parser.parse_args()
    model_ref = resolve_model(MODEL)
    tokenizer, model = load_tokenizer(model_ref), load_model(model_ref, dtype="auto")
    args.out.mkdir(parents=True, exist_ok=True)
    for language, prompts in (("es", spanish_prompts(args.per_language)), ("en", english_prompts(args.per_language))):
        answers = generate_batched(model, tokenizer, [[{"role": "user", "content": p}] for p in prompts],
                                   max_new_tokens=MAX_NEW_TOKENS, batch_size=16, description=f"rehearsal {language}")
        kept, reasons = [], {"echo": 0, "loop": 0, "too_short": 0, "wrong_language": 0}
        for prompt, answer in zip(prompts, answers, strict=True):
            check = check_answer(prompt, answer)
            detected = detect_language(answer)
            for reason in ("echo", "loop", "too_short"):
                reasons[reason] += getattr(check, reason)
            if check.real and detected != language:
                reasons["wrong_language"] += 1
            if check.real and detected == language:
                kept.append({"messages": [{"role": "user", "content": prompt},
                                          {"role": "assistant", "content": answer.strip()}]})
        path = args.out / f"self_rehearsal.{language}.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept), encoding="utf-8")
        print(json.dumps({"language": language, "prompts": len(prompts), "kept": len(kept), "dropped": reasons}))


if __name__ == "__main__":
    main()
