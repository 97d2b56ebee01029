"""``kind: codemix_generation``: prompts whose answer is code-mixed text (English → Hinglish rewriting of
Hinglish-TOP, a synthetic Spanish–English rewrite…), scored against the reference by chrF and by how
much the answer mixes: its S-index and CMI (methods.md §4), with tags from the token-level language
identifier (``tagger``), the distance of its S-index to the requested level, and the share of answers that
loop (``loop``, as open-ended kinds count it; echo is not counted: a good rewrite keeps many prompt words).

The requested level is ``target_s_index`` when set, else each item's reference: a model asked for
Hinglish that answers in English (S = 0) or in Hindi alone is as far from a mixed reference as one that
mixes every other word, while chrF alone rewards the English answer for the English words it shares.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

import numpy as np
from pydantic import Field

from lingotune.data.example import Example
from lingotune.eval.bootstrap import bootstrap_ci
from lingotune.eval.tasks.base import EvalItem, TaskScores, TaskSpec, metric, register, templated
from lingotune.eval.translation import chrf_ci, sentence_chrf
from lingotune.language.codemix_metrics import corpus_metrics
from lingotune.language.echo_loop import LOOP_THRESHOLD, loop_share
from lingotune.language.lingua_pair_tagger import parse_pair_spec
from lingotune.language.taggers import tag_texts
from lingotune.language.token_lid import tagger_path

# bump when the scores change, so cached base evaluations are redone (2: loop rate; 3: per-item loop 0/1)
SCORING_VERSION = 3


def mixing_scores(texts: list[str], tagger: str) -> dict[str, np.ndarray]:
    """Per text: S-index and CMI of its tokens as ``tagger`` tags them (0 for an empty text)."""
    tags = tag_texts(texts, tagger)
    per = corpus_metrics(tags).per_utterance
    return {"s_index": np.nan_to_num(per["s_index"]), "cmi": np.nan_to_num(per["cmi"])}


@register
class CodemixGenerationTask(TaskSpec):
    kind: Literal["codemix_generation"]
    tagger: str = Field(default="hinglish", description="a shipped tagger (hinglish), a tagger file, or "
                        "lingua:LANG1,LANG2 for a pair no tagger covers")
    target_s_index: float | None = Field(default=None, ge=0)

    def cache_identity(self) -> dict[str, Any]:
        scoring = {"scoring": SCORING_VERSION}
        if parse_pair_spec(self.tagger):
            from importlib.metadata import version

            return {**scoring, "tagger": self.tagger, "lingua": version("lingua-language-detector")}
        path = tagger_path(self.tagger)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else "missing"
        return {**scoring, "tagger": digest}

    def build(self, examples: list[Example], language_names: dict[str, str]) -> tuple[list[Example], list[Any]]:
        return templated(examples, self.prompt_template)

    def score(self, items: list[EvalItem], outputs: list[str], detections: list[dict[str, Any]],
              resamples: int) -> TaskScores:
        refs = [str(item.reference) for item in items]
        out = mixing_scores(outputs, self.tagger)
        ref = mixing_scores(refs, self.tagger)
        target = np.full(len(items), self.target_s_index) if self.target_s_index is not None else ref["s_index"]
        gap = np.abs(out["s_index"] - target)
        # a looping answer ("este liegue este liegue …") mixes nothing on purpose: counted beside the mixing
        looped = np.array([float(loop_share(o) >= LOOP_THRESHOLD) for o in outputs])  # 0/1 per item, % in summary
        per_item = [{"chrf": sentence_chrf(o, r), "s_index": float(s), "cmi": float(c), "s_index_ref": float(t),
                     "s_index_gap": float(g), "loop": lp}
                    for o, r, s, c, t, g, lp in zip(outputs, refs, out["s_index"], out["cmi"], target, gap, looped,
                                                    strict=True)]
        return TaskScores(per_item, {
            "chrf": metric(chrf_ci(outputs, refs, n_resamples=resamples)),
            "s_index_gap": metric(bootstrap_ci(gap, resamples)),
            "s_index": metric(bootstrap_ci(out["s_index"], resamples)),
            "cmi": metric(bootstrap_ci(out["cmi"], resamples)),
            "loop": metric(bootstrap_ci(100 * looped, resamples)),
        }, {"reference_s_index": float(np.mean(ref["s_index"])) if len(refs) else float("nan"),
            "reference_cmi": float(np.mean(ref["cmi"])) if len(refs) else float("nan"), "tagger": self.tagger})
