"""What ``lingotune data codeswitch`` writes: the corpus summary, per-utterance scores, and histograms
of the S-index and CMI, so a user sees at a glance whether a set is mostly monolingual, lightly mixed
or heavily mixed before training on it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lingotune.language.codemix_metrics import METRICS, CorpusMetrics, corpus_metrics
from lingotune.language.conll import TaggedUtterance
from lingotune.report.plots import histograms_png

SUMMARY_ROWS = (
    ("utterances", "utterances"), ("tokens", "tokens"), ("language_names", "languages"),
    ("switched_share", "share of utterances that switch"), ("mean_s_index", "mean S-index"),
    ("mean_cmi", "mean CMI"), ("mean_cu", "mean Cu"), ("cc", "Cc (corpus)"), ("m_index", "M-index (corpus)"),
    ("lang_entropy", "language entropy (corpus, bits)"), ("i_index", "I-index (corpus)"),
    ("mean_burstiness", "mean burstiness"), ("mean_span_entropy", "mean span entropy"),
)


def codemix_summary(tags: Sequence[Sequence[str]]) -> tuple[dict[str, Any], CorpusMetrics]:
    """The corpus summary a user reads (counts, metric means, corpus indices, language names) and the
    metrics it came from."""
    metrics = corpus_metrics(list(tags))
    summary: dict[str, Any] = {"utterances": len(tags), "tokens": int(sum(len(t) for t in tags)),
                               **metrics.summary, "language_names": ", ".join(metrics.languages)}
    return summary, metrics


def codemix_report(utterances: Sequence[TaggedUtterance], tags: Sequence[Sequence[str]], out_dir: Path,
                   title: str) -> dict[str, Any]:
    """Write ``summary.json``, ``utterances.jsonl`` and ``histogram.png`` under ``out_dir``; return the summary."""
    summary, metrics = codemix_summary(tags)
    per = metrics.per_utterance
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    with (out_dir / "utterances.jsonl").open("w", encoding="utf-8") as handle:
        for i, (utterance, row) in enumerate(zip(utterances, tags, strict=True)):
            record = {"index": i, "line": utterance.line, "id": utterance.uid, "text": utterance.text,
                      "tags": list(row),
                      **{name: (None if not np.isfinite(per[name][i]) else round(float(per[name][i]), 6))
                         for name in METRICS}}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    (out_dir / "histogram.png").write_bytes(histograms_png({"S-index": per["s_index"], "CMI": per["cmi"]}, title))
    return summary
