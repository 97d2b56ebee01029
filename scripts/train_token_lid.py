"""Train the shipped Hinglish token language identifier (``lingotune/language/assets/token_lid_hinglish.npz``)
and measure it: held-out SentiMix tweets and L3Cube-HingLID, against a majority baseline and the plain
character n-gram model, so what the word identity, noise correction, lexicon and context parts add is measured.

Data (``/work/shared/data/SOURCES.md`` §3, §5): the tagged training data is the SentiMix 2020 Hinglish dev
file (3,000 tweets, CC BY 4.0, so the model may ship) minus the tweets with ``crc32(uid) % 100 < 15`` (held
out, 429 tweets). The English lexicon feature is the word list of two untagged English texts, both Apache-2.0:
Hinglish-TOP's ``en_query`` column and the self-instruct seed / user-oriented instructions. L3Cube-HingLID
(first 1,000 validation sentences, CC BY-NC-SA) is evaluation only, never trained or tuned on (the word L2 was
picked on the held-out SentiMix tweets). It has no ``other`` tokens (numbers are HI/EN), so it is tagged with
``languages_only``. Its reference points (majority 70.7 %, character n-grams ~93.5 %, lexicon + n-grams ~96.5 %,
transformers ~98 %) are the figures the issue quotes for models trained on HingLID's own training split.

SentiMix's tags are noisy (``love`` is Hin 100 times and Eng 66, ``you`` Hin 197 / Eng 261), English words far
more often than Hindi ones, and in runs. The word model therefore uses a forward loss correction with a noise
matrix estimated from the training data itself (:func:`noise_transition`), and the context stage, trained on
the same tags, learns to copy that run noise: it is measured, not shipped.

Training is deterministic (no sampling; L-BFGS from zeros): the word model is a softmax regression over hashed
features of each word type weighted by its count per tag; the context stage is a softmax regression over
:func:`~lingotune.language.token_lid.context_features` of out-of-fold word scores (5 folds by tweet).

    python scripts/train_token_lid.py [--out PATH] [--json PATH] [--md PATH] [--no-write]
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import sys
import time
import zlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import regex
from scipy import sparse
from scipy.optimize import minimize

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from lingotune.language.conll import TaggedUtterance, read_conll  # noqa: E402
from lingotune.language.token_lid import (  # noqa: E402
    ASSETS,
    SHIPPED,
    TokenLidModel,
    TokenTagger,
    context_features,
    rule_tags,
    word_features,
    word_key,
)

DATA = REPO.parent / "shared" / "data"
SENTIMIX = DATA / "sentimix2020" / "Hinglish_dev_3k_split_conll.txt"
HINGLID = DATA / "l3cube_hinglid" / "validation.first1000.txt"
LEXICON_SOURCES = {  # untagged English text, Apache-2.0: file -> how to get its English text
    DATA / "hinglish_top" / f"{part}.tsv": "en_query" for part in ("train", "validation", "test")
} | {DATA / "instructions_en" / f"{name}.jsonl": "json" for name in ("self_instruct_seed_tasks",
                                                                    "self_instruct_user_oriented_instructions")}
LANGUAGES = ("hi", "en")
SCRIPT_LANGUAGES = {"ARABIC": "ur"}  # Arabic script in Hinglish tweets is Urdu
HELDOUT_PERCENT = 15
FOLDS = 5
WORD_L2 = 1e-4  # best of 1e-5…1e-3 on the held-out SentiMix tweets without handles
CONTEXT_L2 = 1e-4
NOISE_MIN_COUNT = 10


def is_heldout(uid: str | None) -> bool:
    return zlib.crc32((uid or "").encode()) % 100 < HELDOUT_PERCENT


def split(utterances: Sequence[TaggedUtterance]) -> tuple[list[TaggedUtterance], list[TaggedUtterance]]:
    return [u for u in utterances if not is_heldout(u.uid)], [u for u in utterances if is_heldout(u.uid)]


def english_lexicon() -> frozenset[str]:
    """Word keys of the untagged English texts in :data:`LEXICON_SOURCES`."""
    words: set[str] = set()
    for path, how in LEXICON_SOURCES.items():
        with open(path, encoding="utf-8") as handle:
            texts = ([row[how] for row in csv.DictReader(handle, delimiter="\t")] if how != "json"
                     else [json.dumps(json.loads(line), ensure_ascii=False) for line in handle])
        for text in texts:
            words.update(word_key(w) for w in regex.findall(r"\p{L}+(?:'\p{L}+)?", text))
    return frozenset(words)


def fit_softmax(x: sparse.csr_matrix | np.ndarray, y: np.ndarray, weight: np.ndarray, k: int, l2: float,
                transition: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """L2-regularised softmax regression (mean weighted cross-entropy + l2/2 |W|², bias free), L-BFGS.

    With ``transition`` T (T[c, y] = P(label y | true class c)) the loss is forward-corrected (Patrini et al.
    2017, "Making deep neural networks robust to label noise"): -log (softmax(xW + b) @ T)[y], so the
    logits estimate the true class rather than the annotators' noisy tag."""
    n, d = x.shape
    w_sum = weight.sum()
    t = np.eye(k) if transition is None else transition

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:d * k].reshape(d, k), theta[d * k:]
        logits = np.asarray(x @ w) + b
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        t_y = t[:, y].T  # [n, k]: P(observed tag | true class)
        q = (p * t_y).sum(axis=1)
        value = -(weight * np.log(q)).sum() / w_sum + 0.5 * l2 * (w * w).sum()
        g = (p - p * t_y / q[:, None]) * (weight / w_sum)[:, None]
        grad_w = np.asarray(x.T @ g) + l2 * w
        return float(value), np.concatenate([grad_w.ravel(), g.sum(axis=0)])

    result = minimize(loss, np.zeros(d * k + k), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return result.x[:d * k].reshape(d, k), result.x[d * k:]


def scored_examples(utterances: Sequence[TaggedUtterance]) -> Counter[tuple[str, str]]:
    """(word key, gold tag) counts of the tokens the model decides (Latin words, not split handles)."""
    counts: Counter[tuple[str, str]] = Counter()
    for u in utterances:
        for token, gold, rule in zip(u.tokens, u.tags, rule_tags(u.tokens, SCRIPT_LANGUAGES), strict=True):
            if rule is None and gold in LANGUAGES:
                counts[(word_key(token), gold)] += 1
    return counts


def noise_transition(counts: Counter[tuple[str, str]], min_count: int = NOISE_MIN_COUNT) -> np.ndarray:
    """T[c, y], taking each word type seen ``min_count`` times or more to be its majority tag: SentiMix's
    annotators tag against that majority for ~19 % of English tokens and ~12 % of Hindi ones."""
    by_type: dict[str, Counter[str]] = {}
    for (key, tag), n in counts.items():
        by_type.setdefault(key, Counter())[tag] += n
    t = np.zeros((len(LANGUAGES), len(LANGUAGES)))
    for tags in by_type.values():
        if sum(tags.values()) >= min_count:
            true = LANGUAGES.index(tags.most_common(1)[0][0])
            for tag, n in tags.items():
                t[true, LANGUAGES.index(tag)] += n
    return t / t.sum(axis=1, keepdims=True)


def fit_word_model(utterances: Sequence[TaggedUtterance], *, identity: bool = True, ngrams: tuple[int, int] = (1, 5),
                   buckets: int = 1 << 20, lexicon: frozenset[str] | None = None,
                   transition: np.ndarray | None = None) -> TokenLidModel:
    counts = scored_examples(utterances)
    keys = sorted(counts)
    rows = [word_features(key, ngrams, buckets, identity, lexicon) for key, _ in keys]
    used, columns = np.unique(np.fromiter((f for r in rows for f in r), np.int64), return_inverse=True)
    indptr = np.cumsum([0] + [len(r) for r in rows])
    x = sparse.csr_matrix((np.ones(len(columns)), columns, indptr), shape=(len(rows), len(used)))
    x.sum_duplicates()
    y = np.array([LANGUAGES.index(tag) for _, tag in keys])
    w, b = fit_softmax(x, y, np.array([counts[k] for k in keys], float), len(LANGUAGES), WORD_L2, transition)
    return TokenLidModel(LANGUAGES, used.astype(np.uint32), w.astype(np.float32), b.astype(np.float32), ngrams,
                         buckets, identity, script_languages=dict(SCRIPT_LANGUAGES), lexicon=lexicon)


def fit_context(train_set: Sequence[TaggedUtterance], options: dict) -> tuple[np.ndarray, np.ndarray]:
    """Context stage on out-of-fold word scores (folds by tweet uid), same noise correction as the words."""
    feats, golds = [], []
    for fold in range(FOLDS):
        inside = [u for u in train_set if zlib.crc32(f"fold:{u.uid}".encode()) % FOLDS == fold]
        outside = [u for u in train_set if zlib.crc32(f"fold:{u.uid}".encode()) % FOLDS != fold]
        tagger = TokenTagger(fit_word_model(outside, **options))
        routes = [r for u in inside for r in rule_tags(u.tokens, SCRIPT_LANGUAGES)]
        scored = np.array([r is None for r in routes])
        z = np.zeros((len(routes), len(LANGUAGES)), np.float32)
        z[scored] = tagger.word_logits([word_key(t) for t, r in zip((t for u in inside for t in u.tokens), routes,
                                                                    strict=True) if r is None])
        utterance = np.repeat(np.arange(len(inside)), [len(u.tokens) for u in inside])
        gold = np.array([LANGUAGES.index(g) if g in LANGUAGES else -1 for u in inside for g in u.tags])
        keep = scored & (gold >= 0)
        feats.append(context_features(z, scored, utterance)[keep])
        golds.append(gold[keep])
    x, y = np.concatenate(feats), np.concatenate(golds)
    return fit_softmax(x, y, np.ones(len(y)), len(LANGUAGES), CONTEXT_L2, options.get("transition"))


def train(utterances: Sequence[TaggedUtterance], *, identity: bool = True, noise: bool = True,
          lexicon: frozenset[str] | None = None, context: bool = False) -> TokenLidModel:
    options: dict = {"identity": identity, "lexicon": lexicon}
    if noise:
        options["transition"] = noise_transition(scored_examples(utterances))
    model = fit_word_model(utterances, **options)
    if context:
        w, b = fit_context(utterances, options)
        model.context_weight, model.context_bias = w.astype(np.float32), b.astype(np.float32)
    if noise:
        model.meta["noise_transition"] = options["transition"].round(4).tolist()
    return model


def scores(gold: Sequence[str], predicted: Sequence[str]) -> dict:
    """Token accuracy and per-tag F1 (tags of gold or predictions)."""
    out: dict = {"tokens": len(gold), "accuracy": sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold)}
    for tag in sorted(set(gold) | set(predicted)):
        tp = sum(g == p == tag for g, p in zip(gold, predicted, strict=True))
        n_pred, n_gold = list(predicted).count(tag), list(gold).count(tag)
        precision, recall = tp / n_pred if n_pred else 0.0, tp / n_gold if n_gold else 0.0
        out[f"f1_{tag}"] = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return out


