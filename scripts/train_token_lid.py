"""Train the shipped Hinglish token language identifier (``lingotune/language/assets/token_lid_hinglish.npz``)
and measure it: held-out SentiMix tweets and L3Cube-HingLID, against a majority baseline and the plain
character n-gram model, so what the word identity, noise correction, lexicon and context parts add is measured.

Data (``/work/shared/data/SOURCES.md`` §3, §5): the tagged training data is the SentiMix 2020 Hinglish dev
file (3,000 tweets, CC BY 4.0, so the model may ship) minus the tweets with ``crc32(uid) % 100 < 15`` (held
out, 429 tweets), plus silver word tags of Hinglish-TOP's train and validation rows (Apache-2.0; its test rows are
a recipe's evaluation set and are not used): a word of the Hinglish rewrite (``cs_query``) found in the English
request (``en_query``) is English, one not found Hindi, names and homographs left out (:func:`silver_utterances`).
The English lexicon feature is the word list of two untagged English texts, both Apache-2.0: Hinglish-TOP's
``en_query`` column and the self-instruct seed / user-oriented instructions. L3Cube-HingLID (first 1,000 validation
sentences, CC BY-NC-SA) is evaluation only, never trained or tuned on (the word L2 was picked on the held-out
SentiMix tweets, the silver weight ×1 fixed beforehand). It has no ``other`` tokens (numbers are HI/EN), so it is
tagged with ``languages_only``. Its reference points (majority 70.7 %, character n-grams ~93.5 %, lexicon +
n-grams ~96.5 %, transformers ~98 %) are the figures the issue quotes for models trained on HingLID's own
training split.

SentiMix's tags are noisy (``love`` is Hin 100 times and Eng 66, ``you`` Hin 197 / Eng 261), English words far
more often than Hindi ones, and in runs. The word model therefore uses a forward loss correction with a noise
matrix (:func:`noise_transition`) estimated from the training data itself or, shipped, against the silver tags,
which are taken as clean; the context stage, trained on the SentiMix tags, learns to copy their run noise: it is
measured, not shipped.

Training is deterministic (no sampling; L-BFGS from zeros): the word model is a softmax regression over hashed
features of each word type weighted by its count per tag and source; the context stage is a softmax regression over
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

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from lingotune.language import token_lid_fit  # noqa: E402
from lingotune.language.conll import TaggedUtterance, read_conll  # noqa: E402
from lingotune.language.token_lid import (  # noqa: E402
    ASSETS,
    SHIPPED,
    TokenLidModel,
    TokenTagger,
    context_features,
    rule_tag,
    rule_tags,
    word_key,
)
from lingotune.language.token_lid_fit import NOISE_MIN_COUNT, WORD_L2, fit_softmax  # noqa: E402

DATA = REPO.parent / "shared" / "data"
SENTIMIX = DATA / "sentimix2020" / "Hinglish_dev_3k_split_conll.txt"
HINGLID = DATA / "l3cube_hinglid" / "validation.first1000.txt"
LEXICON_SOURCES = {  # untagged English text, Apache-2.0: file -> how to get its English text
    # never test.tsv: its rows are the code-switching recipe's evaluation set
    DATA / "hinglish_top" / f"{part}.tsv": "en_query" for part in ("train", "validation")
} | {DATA / "instructions_en" / f"{name}.jsonl": "json" for name in ("self_instruct_seed_tasks",
                                                                    "self_instruct_user_oriented_instructions")}
LANGUAGES = ("hi", "en")
SCRIPT_LANGUAGES = {"ARABIC": "ur"}  # Arabic script in Hinglish tweets is Urdu
SILVER_SOURCES = [DATA / "hinglish_top" / f"{part}.tsv" for part in ("train", "validation")]  # never test.tsv
# Hinglish-TOP slots whose words are names (people, places, apps, titles): kept out of the silver labels
NAME_SLOTS = frozenset({
    "LOCATION", "DESTINATION", "SOURCE", "WAYPOINT", "LOCATION_CURRENT", "LOCATION_MODIFIER", "POINT_ON_MAP",
    "PATH", "PATH_AVOID", "RECIPIENT", "CONTACT", "SENDER", "ATTENDEE", "ORGANIZER_EVENT", "NAME_EVENT", "GROUP",
    "MUSIC_ARTIST_NAME", "MUSIC_TRACK_TITLE", "MUSIC_ALBUM_TITLE", "MUSIC_PLAYLIST_TITLE", "MUSIC_RADIO_ID",
    "MUSIC_PROVIDER_NAME", "RESOURCE",
})  # fmt: skip
SILVER_MIN_COUNT = 3  # an unaligned word in the English lexicon is Hindi only if its type is this frequent
HELDOUT_PERCENT = 15
FOLDS = 5
CONTEXT_L2 = 1e-4


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


def _name_slot_words(parse: str) -> list[bool]:
    """Per word of a Hinglish-TOP parse (``[IN:X … [SL:Y … ] … ]``): inside a :data:`NAME_SLOTS` slot?"""
    stack: list[str] = []
    out: list[bool] = []
    for piece in parse.split():
        if piece.startswith(("[IN:", "[SL:")):
            stack.append(piece[4:] if piece.startswith("[SL:") else "")
        elif piece == "]" and stack:
            stack.pop()
        else:
            out.append(any(slot in NAME_SLOTS for slot in stack))
    return out


def _one_edit(a: str, b: str) -> bool:
    """``a`` and ``b`` differ by one substitution, insertion or deletion."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    i = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return a[i + (len(a) >= len(b)):] == b[i + (len(b) >= len(a)):]


