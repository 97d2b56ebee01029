"""Evaluation kinds of the code-switching recipe: classification (strict labels, macro-F1), exact match,
code-mixed generation (S-index of answers by the shipped tagger), and switching-balanced data sources."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from conftest import REPO

from lingotune.core.errors import RecipeError
from lingotune.data.codemix_balance import SwitchingSpec, sample_examples_by_level, switching_scores
from lingotune.data.loaders import load_examples
from lingotune.data.recipe_builders.classification import build_classification
from lingotune.eval.tasks.classification import ClassificationTask, macro_f1, parse_label
from lingotune.eval.tasks.codemix_generation import CodemixGenerationTask
from lingotune.eval.tasks.exact_match import ExactMatchTask

CODESWITCH = REPO / "data" / "codeswitch"
LABELS = ["positive", "negative", "neutral"]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("positive", "positive"),
        ("Negative.", "negative"),
        ("The sentiment is neutral.\nBecause the tweet…", "neutral"),
        ("**Positive**", "positive"),
        ("positive or negative", None),  # two labels: not an answer
        ("positivo", None),
        ("nonpositive", None),  # whole words only
        ("", None),
        ("\n\nneutral", "neutral"),  # first non-empty line
        ("I cannot tell.\nneutral", None),  # the label must be on the first line
    ],
)
def test_labels_are_parsed_strictly(answer, expected):
    assert parse_label(answer, LABELS) == expected


def test_macro_f1_matches_hand_computation_and_counts_unparseable_as_wrong():
    gold = np.array([0, 0, 1, 1, 2, 2])
    predicted = np.array([0, 1, 1, 1, -1, 2])
    # label 0: tp 1 fp 0 fn 1 → 2/3; label 1: tp 2 fp 1 fn 0 → 4/5; label 2: tp 1 fp 0 fn 1 → 2/3
    assert macro_f1(gold, predicted, 3) == pytest.approx(100 * (2 / 3 + 4 / 5 + 2 / 3) / 3)
    assert macro_f1(gold, gold, 3) == 100


def test_classification_task_scores_sentimix_items():
    task = ClassificationTask(name="s", kind="classification", path=str(CODESWITCH / "sentimix" /
                              "sentimix_hinglish.eval.conll"), format="conll", language="hi", labels=LABELS)
    items = task.load_items()
    assert len(items) == 283 and "positive, negative or neutral" in items[0].conversation[-1]["content"]
    gold = [str(item.reference) for item in items]
    answers = [g if i % 3 else "no idea" for i, g in enumerate(gold)]  # a third unparseable
    scores = task.score(items, answers, [{}] * len(items), resamples=200)
    assert scores.metrics["unparseable"]["value"] == pytest.approx(100 * sum(1 for i in range(283) if i % 3 == 0) / 283)
    assert scores.metrics["accuracy"]["value"] == pytest.approx(100 - scores.metrics["unparseable"]["value"])
    f1 = scores.metrics["macro_f1"]
    assert f1["low"] <= f1["value"] <= f1["high"] < 100
    assert scores.per_item[0] == {"accuracy": 0.0, "unparseable": 100.0, "parsed": None}


def test_classification_builder_refuses_unlabelled_records_and_unknown_labels():
    examples = load_examples(CODESWITCH / "sentimix" / "sentimix_hinglish.eval.conll", "conll", "hi")
    built, labels = build_classification(examples)
    assert labels == sorted(LABELS) and Counter(e.response for e in built).keys() == set(LABELS)
    with pytest.raises(RecipeError, match="not among labels"):
        build_classification(examples, ["positive", "negative"])
    for example in examples[:2]:
        example.meta["label"] = None
    with pytest.raises(RecipeError, match="2 have none"):
        build_classification(examples)


def test_exact_match_normalises_space_and_case_only():
    task = ExactMatchTask(name="p", kind="exact_match", path=str(CODESWITCH / "hinglish_top" /
                          "hinglish_top.parse.eval.tsv"), format="parallel", source_language="hi", language="hi",
                          prompt_template="Parse: {text}", max_items=5)
    items = task.load_items()
    assert items[0].conversation[-1]["content"].startswith("Parse: ")
    refs = [str(i.reference) for i in items]
    answers = [refs[0].upper(), "  ".join(refs[1].split()), refs[2].replace("]", ""), "", refs[4]]
    scores = task.score(items, answers, [{}] * 5, resamples=100)
    assert [p["exact_match"] for p in scores.per_item] == [100.0, 100.0, 0.0, 0.0, 100.0]


def test_codemix_generation_measures_mixing_of_answers_against_references():
    task = CodemixGenerationTask(name="r", kind="codemix_generation", path=str(CODESWITCH / "hinglish_top" /
                                 "hinglish_top.en-hi.eval.tsv"), format="parallel", source_language="en",
                                 language="hi", prompt_template="Hinglish: {text}", max_items=40)
    items = task.load_items()
    english = [item.conversation[-1]["content"].removeprefix("Hinglish: ") for item in items]
    references = [str(item.reference) for item in items]
    copy_english = task.score(items, english, [{}] * 40, resamples=100)
    perfect = task.score(items, references, [{}] * 40, resamples=100)
    # the references mix (Hinglish-TOP); English answers barely do, and are far from the references' level
    assert perfect.extra["reference_s_index"] > 0.2
    assert perfect.metrics["s_index_gap"]["value"] == pytest.approx(0.0)
    assert copy_english.metrics["s_index"]["value"] < 0.5 * perfect.metrics["s_index"]["value"]
    assert copy_english.metrics["s_index_gap"]["low"] > 0.1
    assert perfect.metrics["chrf"]["value"] > 99
    assert perfect.metrics["loop"]["value"] == 0
    looping = task.score(items, ["mere timer ko roko mere timer ko roko mere timer ko roko"] * 40, [{}] * 40, 100)
    assert looping.metrics["loop"]["value"] == 100


def test_switching_balanced_draw_on_hinglish_top_answers():
    examples = load_examples(CODESWITCH / "hinglish_top" / "hinglish_top.en-hi.train.tsv", "parallel", "hi",
                             source_language="en")
    spec = SwitchingSpec(text="answer")
    scores = switching_scores(examples, spec)
    before = np.bincount(np.searchsorted(spec.level_edges(), scores), minlength=4)
    picked, drawn = sample_examples_by_level(examples, 240, spec, seed=0)
    assert len(picked) == 240 and drawn.available == before.tolist()
    after = np.bincount(np.searchsorted(spec.level_edges(), [e.meta["switching_s_index"] for e in picked]),
                        minlength=4)
    assert after.tolist() == drawn.drawn
    # fuller levels give up examples to emptier ones: closer to uniform than a random draw would be
    assert np.abs(after / 240 - 0.25).sum() < np.abs(before / before.sum() - 0.25).sum()
    with pytest.raises(ValueError, match="increase strictly"):
        SwitchingSpec(edges=[0.0, 0.3, 0.2])


def test_balanced_and_unbalanced_experts_of_the_recipe_differ_only_in_their_draw():
    from lingotune.data.assemble import build_source_examples
    from lingotune.data.recipe_builders import BuildContext
    from lingotune.plan.load import load_recipe

    recipe = load_recipe(REPO / "recipes" / "codeswitch_hinglish.yaml")
    unbalanced, balanced = recipe.experts
    ctx = BuildContext(seed=0)
    plain = build_source_examples(unbalanced.data, ctx)
    level = build_source_examples(balanced.data, ctx)
    assert {k: len(v) for k, v in plain.items()} == {k: len(v) for k, v in level.items()} == \
        {"sentiment": 240, "rewrite": 240, "parse": 240}
    assert all("switching_s_index" in e.meta for e in level["rewrite"])
    assert not any("switching_s_index" in e.meta for e in plain["rewrite"])
    first_prompt = level["parse"][0].messages[0]["content"]
    assert first_prompt.startswith("Write the semantic parse of this request.")


def test_cached_base_scores_follow_the_tagger_weights(tmp_path, tiny_model):
    """A retrained tagger changes S-index scores: cached base evaluations must not answer for it."""
    import shutil

    from lingotune.eval.spec import EvalSpec
    from lingotune.eval.suite import _cache_key
    from lingotune.language.token_lid import tagger_path

    first, second = tmp_path / "a.npz", tmp_path / "b.npz"
    shutil.copyfile(tagger_path("hinglish"), first)
    shutil.copyfile(tagger_path("hinglish"), second)
    with second.open("ab") as handle:
        handle.write(b"\0")

    def key(tagger: str) -> str:
        task = CodemixGenerationTask(name="r", kind="codemix_generation", path=str(CODESWITCH / "hinglish_top" /
                                     "hinglish_top.en-hi.eval.tsv"), format="parallel", source_language="en",
                                     language="hi", tagger=tagger)
        return _cache_key(tiny_model, task, EvalSpec(tasks=[task]), "float32")

    assert key(str(first)) != key(str(second))
    assert key(str(first)) == key(str(first))


def test_a_switching_draw_without_a_size_is_refused_when_the_recipe_loads(tmp_path):
    from lingotune.plan.load import load_recipe

    recipe = (REPO / "recipes" / "codeswitch_hinglish.yaml").read_text()
    recipe = recipe.replace("          switching: {score: s_index, target: uniform}\n",
                            "          switching: {score: s_index, target: uniform}\n          max_examples: null\n", 1)
    recipe = recipe.replace("path: data/", f"path: {REPO}/data/")
    (tmp_path / "r.yaml").write_text(recipe)
    with pytest.raises(RecipeError, match="set max_examples") as error:
        load_recipe(tmp_path / "r.yaml")
    assert "r.yaml:" in str(error.value)