def handle_mask(utterances: Sequence[TaggedUtterance]) -> list[bool]:
    """True for the split handles (``@`` ``user``): SentiMix tags them hi/en at random, canonically other."""
    return [split is not None and joined is None for u in utterances
            for split, joined in zip(rule_tags(u.tokens), rule_tags(u.tokens, split_marks=False), strict=True)]


def evaluate(tagger: TokenTagger, heldout: Sequence[TaggedUtterance], hinglid: Sequence[TaggedUtterance]) -> dict:
    """SentiMix held-out: all tokens, and without split handles; HingLID: ``languages_only``, all tokens and
    only the tokens the tagger routes to its model (its language decisions; numbers are left out)."""
    gold = [g for u in heldout for g in u.tags]
    flat = [p for row in tagger.tag_many(u.tokens for u in heldout) for p in row]
    keep = [not h for h in handle_mask(heldout)]
    sentimix = scores(gold, flat)
    sentimix["accuracy_without_handles"] = scores([g for g, k in zip(gold, keep, strict=True) if k],
                                                  [p for p, k in zip(flat, keep, strict=True) if k])["accuracy"]
    hl_gold = [g for u in hinglid for g in u.tags]
    hl = [p for row in tagger.tag_many((u.tokens for u in hinglid), languages_only=True) for p in row]
    decided = [r is None for u in hinglid for r in rule_tags(u.tokens)]
    hinglid_scores = scores(hl_gold, hl)
    hinglid_scores["accuracy_language_decisions"] = scores(
        [g for g, d in zip(hl_gold, decided, strict=True) if d], [p for p, d in zip(hl, decided, strict=True) if d],
    )["accuracy"]
    return {"sentimix_heldout": sentimix, "hinglid": hinglid_scores}


