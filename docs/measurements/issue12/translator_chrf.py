"""chrF of each offline translator on held-out NTREX en→es lines (the quickstart's eval split, never
used for few-shot), through lingotune's own translator (masking, few-shot, cache).

    PYTHONPATH=. python docs/measurements/issue12/translator_chrf.py MODEL [N] > out.json
"""

from __future__ import annotations

import json
import sys
import time

from lingotune.data.loaders import load_examples
from lingotune.data.translate.dataset import few_shot_pairs, make_translator_backend
from lingotune.data.translate.filters import field_reasons
from lingotune.data.translate.spec import TranslateSpec
from lingotune.data.translate.translator import Translator
from lingotune.eval.translation import chrf_ci
from lingotune.inference.backends import RequestCache

model, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 40
kind = sys.argv[3] if len(sys.argv) > 3 else "local"
pairs = load_examples("data/quickstart/ntrex/ntrex.en-es.eval.tsv", "parallel", "es", source_language="en")[:n]
spec = TranslateSpec(backend={"kind": kind, "model": model, "batch_size": 16},
                     few_shot={"path": "data/quickstart/ntrex/ntrex.en-es.train.tsv", "n": 2})
backend = make_translator_backend(spec.backend, "en", "es", RequestCache())
translator = Translator(backend, "en", "es", chat=kind != "seq2seq", few_shot=few_shot_pairs(spec, "es"))
started = time.time()
results = translator.translate_fields([p.meta["src"] for p in pairs])
seconds = time.time() - started
outputs = [r.text for r in results]
refs = [p.meta["tgt"] for p in pairs]
kept = [i for i, r in enumerate(results) if not field_reasons(r, "es", spec.filters)]
score = chrf_ci(outputs, refs, n_resamples=1000)
kept_score = chrf_ci([outputs[i] for i in kept], [refs[i] for i in kept], n_resamples=1000) if kept else None
print(json.dumps({"model": model, "kind": kind, "lines": n, "chrf": score, "kept_by_filters": len(kept),
                  "chrf_kept": kept_score, "seconds": round(seconds, 1),
                  "examples": [{"src": p.meta["src"], "out": o, "ref": r}
                               for p, o, r in zip(pairs[:3], outputs[:3], refs[:3], strict=True)]},
                 indent=1, ensure_ascii=False, default=str))