def _in_english(key: str, english: set[str], joined: set[str]) -> bool:
    """The word (key) of the Hinglish rewrite also occurs in its English query: the same word, a plural or
    singular of it, two adjacent English words written as one (``pickup``), or one edit away (6+ letters)."""
    if key in english or key in joined:
        return True
    if len(key) >= 4 and (key + "s" in english or key + "es" in english or (key[-1] == "s" and key[:-1] in english)):
        return True
    return len(key) >= 6 and any(len(e) >= 6 and _one_edit(key, e) for e in english)


def silver_utterances(lexicon: frozenset[str], sources: Sequence[Path] = tuple(SILVER_SOURCES),
                      ) -> tuple[list[TaggedUtterance], dict]:
    """Silver word tags of Hinglish-TOP's code-mixed rewrites (``cs_query``) from their English queries.

    A Latin-script word of the rewrite is ``en`` when it also occurs in the English query (:func:`_in_english`),
    ``hi`` when it does not. Left out (tagged ``unk``, so not trained on): one-letter words (``s`` of
    ``what ' s``); names: words inside a name slot of the parse (:data:`NAME_SLOTS`) that occur in the English
    query or are rare, and words capitalised in most of their mid-sentence uses in the English queries
    (``Carol``, ``Friday``, ``I``); homographs: a word found in the English query although its type is so in
    under half of its uses (``me`` में, ``is`` इस, ``he`` है: the English query happened to contain it), and a
    word missing from the English query although its type is found in most uses (a paraphrased English word, or
    ``to`` तो); and a missing word in the English lexicon whose type occurs under :data:`SILVER_MIN_COUNT` times
    (``bake``, ``accept``: English words the rewrite brought in; frequent ones, ``mere``, ``band``, ``door``,
    ``do``, are Hindi)."""
    rows: list[tuple[str, list[str], set[str], set[str], list[bool]]] = []
    for path in sources:
        with open(path, encoding="utf-8") as handle:
            for i, row in enumerate(csv.DictReader(handle, delimiter="\t")):
                tokens = row["cs_query"].split()
                names = _name_slot_words(row["cs_parse"])
                en = [word_key(w) for w in row["en_query"].split() if rule_tag(w) is None]
                rows.append((f"{path.stem}:{i + 1}", tokens, set(en), {a + b for a, b in zip(en, en[1:], strict=False)},
                             names if len(names) == len(tokens) else [True] * len(tokens)))
    capitalised, mid = Counter(), Counter()  # mid-sentence uses of each English word, and how many capitalised
    for path in sources:
        with open(path, encoding="utf-8") as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                for word in row["en_query"].split()[1:]:
                    if rule_tag(word) is None:
                        mid[word_key(word)] += 1
                        capitalised[word_key(word)] += word[:1].isupper()
    name_like = {key for key, n in mid.items() if 2 * capitalised[key] > n}
    found, total = Counter(), Counter()
    for _, tokens, english, joined, _ in rows:
        for token in tokens:
            if rule_tag(token) is None:
                key = word_key(token)
                total[key] += 1
                found[key] += _in_english(key, english, joined)
    reasons: Counter[str] = Counter()
    out = []
    for uid, tokens, english, joined, names in rows:
        tags = []
        for token, rule, in_name in zip(tokens, rule_tags(tokens, SCRIPT_LANGUAGES), names, strict=True):
            key = word_key(token)
            often = 2 * found[key] >= total[key] if rule is None else False
            if rule is not None:
                tag = rule
            elif len(key) < 2:
                tag = "unk:one letter"
            elif _in_english(key, english, joined):
                tag = ("unk:name slot" if in_name else "unk:capitalised" if key in name_like
                       else "en" if often else "unk:homograph")
            elif often:
                tag = "unk:missing English word"
            elif total[key] < SILVER_MIN_COUNT and (in_name or key in lexicon):
                tag = "unk:rare name slot word" if in_name else "unk:rare lexicon word"
            else:
                tag = "hi"
            if rule is None:
                reasons[tag] += 1
            tags.append(tag.split(":")[0])
        out.append(TaggedUtterance(tokens, tags, list(tags), uid))
    stats = {"rows": len(rows), "words": sum(reasons.values()), "en": reasons["en"], "hi": reasons["hi"],
             "left_out": {k.split(":")[1]: n for k, n in sorted(reasons.items()) if k.startswith("unk")}}
    return out, stats