def baselines(train_set: Sequence[TaggedUtterance], heldout: Sequence[TaggedUtterance],
              hinglid: Sequence[TaggedUtterance]) -> dict:
    """Majority tag everywhere; and how often SentiMix's own majority tag of a word type agrees with HingLID's
    gold on the HingLID tokens whose type occurs in training (what learning SentiMix perfectly would give)."""
    top = Counter(g for u in train_set for g in u.tags if g in LANGUAGES).most_common(1)[0][0]
    gold = [g for u in heldout for g in u.tags]
    hl = [g for u in hinglid for g in u.tags]
    by_type: dict[str, Counter[str]] = {}
    for (key, tag), n in scored_examples(train_set).items():
        by_type.setdefault(key, Counter())[tag] += n
    seen = [(by_type[word_key(t)].most_common(1)[0][0], g) for u in hinglid for t, g in zip(u.tokens, u.tags,
                                                                                         strict=True)
            if word_key(t) in by_type]
    sentimix, hinglid_scores = scores(gold, [top] * len(gold)), scores(hl, [top] * len(hl))
    sentimix["accuracy_without_handles"] = sum(g == top for g, h in zip(gold, handle_mask(heldout), strict=True)
                                               if not h) / (len(gold) - sum(handle_mask(heldout)))
    decided = [g for u in hinglid for g, r in zip(u.tags, rule_tags(u.tokens), strict=True) if r is None]
    hinglid_scores["accuracy_language_decisions"] = decided.count(top) / len(decided)
    return {"majority": {"sentimix_heldout": sentimix, "hinglid": hinglid_scores},
            "sentimix_type_majority_on_hinglid": {"tokens": len(seen), "share_of_hinglid": len(seen) / len(hl),
                                                  "agreement": sum(a == b for a, b in seen) / len(seen)}}


