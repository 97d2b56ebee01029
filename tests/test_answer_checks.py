"""Echo / loop / too-short checks of open-ended answers in several scripts, fidelity on real answers, and
the report's guard: a stage whose answers echo more is "worse" whatever its fidelity does (issue 10)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lingotune.eval.answer_checks import check_answer, echo_share, loop_share, units, word_count
from lingotune.eval.suite import score_task
from lingotune.eval.tasks import EvalItem
from lingotune.eval.tasks.fidelity import FidelityTask
from lingotune.report.paired import BETTER, WORSE, Side, compare, task_verdicts, verdict
from lingotune.report.run_report import write_report

QUICKSTART = Path(__file__).resolve().parent.parent / "data" / "quickstart"
ES_PROMPT = ("Redacte una atractiva entrada de blog de viajes sobre un viaje reciente a Hawái, destacando las "
             "experiencias culturales y las atracciones de visita obligada.")
ES_ANSWER = ("Hawái me recibió con el olor del mar y flores frescas. En Honolulu probé poke, bailé hula con "
             "una familia local y subí al cráter Diamond Head al amanecer.")
HI_PROMPT = "भारत की राजधानी के बारे में एक छोटा लेख लिखिए और उसके इतिहास का वर्णन कीजिए।"
HI_ANSWER = "दिल्ली एक प्राचीन नगर है। मुगलों ने यहाँ लाल किला बनवाया और अंग्रेज़ों ने नई दिल्ली बसाई।"
ZH_PROMPT = "请写一篇关于你最近去夏威夷旅行的博客文章，重点介绍文化体验和必看景点。"
ZH_ANSWER = "我在檀香山品尝了新鲜的波奇饭，还跟当地家庭学习草裙舞，清晨登上钻石头山看日出。"


def test_units_keep_devanagari_signs_and_split_unspaced_scripts():
    assert units("किताबें पढ़ना") == ["किताबें", "पढ़ना"]  # vowel signs and nukta stay inside the word
    assert units("我去了Hawái。") == ["我", "去", "了", "hawái"]
    assert units("¡Hola!, l'été 2024 🙂") == ["hola", "l'été", "2024"]
    assert word_count("我去了") == 1.5


@pytest.mark.parametrize(("prompt", "answer"), [(ES_PROMPT, ES_ANSWER), (HI_PROMPT, HI_ANSWER),
                                                (ZH_PROMPT, ZH_ANSWER)], ids=["latin", "devanagari", "cjk"])
def test_real_answers_pass_and_copies_and_loops_are_caught(prompt: str, answer: str):
    real = check_answer(prompt, answer)
    assert real.real and real.echo_share < 0.2 and real.loop_share == 0

    copied = check_answer(prompt, prompt[: len(prompt) * 3 // 4])  # the prompt's first three quarters back
    assert copied.echo and copied.echo_share > 0.85 and not copied.real  # the cut last word is no copy

    half = answer[: len(answer) // 2]
    loop = check_answer(prompt, " ".join([half] * 4))
    assert loop.loop and not loop.echo and loop.loop_share > 0.5

    assert check_answer(prompt, "").too_short and check_answer(prompt, "   ").too_short


def test_thresholds_at_their_edges():
    # restating the topic in a real answer stays below the echo threshold
    restated = "Mi viaje reciente a Hawái fue inolvidable: probé poke, bailé hula y subí al Diamond Head."
    assert 0 < echo_share(ES_PROMPT, restated) < 0.5 and not check_answer(ES_PROMPT, restated).echo
    # a reordered copy is still a copy (difflib's monotone blocks would miss half of it)
    reordered = "destacando las experiencias culturales y las atracciones. Redacte una atractiva entrada de blog"
    assert echo_share(ES_PROMPT, reordered) == pytest.approx(1.0)
    # one sentence said twice is a loop; a list with a shared frame is not
    twice = ("La tercera puede ser verdadera, falsa o incierta. "
             "En este caso, la tercera puede ser verdadera, falsa o incierta.")
    assert check_answer("¿Es cierta la tercera?", twice).loop
    listing = "1. Visita Pearl Harbor por la mañana. 2. Nada en Hanauma Bay al mediodía. 3. Cena poke en Waikiki."
    assert loop_share(listing) == 0
    # too short: under three words, a CJK character counting half
    assert check_answer("Escribe un poema.", "Sí, claro.").too_short
    assert not check_answer("Escribe un poema.", "Sí, claro que sí.").too_short
    assert check_answer(ZH_PROMPT, "好的。").too_short and not check_answer(ZH_PROMPT, "好的，我来写一篇。").too_short
    # an echo or loop needs a real length first: a lone copied word is too short, not an echo
    lone = check_answer(ES_PROMPT, "Hawái")
    assert lone.too_short and not lone.echo


def _items(n: int) -> list[EvalItem]:
    return [EvalItem(f"q{i}", [{"role": "user", "content": f"{ES_PROMPT} Pregunta número {i}."}], "")
            for i in range(n)]


def _stage(run: Path, stage: str, outputs: list[str]) -> dict:
    task = FidelityTask(name="fidelity_es", kind="fidelity", path="unused.jsonl", language="es")
    records, entry = score_task(task, _items(len(outputs)), outputs, 200)
    out = run / "eval" / stage
    out.mkdir(parents=True, exist_ok=True)
    (out / "fidelity_es.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    (out / "summary.json").write_text(json.dumps({"stage": stage, "tasks": {"fidelity_es": entry}}))
    return entry


def test_fidelity_counts_real_answers_and_the_report_calls_more_echo_worse(tmp_path: Path):
    n = 30
    # before: every answer real and Spanish; after: the same Spanish answers but 20 of 30 echo the prompt
    before = [f"{ES_ANSWER} Día {i}." for i in range(n)]
    after = [f"{ES_PROMPT} Pregunta número {i}." if i < 20 else before[i] for i in range(n)]
    a, b = _stage(tmp_path, "base", before), _stage(tmp_path, "final", after)
    assert a["metrics"]["echo"]["value"] == 0 and b["metrics"]["echo"]["value"] == pytest.approx(100 * 20 / n)
    assert b["metrics"]["fidelity_raw"]["value"] == 100  # the echoes are Spanish too...
    assert b["n_fidelity_real"] == 10 and b["answer_checks"]["n_echo"] == 20  # ...but only 10 are answers
    assert b["metrics"]["answer_chars"]["value"] > a["metrics"]["answer_chars"]["value"]

    sides = Side(tmp_path, "base", a), Side(tmp_path, "final", b)
    echo = compare(*sides, "fidelity_es", "echo")
    assert echo is not None and echo.paired and echo.delta == pytest.approx(100 * 20 / n) and verdict(echo) == WORSE
    fidelity = compare(*sides, "fidelity_es", "fidelity_raw")
    assert fidelity is not None and fidelity.paired and fidelity.delta == 0
    guarded = task_verdicts({"echo": echo, "fidelity_raw": fidelity})
    assert guarded == {"echo": WORSE, "fidelity_raw": f"{WORSE} (echo rate rose)"}

    write_report(tmp_path)
    report = (tmp_path / "report.md").read_text()
    row = next(line for line in report.splitlines() if "| fidelity_raw |" in line)
    assert row.rstrip(" |").endswith("worse (echo rate rose)")

    # the other way round, fewer echoes is better
    back = compare(Side(tmp_path, "final", b), Side(tmp_path, "base", a), "fidelity_es", "echo")
    assert back is not None and verdict(back) == BETTER


def test_training_sources_can_drop_answers_that_copy_their_prompt():
    """Self-Instruct replay has 'fix the grammar: …' tasks whose answer is the prompt, nearly: opt-in filter."""
    from lingotune.data.recipe_builders import BuildContext
    from lingotune.data.recipe_builders.as_is import AsIsSource
    from lingotune.data.recipe_builders.base import copies_prompt

    fields = dict(name="replay_en", path=str(QUICKSTART / "instructions_en" / "self_instruct.alpaca.jsonl"),
                  format="alpaca", language="en", builder="as_is")
    kept = AsIsSource(**fields, drop_prompt_copies=True).built(BuildContext())
    everything = AsIsSource(**fields).built(BuildContext())
    copies = [e for e in everything if copies_prompt(e)]
    assert 0 < len(copies) < len(everything) // 2
    assert len(kept) == len(everything) - len(copies) and not any(copies_prompt(e) for e in kept)


def test_reference_answers_give_a_paired_reference_chrf_over_the_items_that_have_one(tmp_path: Path):
    from lingotune.eval.translation import chrf

    task = FidelityTask(name="fidelity_es", kind="fidelity", language="es", format="mt_bench",
                        path=str(QUICKSTART / "mt_bench_x" / "question.es.jsonl"),
                        reference_answers=str(QUICKSTART / "mt_bench_x" / "reference_answer.es.jsonl"))
    items = task.load_items()
    with_reference = [i for i in items if i.reference]
    assert len(items) == 80 and len(with_reference) == 30  # GPT-4 references for questions 101–130
    entries = {}
    for stage, outputs in (("base", [ES_ANSWER] * 80), ("final", [str(i.reference) or ES_ANSWER for i in items])):
        records, entries[stage] = score_task(task, items, outputs, 200)
        out = tmp_path / "eval" / stage
        out.mkdir(parents=True)
        (out / "fidelity_es.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    base = entries["base"]["metrics"]["reference_chrf"]["value"]
    assert base == pytest.approx(chrf([ES_ANSWER] * 30, [str(i.reference) for i in with_reference]))
    assert entries["final"]["metrics"]["reference_chrf"]["value"] == pytest.approx(100)  # the references themselves
    c = compare(Side(tmp_path, "base", entries["base"]), Side(tmp_path, "final", entries["final"]),
                "fidelity_es", "reference_chrf")
    assert c is not None and c.paired and c.n == 30 and c.subset == "with a reference" and verdict(c) == BETTER