def scored_examples(utterances: Sequence[TaggedUtterance]) -> Counter[tuple[str, str]]:
    """(word key, gold tag) counts of the tokens the model decides (Latin words, not split handles)."""
    return token_lid_fit.scored_examples(utterances, LANGUAGES, SCRIPT_LANGUAGES)


def noise_transition(counts: Counter[tuple[str, str]], min_count: int = NOISE_MIN_COUNT,
                     anchor: Counter[tuple[str, str]] | None = None) -> np.ndarray:
    """T[c, y], taking each word type seen ``min_count`` times or more to be its majority tag: SentiMix's
    annotators tag against that majority for ~19 % of English tokens and ~12 % of Hindi ones. With ``anchor``
    (the silver labels' counts) a type's true class is instead its majority tag there, for the types seen
    ``min_count`` times there: an independent reference, which finds more noise (~29 % of English tokens tagged
    Hin, ~8 % the other way), as a type's own majority absorbs the noise of the types the annotators tag wrong
    most of the time (``please``)."""
    return token_lid_fit.noise_transition(counts, LANGUAGES, min_count, anchor)


def fit_word_model(utterances: Sequence[TaggedUtterance], **options: object) -> TokenLidModel:
    return token_lid_fit.fit_word_model(utterances, LANGUAGES, script_languages=SCRIPT_LANGUAGES,
                                        **options)  # type: ignore[arg-type]


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
          lexicon: frozenset[str] | None = None, context: bool = False, silver: Sequence[TaggedUtterance] = (),
          silver_weight: float = 1.0, silver_noise: bool = False, anchor: bool = False) -> TokenLidModel:
    """Word model (and with ``context`` the context stage, on ``utterances`` only). ``noise``: forward
    correction with :func:`noise_transition` of ``utterances``, with ``anchor`` estimated against the
    ``silver`` labels; the ``silver`` tokens (each weighted ``silver_weight``, 0: not trained on) get no
    correction (their tags are taken as true) unless ``silver_noise``, which applies the same matrix to them."""
    options: dict = {"identity": identity, "lexicon": lexicon}
    if noise:
        options["transition"] = noise_transition(scored_examples(utterances),
                                                 anchor=scored_examples(silver) if anchor else None)
    model = fit_word_model(utterances, **options, silver=silver, silver_weight=silver_weight,
                           silver_transition=None if silver_noise else np.eye(len(LANGUAGES)))
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


