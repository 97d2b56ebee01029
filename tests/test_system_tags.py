"""``system:`` on a data source and on an evaluation task: the copying tasks (translation, extractive QA)
get their own system prompt in training and in evaluation, open chat keeps the model's default."""

from __future__ import annotations

from pathlib import Path

from lingotune.data.recipe_builders import BuildContext
from lingotune.data.recipe_builders.translation import TranslationSource
from lingotune.eval.tasks.translation import TranslationTask

QUICKSTART = Path(__file__).resolve().parent.parent / "data" / "quickstart"
TAG = "You are a translator. Translate the user's text into Spanish."


def test_a_source_and_a_task_tagged_alike_give_the_same_conversation_shape():
    fields = dict(name="ntrex", format="parallel", source_language="en", language="es")
    train = str(QUICKSTART / "ntrex" / "ntrex.en-es.train.tsv")
    source = TranslationSource(**fields, builder="translation", path=train, system=TAG)
    examples = source.built(BuildContext())
    assert all(e.messages[0] == {"role": "system", "content": TAG} for e in examples)
    assert all([m["role"] for m in e.messages] == ["system", "user", "assistant"] for e in examples)
    untagged = TranslationSource(**fields, builder="translation", path=source.path).built(BuildContext())
    assert [e.messages[1:] for e in examples] == [e.messages for e in untagged]  # nothing else changes

    task = TranslationTask(**fields, kind="translation", path=str(QUICKSTART / "ntrex" / "ntrex.en-es.eval.tsv"),
                           system=TAG)
    items = task.load_items()
    assert all(i.conversation[0] == {"role": "system", "content": TAG} and i.conversation[-1]["role"] == "user"
               for i in items)
    assert items[0].conversation[1]["content"].startswith(examples[0].messages[1]["content"].split("\n")[0])
