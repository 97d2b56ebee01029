"""Does the synthetic code-mixing builder's switching follow the requested rate? (issue 13)

NTREX en→es (1000 sentences, English matrix), every rate 0.0–1.0 in steps of 0.1, two dictionaries:
MUSE en–es (CC BY-NC: measurement only) and Wiktionary es→en reversed (CC BY-SA, the one the shipped
fixtures use). Per rate: achieved embedded share of word tokens, mean S-index, mean CMI, mean I-index,
from the builder's own tags. Writes synthetic_rate.json, synthetic_rate.md and synthetic_rate.png here.

    python docs/measurements/issue13/synthetic_rate.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from lingotune.data.codemix_synthetic import build_synthetic_codemix, read_dictionary
from lingotune.language.codemix_metrics import corpus_metrics

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[3] / "shared" / "data"
RATES = [round(0.1 * k, 1) for k in range(11)]
DICTIONARIES = {
    "MUSE en-es": (SHARED / "bilingual_dictionaries" / "muse_full" / "en-es.muse.tsv", False),
    "Wiktionary es-en, reversed": (SHARED / "bilingual_dictionaries" / "wiktionary_bli" / "es-en.test.tsv", True),
}


def main() -> None:
    src = (SHARED / "ntrex128" / "newstest2019-src.eng.first1000.txt").read_text(encoding="utf-8").splitlines()
    tgt = (SHARED / "ntrex128" / "newstest2019-ref.spa.first1000.txt").read_text(encoding="utf-8").splitlines()
    pairs = list(zip(src, tgt, strict=True))
    results: dict[str, list[dict[str, float]]] = {}
    for name, (path, reverse) in DICTIONARIES.items():
        dictionary = read_dictionary(str(path), reverse=reverse)
        rows = []
        for rate in RATES:
            mixed = build_synthetic_codemix(pairs, dictionary, matrix="en", embedded="es", rate=rate, seed=0)
            summary = corpus_metrics([m.utterance.tags for m in mixed]).summary
            rows.append({"rate": rate, "achieved": float(np.mean([m.achieved_rate for m in mixed])),
                         "s_index": summary["mean_s_index"], "cmi": summary["mean_cmi"],
                         "i_index": summary["mean_i_index"], "switched_share": summary["switched_share"]})
        results[name] = rows
    (HERE / "synthetic_rate.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    lines = ["# Synthetic code-mixing: requested rate vs measured switching (NTREX en→es, 1000 sentences)", ""]
    for name, rows in results.items():
        lines += [f"## {name}", "", "| requested rate | achieved share | mean S-index | mean CMI | mean I-index | "
                  "share switched |", "|---|---|---|---|---|---|"]
        lines += [f"| {r['rate']:.1f} | {r['achieved']:.3f} | {r['s_index']:.3f} | {r['cmi']:.1f} | "
                  f"{r['i_index']:.3f} | {r['switched_share']:.2f} |" for r in rows]
        lines.append("")
    (HERE / "synthetic_rate.md").write_text("\n".join(lines), encoding="utf-8")
    fig = Figure(figsize=(8, 3.2), dpi=110)
    for k, key in enumerate(("achieved", "s_index")):
        ax = fig.add_subplot(1, 2, k + 1)
        for name, rows in results.items():
            ax.plot([r["rate"] for r in rows], [r[key] for r in rows], marker="o", label=name)
        ax.set_xlabel("requested rate")
        ax.set_ylabel("achieved embedded share" if key == "achieved" else "mean S-index")
        ax.grid(alpha=0.3)
    fig.axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(HERE / "synthetic_rate.png")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