VARIANTS: dict[str, dict] = {
    "char n-grams 1-5": {"identity": False, "noise": False},
    "+ word identity": {"identity": True, "noise": False},
    "+ noise correction": {"identity": True, "noise": True},
    "+ English lexicon (shipped)": {"identity": True, "noise": True, "lexicon": True},
    "shipped + context stage": {"identity": True, "noise": True, "lexicon": True, "context": True},
    "+ word identity + context stage": {"identity": True, "noise": False, "context": True},
}
SHIPPED_VARIANT = "+ English lexicon (shipped)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(ASSETS / SHIPPED["hinglish"]))
    parser.add_argument("--json", default=str(REPO / "docs" / "measurements" / "issue13" / "tagger.json"))
    parser.add_argument("--md", default=str(REPO / "docs" / "measurements" / "issue13" / "tagger.md"))
    parser.add_argument("--no-write", action="store_true", help="measure only; write no model or report")
    opts = parser.parse_args()

    train_set, heldout = split(read_conll(SENTIMIX, "sentimix_hinglish"))
    hinglid = read_conll(HINGLID, "l3cube")
    lexicon = english_lexicon()
    report: dict = {"date": datetime.date.today().isoformat(),
                    "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
                               f"numpy {np.__version__}",
                    "train_tweets": len(train_set), "heldout_tweets": len(heldout), "lexicon_words": len(lexicon)}
    report |= baselines(train_set, heldout, hinglid)
    results: dict = {"majority": report.pop("majority")}
    for name, variant in VARIANTS.items():
        started = time.perf_counter()
        model = train(train_set, **(variant | {"lexicon": lexicon if variant.get("lexicon") else None}))
        seconds = time.perf_counter() - started
        tagger = TokenTagger(model)
        if name == SHIPPED_VARIANT:
            report["noise_transition"] = model.meta["noise_transition"]
            model.meta |= {"trained_on": f"{SENTIMIX.name} minus crc32(uid) % 100 < {HELDOUT_PERCENT} "
                                         f"({len(train_set)} tweets; CC BY 4.0)",
                           "lexicon": "English words of Hinglish-TOP en_query and self-instruct (Apache-2.0)",
                           "word_l2": WORD_L2, "trainer": "scripts/train_token_lid.py"}
            if not opts.no_write:
                model.save(opts.out)
                tagger = TokenTagger(TokenLidModel.load(opts.out))  # measured as shipped (float16 weights)
                report["asset_bytes"] = Path(opts.out).stat().st_size
        results[name] = evaluate(tagger, heldout, hinglid) | {"train_seconds": round(seconds, 1),
                                                               "weights": int(len(model.index))}
        print(f"{name}: SentiMix {results[name]['sentimix_heldout']['accuracy']:.4f}, "
              f"HingLID {results[name]['hinglid']['accuracy']:.4f} ({seconds:.1f} s)", file=sys.stderr, flush=True)
    report["results"] = results
    if not opts.no_write:
        Path(opts.json).parent.mkdir(parents=True, exist_ok=True)
        Path(opts.json).write_text(json.dumps(report, indent=2) + "\n")
        Path(opts.md).write_text(markdown(report))
    print(table(report))


