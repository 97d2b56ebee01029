"""Training a token language-ID word model (:class:`~lingotune.language.token_lid.TokenLidModel`) from
token-tagged utterances: the shipped Hinglish model's trainer (``scripts/train_token_lid.py``) and ``lingotune
data train-tagger``, which lets a user with their own tagged data (another pair, or an in-domain set the shipped
model may not be trained on for licence reasons) make a tagger every code-switching command loads.

The model is a softmax regression over hashed character n-grams of each word type (plus the word itself and an
optional English-lexicon flag), weighted by the type's count per tag; deterministic (L-BFGS from zeros). Optionally
forward-corrected for label noise (Patrini et al. 2017) with a noise matrix estimated from the data. Written here
because no installable library trains a word-level language identifier for code-mixed text: scikit-learn would
add a dependency for one logistic regression, and its solvers lack the noise correction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import sparse
from scipy.optimize import minimize

from lingotune.core.errors import LingotuneError
from lingotune.language.conll import TaggedUtterance
from lingotune.language.tagsets import is_language_tag
from lingotune.language.token_lid import TokenLidModel, rule_tags, word_features, word_key

WORD_L2 = 1e-4  # best of 1e-5…1e-3 on held-out SentiMix tweets (scripts/train_token_lid.py)
NOISE_MIN_COUNT = 10


def fit_softmax(x: sparse.csr_matrix | np.ndarray, y: np.ndarray, weight: np.ndarray, k: int, l2: float,
                transition: np.ndarray | None = None, source: np.ndarray | None = None,
                ) -> tuple[np.ndarray, np.ndarray]:
    """L2-regularised softmax regression (mean weighted cross-entropy + l2/2 |W|², bias free), L-BFGS.

    With ``transition`` T (T[c, y] = P(label y | true class c)) the loss is forward-corrected (Patrini et al.
    2017, "Making deep neural networks robust to label noise"): -log (softmax(xW + b) @ T)[y], so the
    logits estimate the true class rather than the annotators' noisy tag. A ``transition`` of shape [S, K, K]
    gives one matrix per source, row i using ``transition[source[i]]``."""
    n, d = x.shape
    w_sum = weight.sum()
    t = np.eye(k) if transition is None else transition
    t_y = t[:, y].T if t.ndim == 2 else t[source, :, y]  # [n, k]: P(observed tag | true class)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:d * k].reshape(d, k), theta[d * k:]
        logits = np.asarray(x @ w) + b
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        q = (p * t_y).sum(axis=1)
        value = -(weight * np.log(q)).sum() / w_sum + 0.5 * l2 * (w * w).sum()
        g = (p - p * t_y / q[:, None]) * (weight / w_sum)[:, None]
        grad_w = np.asarray(x.T @ g) + l2 * w
        return float(value), np.concatenate([grad_w.ravel(), g.sum(axis=0)])

    result = minimize(loss, np.zeros(d * k + k), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return result.x[:d * k].reshape(d, k), result.x[d * k:]


def scored_examples(utterances: Sequence[TaggedUtterance], languages: Sequence[str],
                    script_languages: Mapping[str, str] | None = None) -> Counter[tuple[str, str]]:
    """(word key, gold tag) counts of the tokens the model decides: those no rule tags (Latin-script words,
    not numbers, handles or script-mapped words) whose gold tag is one of ``languages``."""
    counts: Counter[tuple[str, str]] = Counter()
    for u in utterances:
        for token, gold, rule in zip(u.tokens, u.tags, rule_tags(u.tokens, script_languages), strict=True):
            if rule is None and gold in languages:
                counts[(word_key(token), gold)] += 1
    return counts


def _by_type(counts: Counter[tuple[str, str]]) -> dict[str, Counter[str]]:
    by_type: dict[str, Counter[str]] = {}
    for (key, tag), n in counts.items():
        by_type.setdefault(key, Counter())[tag] += n
    return by_type


def noise_transition(counts: Counter[tuple[str, str]], languages: Sequence[str], min_count: int = NOISE_MIN_COUNT,
                     anchor: Counter[tuple[str, str]] | None = None) -> np.ndarray:
    """T[c, y], taking each word type seen ``min_count`` times or more to be its majority tag (or, with
    ``anchor``, its majority tag in those other counts: an independent reference)."""
    truth = {key: tags.most_common(1)[0][0] for key, tags in _by_type(counts if anchor is None else anchor).items()
             if sum(tags.values()) >= min_count}
    t = np.zeros((len(languages), len(languages)))
    for (key, tag), n in counts.items():
        if key in truth:
            t[languages.index(truth[key]), languages.index(tag)] += n
    t += np.eye(len(languages)) * (t.sum(axis=1, keepdims=True) == 0)  # a language never the truth: no noise
    return t / t.sum(axis=1, keepdims=True)


def fit_word_model(utterances: Sequence[TaggedUtterance], languages: Sequence[str], *, identity: bool = True,
                   ngrams: tuple[int, int] = (1, 5), buckets: int = 1 << 20, lexicon: frozenset[str] | None = None,
                   transition: np.ndarray | None = None, silver: Sequence[TaggedUtterance] = (),
                   silver_weight: float = 1.0, silver_transition: np.ndarray | None = None,
                   script_languages: Mapping[str, str] | None = None, l2: float = WORD_L2) -> TokenLidModel:
    """Word model on the (word, tag) counts of ``utterances`` and, each token weighted ``silver_weight``, of
    ``silver`` (its own noise matrix ``silver_transition``; None: the same as ``utterances``')."""
    languages = tuple(languages)
    counts = scored_examples(utterances, languages, script_languages)
    keys = sorted(counts)
    weights = [float(counts[k]) for k in keys]
    source = np.zeros(len(keys), np.int64)
    if silver and silver_weight > 0:
        silver_counts = scored_examples(silver, languages, script_languages)
        silver_keys = sorted(silver_counts)
        source = np.repeat([0, 1], [len(keys), len(silver_keys)])
        keys += silver_keys
        weights += [silver_weight * silver_counts[k] for k in silver_keys]
        if silver_transition is not None:
            transition = np.stack([np.eye(len(languages)) if transition is None else transition, silver_transition])
    if len({tag for _, tag in keys}) < 2:
        raise LingotuneError(f"a token language-ID model needs words of at least two of {', '.join(languages)} "
                             f"to learn from; the data has {len(keys)} word types, of "
                             f"{sorted({tag for _, tag in keys}) or 'no language'}")
    rows = [word_features(key, ngrams, buckets, identity, lexicon) for key, _ in keys]
    used, columns = np.unique(np.fromiter((f for r in rows for f in r), np.int64), return_inverse=True)
    indptr = np.cumsum([0] + [len(r) for r in rows])
    x = sparse.csr_matrix((np.ones(len(columns)), columns, indptr), shape=(len(rows), len(used)))
    x.sum_duplicates()
    y = np.array([languages.index(tag) for _, tag in keys])
    w, b = fit_softmax(x, y, np.array(weights), len(languages), l2, transition,
                       source if transition is not None and transition.ndim == 3 else None)
    return TokenLidModel(languages, used.astype(np.uint32), w.astype(np.float32), b.astype(np.float32), ngrams,
                         buckets, identity, script_languages=dict(script_languages or {}), lexicon=lexicon)


def languages_of(utterances: Sequence[TaggedUtterance]) -> tuple[str, ...]:
    """The language tags of tagged utterances, most frequent first."""
    counts = Counter(tag for u in utterances for tag in u.tags if is_language_tag(tag))
    return tuple(tag for tag, _ in counts.most_common())


def train_tagger(utterances: Sequence[TaggedUtterance], *, languages: Sequence[str] | None = None,
                 identity: bool = True, lexicon: frozenset[str] | None = None, noise: bool = False,
                 script_languages: Mapping[str, str] | None = None) -> TokenLidModel:
    """A word model for ``languages`` (default: every language tag of the data, most frequent first) from gold
    token tags. ``noise``: forward-correct for annotators who tag a word against its usual language (worth it on
    noisy crowd tags such as SentiMix's; on clean tags it costs a little)."""
    languages = tuple(languages or languages_of(utterances))
    if len(languages) < 2:
        raise LingotuneError(f"a token language-ID model needs two or more languages; the tags name "
                             f"{list(languages) or 'none'}")
    transition = (noise_transition(scored_examples(utterances, languages, script_languages), languages)
                  if noise else None)
    model = fit_word_model(utterances, languages, identity=identity, lexicon=lexicon, transition=transition,
                           script_languages=script_languages)
    if transition is not None:
        model.meta["noise_transition"] = transition.round(4).tolist()
    return model