def confusions(tagger: TokenTagger, hinglid: Sequence[TaggedUtterance], top: int = 16) -> dict:
    """The most frequent (word, gold, predicted) errors on HingLID (``languages_only``), and their share."""
    errors: Counter[tuple[str, str, str]] = Counter()
    for u, tags in zip(hinglid, tagger.tag_many((u.tokens for u in hinglid), languages_only=True), strict=True):
        for token, gold, tag in zip(u.tokens, u.tags, tags, strict=True):
            if gold != tag:
                errors[(word_key(token), gold, tag)] += 1
    common = errors.most_common(top)
    return {"errors": sum(errors.values()), "top": [[*k, n] for k, n in common],
            "top_share": sum(n for _, n in common) / max(sum(errors.values()), 1)}


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
    "+ English lexicon (previously shipped)": {"identity": True, "noise": True, "lexicon": True},
    "+ English lexicon + context stage": {"identity": True, "noise": True, "lexicon": True, "context": True},
    "+ word identity + context stage": {"identity": True, "noise": False, "context": True},
    # Hinglish-TOP silver words, on top of "+ English lexicon"; ×w: each silver token weighs w SentiMix tokens
    "+ silver words ×1": {"lexicon": True, "silver_weight": 1.0},
    "+ silver words ×1, SentiMix's noise matrix on them too": {"lexicon": True, "silver_weight": 1.0,
                                                                "silver_noise": True},
    "+ silver-anchored noise matrix, no silver words": {"lexicon": True, "silver_weight": 0.0, "anchor": True},
    "+ silver words ×0.25, anchored matrix": {"lexicon": True, "silver_weight": 0.25, "anchor": True},
    "+ silver words ×0.5, anchored matrix": {"lexicon": True, "silver_weight": 0.5, "anchor": True},
    "+ silver words ×1, anchored matrix (shipped)": {"lexicon": True, "silver_weight": 1.0, "anchor": True},
    "+ silver words ×2, anchored matrix": {"lexicon": True, "silver_weight": 2.0, "anchor": True},
    "+ silver words ×4, anchored matrix": {"lexicon": True, "silver_weight": 4.0, "anchor": True},
}
PREVIOUS_VARIANT = "+ English lexicon (previously shipped)"
# ×1 (a silver token weighs as much as a SentiMix one) was fixed beforehand, not picked on HingLID
SHIPPED_VARIANT = "+ silver words ×1, anchored matrix (shipped)"


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
    silver, silver_stats = silver_utterances(lexicon)
    report: dict = {"date": datetime.date.today().isoformat(),
                    "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
                               f"numpy {np.__version__}",
                    "train_tweets": len(train_set), "heldout_tweets": len(heldout), "lexicon_words": len(lexicon),
                    "train_language_tokens": sum(scored_examples(train_set).values()), "silver": silver_stats,
                    "noise_transition": noise_transition(scored_examples(train_set)).round(4).tolist(),
                    "noise_transition_anchored": noise_transition(scored_examples(train_set),
                                                                  anchor=scored_examples(silver)).round(4).tolist()}
    report |= baselines(train_set, heldout, hinglid)
    results: dict = {"majority": report.pop("majority")}
    for name, variant in VARIANTS.items():
        started = time.perf_counter()
        uses_silver = "silver_weight" in variant
        model = train(train_set, **(variant | {"lexicon": lexicon if variant.get("lexicon") else None,
                                               "silver": silver if uses_silver else ()}))
        seconds = time.perf_counter() - started
        tagger = TokenTagger(model)
        if name == SHIPPED_VARIANT:
            model.meta |= {"trained_on": f"{SENTIMIX.name} minus crc32(uid) % 100 < {HELDOUT_PERCENT} "
                                         f"({len(train_set)} tweets; CC BY 4.0), noise matrix anchored on and "
                                         f"silver word tags (weight {variant['silver_weight']:g}) from Hinglish-TOP "
                                         "train + validation (cs_query vs en_query; Apache-2.0)",
                           "lexicon": "English words of Hinglish-TOP en_query and self-instruct (Apache-2.0)",
                           "word_l2": WORD_L2, "trainer": "scripts/train_token_lid.py"}
            if not opts.no_write:
                model.save(opts.out)
                tagger = TokenTagger(TokenLidModel.load(opts.out))  # measured as shipped (float16 weights)
                report["asset_bytes"] = Path(opts.out).stat().st_size
            report["hinglid_confusions"] = confusions(tagger, hinglid)
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
    shipped, previous, context = r[SHIPPED_VARIANT], r[PREVIOUS_VARIANT], r["+ English lexicon + context stage"]
    plain, anchored = r["+ silver words ×1"], r["+ silver-anchored noise matrix, no silver words"]
    grid = {name: v for name, v in r.items() if "anchored matrix" in name and name.startswith("+ silver words")}
    oracle, noise, anchor = (report["sentimix_type_majority_on_hinglid"], report["noise_transition"],
                             report["noise_transition_anchored"])
    silver, conf = report["silver"], report.get("hinglid_confusions", {"errors": 0, "top": [], "top_share": 0})
    pct = lambda x: f"{100 * x:.2f} %"  # noqa: E731
    pts = lambda a, b, key: f"{100 * (a[key]['accuracy'] - b[key]['accuracy']):+.2f}"  # noqa: E731
    acc = lambda v, key: f"{100 * v[key]['accuracy']:.2f}"  # noqa: E731
    gain = context["sentimix_heldout"]["accuracy"] - previous["sentimix_heldout"]["accuracy"]
    loss = previous["hinglid"]["accuracy"] - context["hinglid"]["accuracy"]
    hl_range = [100 * v["hinglid"]["accuracy"] for v in grid.values()]
    sm_range = [100 * v["sentimix_heldout"]["accuracy"] for v in grid.values()]
    best = max(grid, key=lambda name: grid[name]["hinglid"]["accuracy"])
    left_out = ", ".join(f"{reason} {n:,}" for reason, n in silver["left_out"].items())
    top = ", ".join(f"`{w}` {g}→{p} ×{n}" for w, g, p, n in conf["top"])
    return f"""# Token-level language ID for code-mixed Hinglish (issue 13)

Written by `scripts/train_token_lid.py` on {report["date"]} ({report["machine"]}); numbers in `tagger.json`.
Model: `lingotune/language/assets/token_lid_hinglish.npz` ({report.get("asset_bytes", 0) / 1e6:.2f} MB), loaded by
`lingotune.language.token_lid.load_tagger("hinglish")`.

Training: SentiMix 2020 Hinglish dev, {report["train_tweets"]} tweets (CC BY 4.0; {report["train_language_tokens"]:,}
Latin-script hi/en tokens); held out: the {report["heldout_tweets"]} tweets with `crc32(uid) % 100 < {HELDOUT_PERCENT}`.
Silver word tags (rows `+ silver …`): Hinglish-TOP train + validation (Apache-2.0; `test.tsv` is not used), see
below. English lexicon feature: the {report["lexicon_words"]:,} word types of Hinglish-TOP `en_query` and the
self-instruct instructions (Apache-2.0, untagged). L3Cube-HingLID (first 1,000 validation sentences, CC BY-NC-SA) is
evaluation only, never trained or tuned on, tagged with `languages_only` (it has no `other`; its numbers are HI/EN);
"language decisions" leaves out the tokens the rules tag `other` (numbers). "w/o split handles": SentiMix tags the
user name after a split-off `@` Hin/Eng at random, the tagger calls it `other` (a mention), as the canonical tagset
does.

{table(report)}

HingLID reference points (models trained on HingLID's own training split, as quoted in the issue): majority
70.7 %, character n-grams ~93.5 %, lexicon + n-grams ~96.5 %, transformer taggers ~98 %.

## Silver word tags from Hinglish-TOP

Each Hinglish-TOP row pairs an English request (`en_query`) with its romanised Hinglish rewrite (`cs_query`). A
Latin-script word of the rewrite is tagged `en` when it also occurs in the English request (same word key, plural /
singular, two adjacent English words written as one, or one edit away at 6+ letters) and `hi` when it does not
(`silver_utterances`). Of the {silver["words"]:,} Latin-script words of the {silver["rows"]:,} rows,
{silver["en"]:,} are tagged en and {silver["hi"]:,} hi; left out:
{left_out}. Names: words in a name slot of the parse
(recipient, location, artist, …) and words capitalised in most of their mid-sentence uses in the English requests
(`Carol`, `Friday`, `I`); homographs: a word found in the English request although its type is found in under half
of its uses (`me` में, `is` इस, `he` है), or missing although its type is found in most (`to` तो, paraphrases); rare
lexicon words: a missing word of the English lexicon seen under {SILVER_MIN_COUNT} times (`bake`, `accept`: English
words the rewrite brought in; frequent ones, `mere`, `band`, `door`, `do`, are Hindi). A hand check of 200 random
silver tags found none wrong.

## Findings

- **Shipped: `{SHIPPED_VARIANT}`, HingLID {pct(shipped["hinglid"]["accuracy"])}
  ({pts(shipped, previous, "hinglid")} points over the previous model), held-out SentiMix
  {pct(shipped["sentimix_heldout"]["accuracy"])} ({pts(shipped, previous, "sentimix_heldout")}).** The ~93.5 %
  char n-gram reference is still not reached. Two parts add up:
  - *A noise matrix anchored on the silver tags*: the forward correction's matrix estimated with the silver
    majority tag of each word type seen {NOISE_MIN_COUNT}+ times in the silver words as the truth, instead of the
    type's own SentiMix majority: SentiMix tags an English token Hin {pct(anchor[1][0])} of the time and a Hindi one
    Eng {pct(anchor[0][1])} (self-majority estimate: {pct(noise[1][0])} / {pct(noise[0][1])}). The self-majority
    counts a type that SentiMix mostly tags wrong as right (`please`: 19 Hin / 5 Eng in the training tweets, en in
    all 216 silver uses). Alone: HingLID {acc(anchored, "hinglid")} % ({pts(anchored, previous, "hinglid")}),
    SentiMix {acc(anchored, "sentimix_heldout")} % ({pts(anchored, previous, "sentimix_heldout")}). Where the two
    domains use a word differently the anchor is wrong (`to` is English in Hinglish-TOP, mostly तो in the tweets:
    286 Hin / 281 Eng).
  - *The silver words as training examples*, taken as clean (no correction): alone, with the old matrix, HingLID
    {acc(plain, "hinglid")} % ({pts(plain, previous, "hinglid")}), SentiMix {acc(plain, "sentimix_heldout")} %
    ({pts(plain, previous, "sentimix_heldout")}); correcting them with SentiMix's matrix too changes little.
- Choices made without HingLID, and what the alternatives measure: the silver weight ×1 (a silver token weighs as
  much as a SentiMix token) was fixed beforehand; over ×0.25…×4 HingLID moves between {min(hl_range):.2f} and
  {max(hl_range):.2f} % and held-out SentiMix between {min(sm_range):.2f} and {max(sm_range):.2f} %; `{best}` is best
  on HingLID, but picking it would be tuning on the evaluation set. The anchor's {NOISE_MIN_COUNT}-use threshold
  is the self-majority's, fixed beforehand; every silver type (threshold 1) or 3+ uses give HingLID 90.08 % /
  90.58 %, SentiMix 81.43 % both. The anchored matrix was preferred to the self-majority one after seeing both
  rows, resting on held-out SentiMix being no worse with it. Held-out SentiMix drops a little as the silver weight
  grows: its tags carry the annotation habits (English words in Hindi tweets tagged Hin) that the silver tags
  contradict.
- **Why HingLID stays below ~93.5 %:** the corpora disagree on what a word is: on the
  {pct(oracle["share_of_hinglid"])} of HingLID tokens whose word occurs in the training tweets, SentiMix's own
  majority tag agrees with HingLID's gold only {pct(oracle["agreement"])} of the time. HingLID tags the Hindi
  abbreviations `h` (hai), `kr` (kar), `pr` (par), `or` (aur) and almost every number EN; SentiMix tags English
  words in Hindi tweets Hin (`please` 19 Hin / 5 Eng, `love` 93 / 59, `vote` 24 / 5). The shipped model's
  {conf["errors"]:,} HingLID errors: the 16 most frequent ({pct(conf["top_share"])} of them; gold → tagged) are
  {top}.
- Word identity adds little over character n-grams (the n-grams already see the whole short word). The
  forward noise correction (Patrini et al. 2017) and the English lexicon feature each add ~0.5–0.8 points on
  HingLID.
- **The context stage is measured, not shipped**: trained on SentiMix, it gains {100 * gain:.2f} points on held-out
  SentiMix but loses {100 * loss:.2f} on HingLID (over `{PREVIOUS_VARIANT}`). It learns that neighbours share a
  tag (the annotators tag runs of English words in Hindi tweets Hin), so it smooths real switches away, which would
  bias switch-based metrics (CMI, I-index) downward on clean text. Trained on the silver rewrites instead (5 folds,
  over the shipped word model) it learns almost no neighbour weights (|w| ≤ 0.03), only a bias and a first-word
  effect: HingLID 89.66 % against 90.03 %, SentiMix 81.54 % against 81.44 %.
- Tried and dropped: a noise matrix per tweet (Hindi-dominant / mixed / English-dominant tweets, English anchors
  from the lexicon): HingLID 88.36 % against 88.63 %; the word L2 grid 1e-5…1e-3 (picked 1e-4 on held-out
  SentiMix); lingua word by word as a fallback: 78 % on a HingLID sample (English → en, else hi) against 89 %,
  and 75–200× slower (`benchmarks/token_lid.py`).
"""


if __name__ == "__main__":
    main()