def table(report: dict) -> str:
    """The Markdown table of ``tagger.md``."""
    lines = ["| model | SentiMix held-out acc. | w/o split handles | F1 hi / en / other | HingLID acc. | "
             "HingLID language decisions | F1 hi / en |", "|---|---|---|---|---|---|---|"]
    for name, r in report["results"].items():
        s, h = r["sentimix_heldout"], r["hinglid"]
        lines.append(f"| {name} | {100 * s['accuracy']:.2f} | {100 * s.get('accuracy_without_handles', 0):.2f} | "
                     + " / ".join(f"{100 * s.get(f'f1_{t}', 0):.1f}" for t in ("hi", "en", "other"))
                     + f" | {100 * h['accuracy']:.2f} | {100 * h.get('accuracy_language_decisions', 0):.2f} | "
                     + " / ".join(f"{100 * h.get(f'f1_{t}', 0):.1f}" for t in ("hi", "en")) + " |")
    return "\n".join(lines)


def markdown(report: dict) -> str:
    r = report["results"]
    shipped, context = r[SHIPPED_VARIANT], r["shipped + context stage"]
    oracle, noise = report["sentimix_type_majority_on_hinglid"], report["noise_transition"]
    pct = lambda x: f"{100 * x:.2f} %"  # noqa: E731
    gain = context["sentimix_heldout"]["accuracy"] - shipped["sentimix_heldout"]["accuracy"]
    loss = shipped["hinglid"]["accuracy"] - context["hinglid"]["accuracy"]
    return f"""# Token-level language ID for code-mixed Hinglish (issue 13)

Written by `scripts/train_token_lid.py` on {report["date"]} ({report["machine"]}); numbers in `tagger.json`.
Model: `lingotune/language/assets/token_lid_hinglish.npz` ({report.get("asset_bytes", 0) / 1e6:.2f} MB), loaded by
`lingotune.language.token_lid.load_tagger("hinglish")`.

Training: SentiMix 2020 Hinglish dev, {report["train_tweets"]} tweets (CC BY 4.0); held out: the
{report["heldout_tweets"]} tweets with `crc32(uid) % 100 < {HELDOUT_PERCENT}`. English lexicon feature: the
{report["lexicon_words"]:,} word types of Hinglish-TOP `en_query` and the self-instruct instructions (Apache-2.0,
untagged). L3Cube-HingLID (first 1,000 validation sentences, CC BY-NC-SA) is evaluation only, tagged with
`languages_only` (it has no `other`; its numbers are HI/EN); "language decisions" leaves out the tokens the rules
tag `other` (numbers). "w/o split handles": SentiMix tags the user name after a split-off `@` Hin/Eng at random,
the tagger calls it `other` (a mention), as the canonical tagset does.

{table(report)}

HingLID reference points (models trained on HingLID's own training split, as quoted in the issue): majority
70.7 %, character n-grams ~93.5 %, lexicon + n-grams ~96.5 %, transformer taggers ~98 %.

## Findings

- **HingLID {pct(shipped["hinglid"]["accuracy"])}: the ~93.5 % char n-gram reference is not reached** training
  on SentiMix. The two corpora disagree on what a word is: on the {pct(oracle["share_of_hinglid"])} of HingLID
  tokens whose word occurs in the training tweets, SentiMix's own majority tag agrees with HingLID's gold only
  {pct(oracle["agreement"])} of the time. HingLID tags the Hindi abbreviations `h` (hai), `kr` (kar), `pr` (par),
  `or` (aur) and almost every number EN; SentiMix tags English words in Hindi tweets Hin (`please` 19 Hin / 5 Eng,
  `love` 93 / 59, `vote` 24 / 5). A model that learned SentiMix's tags perfectly would land near that figure.
- Word identity adds little over character n-grams (the n-grams already see the whole short word). The
  forward noise correction (Patrini et al. 2017) with a noise matrix estimated from the training tweets (each
  frequent word's majority tag taken as true: an English token is tagged Hin {pct(noise[1][0])} of the time, a
  Hindi one Eng {pct(noise[0][1])}) and the English lexicon feature each add ~0.5–0.8 points on HingLID.
- **The context stage is measured, not shipped**: it gains {100 * gain:.2f} points on held-out SentiMix but loses
  {100 * loss:.2f} on HingLID. Trained on SentiMix's tags, it learns that neighbours share a tag
  (the annotators tag runs of English words in Hindi tweets Hin), so it smooths real switches away, which would
  bias switch-based metrics (CMI, I-index) downward on clean text.
- Tried and dropped: a noise matrix per tweet (Hindi-dominant / mixed / English-dominant tweets, English anchors
  from the lexicon): HingLID 88.36 % against 88.63 %; the word L2 grid 1e-5…1e-3 (picked 1e-4 on held-out
  SentiMix); lingua word by word as a fallback: 78 % on a HingLID sample (English → en, else hi) against 89 %,
  and 75–200× slower (`benchmarks/token_lid.py`).
"""


if __name__ == "__main__":
    main()
