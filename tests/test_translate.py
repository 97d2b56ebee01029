"""The dataset translator: masks kept on tricky records, a killed run resumes without repeating a request,
filters catch crafted bad outputs, every backend kind runs, the recipe step feeds training data.

The OpenAI-compatible endpoint is a scripted server on 127.0.0.1 (tests/judge_stub.py): it stands in for
the translator model only, so the masking, caching, retry and filter code under test is lingotune's own.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from judge_stub import StubJudge

from lingotune.core.errors import LingotuneError
from lingotune.data.translate.dataset import translate_file
from lingotune.data.translate.masking import plan_text
from lingotune.data.translate.spec import TranslateSpec
from lingotune.inference.backends import RequestCache

REPO = Path(__file__).resolve().parents[1]
CODE = "```python\ndef add(a, b):\n    # add two numbers\n    return a + b\n```"
TRICKY = [
    {"instruction": "Explain what this code does and call `add(2, 3)` in your answer.", "input": CODE,
     "output": "The function `add` returns the sum of {a} and {b}.\n\n" + CODE + "\n\nIt prints 5 for add(2, 3)."},
    {"instruction": "Turn this into a nested list.",
     "input": "", "output": "- Fruit\n  - Apple costs $3.50 each\n  - Pear\n    1. Green pears are sweet\n"
                             "    2. Red pears are rare\n- Vegetables: see https://example.org/veg?x=1&y=2."},
    {"instruction": "Fill the template for the user.", "input": "Hello %s, you have %(count)d new messages.",
     "output": "Dear {{user_name}}, your order {order_id} ships on 12/03/2024 at 10:30, 25% off."},
    {"instruction": "Write the formula in LaTeX.", "input": "",
     "output": "The area is $A = \\pi r^2$ and, in display form, \\[ A = \\pi r^2 \\].\n\n| shape | area |\n"
               "|---|---|\n| circle | $\\pi r^2$ |"},
]
LONG_SENTENCE = "The committee reviewed the annual report in great detail and approved it after 3 hours of debate. "


def fake_translate(text: str) -> str:
    """A stand-in translation that changes every word but keeps each mask exactly once."""
    return re.sub(r"(?<![<\w])([A-Za-z]+)(?![\w>])", lambda m: m.group(1)[::-1], text)


def request_text(messages: list[dict[str, str]]) -> str:
    return messages[-1]["content"].split("\n\n", 1)[1]


def spec_for(server: StubJudge, **extra) -> TranslateSpec:
    backend = {"kind": "openai", "model": "stub-mt", "base_url": server.base_url, "max_retries": 0}
    return TranslateSpec.model_validate({"backend": backend, **extra})


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def protected_spans(text: str) -> list[str]:
    plan = plan_text(text, 10_000)
    return sorted(m for u in plan.units for m in u.masks)


def test_masks_survive_tricky_records_and_long_fields_are_split(tmp_path):
    long_field = LONG_SENTENCE * 180  # ~3,000 words in one field
    records = [*TRICKY, {"instruction": "Summarise this report.", "input": long_field, "output": "Approved."}]
    source = write_jsonl(tmp_path / "tricky.jsonl", records)
    with StubJudge(lambda m: fake_translate(request_text(m))) as server:
        spec = spec_for(server, filters={"language": False})
        summary = translate_file(source, "es", spec, tmp_path / "out.jsonl", cache=RequestCache(tmp_path / "c.db"))
        sent = [request_text(r["messages"]) for r in server.requests]
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert summary.kept == len(records) and summary.rejected == 0, summary.reasons
    assert len(long_field.split()) >= 3000
    assert max(len(t) for t in sent) <= spec.max_chars  # the long field went out in chunks below the limit
    assert CODE not in "".join(sent)  # code blocks are never sent
    for original, translated in zip(records, out, strict=True):
        for key in ("instruction", "input", "output"):
            if not original[key].strip():
                continue
            assert translated["translation"]["source"][key] == original[key]
            assert translated[key] != original[key] or original[key] == CODE
            for span in set(protected_spans(original[key])):  # each protected span, as often as before
                assert translated[key].count(span) == original[key].count(span), (key, span)
            if CODE in original[key]:
                assert translated[key].count(CODE) == original[key].count(CODE)
            prefixes = [re.match(r"\s*(?:[-*+]|\d+\.|\|)?", line).group(0) for line in original[key].split("\n")]
            assert prefixes == [re.match(r"\s*(?:[-*+]|\d+\.|\|)?", line).group(0)
                                for line in translated[key].split("\n")]  # list and table structure kept
    assert (tmp_path / "translation_report.md").read_text().count("No record was rejected") == 1


def test_lost_masks_retry_by_sentence_then_keep_untranslated(tmp_path):
    def drops_masks_in_long_units(messages):
        text = request_text(messages)
        if text.count(".") > 1:  # a two-sentence unit loses its masks; one sentence at a time works
            return fake_translate(re.sub(r"<m\d+>", "", text))
        return fake_translate(text) if "never" not in text else "lost it all"

    records = [{"instruction": "Add 2 and 3. Then print `x` twice.", "output": "It is 5. Print `x`."},
               {"instruction": "Keep `y` never.", "output": "ok"}]
    source = write_jsonl(tmp_path / "in.jsonl", records)
    with StubJudge(drops_masks_in_long_units) as server:
        summary = translate_file(source, "es", spec_for(server, filters={"language": False}), tmp_path / "o.jsonl",
                                 cache=RequestCache(tmp_path / "c.db"))
    kept = [json.loads(x) for x in (tmp_path / "o.jsonl").read_text().splitlines()]
    rejected = [json.loads(x) for x in (tmp_path / "o.rejected.jsonl").read_text().splitlines()]
    assert summary.kept == 1 and kept[0]["instruction"].count("`x`") == 1 and "3" in kept[0]["instruction"]
    assert rejected[0]["instruction"] == "Keep `y` never."  # kept untranslated, flagged, not dropped
    assert rejected[0]["translation"]["reasons"] == ["lost_mask"]


def test_filters_reject_crafted_bad_outputs_with_reasons(tmp_path):
    good = "El comité revisó el informe anual con gran detalle y lo aprobó después de horas de debate."
    script = {
        "wrong": "The committee looked at the yearly report very closely and then approved it.",
        "loop": "Lo siento, lo siento, lo siento, lo siento, lo siento, lo siento, lo siento, lo siento.",
        "short": "El comité",
        "echo": None,  # the source itself
        "ok": good,
    }
    records = [{"id": k, "instruction": f"The committee reviewed the annual report ({k}) in great detail "
                "and approved it after hours of debate.", "output": "Yes."} for k in script]

    def reply(messages):
        text = request_text(messages)
        key = next((k for k in script if f"({k})" in text), None)
        if key is None:
            return "Sí."
        return text if script[key] is None else script[key].replace("informe", f"informe ({key})")

    source = write_jsonl(tmp_path / "in.jsonl", records)
    with StubJudge(reply) as server:
        summary = translate_file(source, "es", spec_for(server), tmp_path / "o.jsonl",
                                 cache=RequestCache(tmp_path / "c.db"))
    rejected = {json.loads(x)["id"]: json.loads(x)["translation"]["reasons"]
                for x in (tmp_path / "o.rejected.jsonl").read_text().splitlines()}
    assert "wrong_language" in rejected["wrong"]
    assert "loop" in rejected["loop"]
    assert "length_ratio" in rejected["short"]
    assert "same_as_source" in rejected["echo"] and "wrong_language" in rejected["echo"]
    assert "ok" not in rejected and summary.kept == 1
    report = (tmp_path / "translation_report.md").read_text()
    for reason in ("wrong_language", "loop", "length_ratio", "same_as_source"):
        assert f"| {reason} | {summary.reasons[reason]} |" in report and f"### {reason}" in report


def test_round_trip_filter_rejects_a_translation_that_does_not_come_back(tmp_path):
    drifted = "El río estaba tranquilo y las casas viejas oscuras."
    spanish = {"The committee approved the report after a long debate.":
               "El comité aprobó el informe después de un largo debate.",
               "The river was quiet and the old houses were dark.": drifted}

    def reply(messages):
        text = request_text(messages)
        if "into English" in messages[-1]["content"]:  # the way back
            if text == drifted:
                return "Bananas are a good source of potassium for athletes."
            return next(en for en, es in spanish.items() if es == text)
        return spanish[text]

    records = [{"instruction": en, "output": ""} for en in spanish]
    source = write_jsonl(tmp_path / "in.jsonl", records)
    with StubJudge(reply) as server:
        summary = translate_file(source, "es", spec_for(server, filters={"round_trip_min_chrf": 50}),
                                 tmp_path / "o.jsonl", cache=RequestCache(tmp_path / "c.db"))
        back = [r for r in server.requests if "into English" in r["messages"][-1]["content"]]
    rejected = [json.loads(x) for x in (tmp_path / "o.rejected.jsonl").read_text().splitlines()]
    assert len(back) == 2 and summary.kept == 1
    assert [r["translation"]["reasons"] for r in rejected] == [["round_trip"]]
    assert rejected[0]["translation"]["source"]["instruction"].startswith("The river")


def test_a_dead_endpoint_keeps_records_untranslated_and_the_rerun_resumes(tmp_path):
    records = [{"instruction": f"Describe the town of {t} in one sentence.", "output": f"{t} lies by the sea."}
               for t in ("Oban", "Wick", "Ayr")]
    source = write_jsonl(tmp_path / "in.jsonl", records)
    cache = RequestCache(tmp_path / "c.db")
    spec = {"filters": {"language": False}}
    with StubJudge(lambda m: fake_translate(request_text(m)), fail_first=[500] * 4) as server:
        first = translate_file(source, "es", spec_for(server, **spec), tmp_path / "o.jsonl", cache=cache)
        answered_first = len(server.requests) - 4
    rejected = [json.loads(x) for x in (tmp_path / "o.rejected.jsonl").read_text().splitlines()]
    assert first.failures == 4 and first.rejected >= 2 and first.kept + first.rejected == 3
    assert all("request_failed" in r["translation"]["reasons"] for r in rejected)
    for r in rejected:  # the failed field is kept untranslated, the record is not dropped
        assert any(r[k] == v for k, v in r["translation"]["source"].items())
    with StubJudge(lambda m: fake_translate(request_text(m))) as server:
        again = translate_file(source, "es", spec_for(server, **spec), tmp_path / "o.jsonl", cache=cache)
    assert again.kept == 3 and again.requests == 4 and again.cache_hits == answered_first  # only the failed ones


def test_prompt_only_translation_regenerates_the_answers(tmp_path):
    records = [{"instruction": "Describe the sea in one sentence.", "input": "", "output": "The sea is blue."},
               {"instruction": "Name a fruit.", "input": "", "output": "An apple."}]
    answers = {"Describe the sea in one sentence.": "El mar es azul y tranquilo bajo el cielo de verano.",
               "Name a fruit.": "The apple is a fruit that grows on trees in many countries."}

    def reply(messages):
        if messages[-1]["content"].startswith("Translate"):
            return fake_translate(request_text(messages))
        return answers[fake_translate(messages[-1]["content"])]  # the answer to the translated prompt

    source = write_jsonl(tmp_path / "in.jsonl", records)
    with StubJudge(reply) as server:
        writer = {"kind": "openai", "model": "writer", "base_url": server.base_url, "max_retries": 0}
        summary = translate_file(source, "es", spec_for(server, fields="prompt", regenerate=writer,
                                                        filters={"language": False}),
                                 tmp_path / "o.jsonl", cache=RequestCache(tmp_path / "c.db"))
        sent = [r["messages"][-1]["content"] for r in server.requests]
    kept = [json.loads(x) for x in (tmp_path / "o.jsonl").read_text().splitlines()]
    rejected = [json.loads(x) for x in (tmp_path / "o.rejected.jsonl").read_text().splitlines()]
    assert not any("The sea is blue." in t or "An apple." in t for t in sent)  # answers are never translated
    assert summary.kept == 1 and kept[0]["output"] == answers["Describe the sea in one sentence."]
    assert rejected[0]["translation"]["reasons"] == ["answer_wrong_language"]  # an English answer is caught


def test_killed_run_resumes_without_repeating_a_request(tmp_path):
    towns = [f"{chr(97 + i // 6)}{chr(97 + i % 6)}ville" for i in range(30)]  # distinct words: numbers are masked
    records = [{"instruction": f"Describe the town of {t} in one sentence, please.", "input": "",
                "output": f"The town of {t} is a quiet place by the river with many old houses."} for t in towns]
    source = write_jsonl(tmp_path / "in.jsonl", records)
    cache, out = tmp_path / "cache.db", tmp_path / "out.jsonl"
    answered: list[str] = []
    child: dict[str, subprocess.Popen] = {}
    killed = threading.Event()
    kill_after = 23

    def reply(messages):
        text = request_text(messages)
        if "proc" in child:  # first run: die mid-way, once 23 answers went out
            if killed.is_set():
                time.sleep(3)  # in flight at the kill: held until the client is gone, never answered
                return "never read"
            if len(answered) >= kill_after:
                killed.set()
                time.sleep(0.5)  # let the client commit the answers it has
                os.kill(child["proc"].pid, signal.SIGKILL)
                return "never read"
        answered.append(text)
        return fake_translate(text)

    def command(url: str) -> list[str]:
        return [sys.executable, "-m", "lingotune.cli", "data", "translate", str(source), "--to", "es", "--out",
                str(out), "--backend", "openai", "--model", "stub-mt", "--base-url", url, "--cache", str(cache)]

    env = {**os.environ, "LINGOTUNE_QUIET": "1"}
    with StubJudge(reply) as server:
        child["proc"] = subprocess.Popen(command(server.base_url), env=env, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, cwd=REPO)
        child["proc"].wait(timeout=120)
        assert child["proc"].returncode == -signal.SIGKILL and not out.exists()
        committed = len(RequestCache(cache))  # answers the killed run had stored
        child.clear()
        first = list(answered)
        done = subprocess.run(command(server.base_url), env=env, capture_output=True, text=True, cwd=REPO,
                              timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        second = answered[len(first):]
    units = {u.masked for r in records for k in ("instruction", "output") for u in plan_text(r[k]).units}
    assert kill_after - 4 <= committed <= len(first) < len(units)  # it died mid-way, answers stored as they came
    assert len(second) == len(units) - committed  # nothing stored before the kill was asked again
    assert len(set(second)) == len(second) and set(first) | set(second) == units
    summary = json.loads((tmp_path / "translation_summary.json").read_text())
    assert summary["requests"] == len(second) and summary["cache_hits"] == committed
    assert summary["kept"] + summary["rejected"] == len(records)  # reversed words are no Spanish: rejected, kept


def test_bad_language_or_backend_fails_before_any_request(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", TRICKY[:1])
    with StubJudge(lambda m: "x") as server:
        for code, message in (("12-x", "not a language code"), ("qqq", "no language name is known")):
            with pytest.raises(LingotuneError, match=message):
                translate_file(source, code, spec_for(server), tmp_path / "o.jsonl",
                               cache=RequestCache(tmp_path / "c.db"))
        assert server.requests == []
    with pytest.raises(LingotuneError, match="SQuAD"):
        translate_file(REPO / "data/quickstart/xquad/xquad.es.eval.json", "de", TranslateSpec(), tmp_path / "q.jsonl")


def test_chat_format_round_trips_with_metadata(tmp_path):
    records = [{"messages": [{"role": "system", "content": "You are a helpful assistant."},
                             {"role": "user", "content": "What is the capital of France?"},
                             {"role": "assistant", "content": "The capital of France is Paris."}],
                "language": "en"}]
    source = write_jsonl(tmp_path / "chat.jsonl", records)
    with StubJudge(lambda m: fake_translate(request_text(m))) as server:
        translate_file(source, "es", spec_for(server, filters={"language": False}), tmp_path / "o.json",
                       cache=RequestCache(tmp_path / "c.db"))
    out = json.loads((tmp_path / "o.json").read_text())  # .json out: a JSON list, same format
    assert out[0]["language"] == "es" and [m["role"] for m in out[0]["messages"]] == ["system", "user", "assistant"]
    assert out[0]["translation"]["source"]["messages[2].content"] == "The capital of France is Paris."
    from lingotune.data.loaders import load_examples

    assert load_examples(tmp_path / "o.json", "auto", "es")[0].language == "es"


def test_seq2seq_backend_tiny_marian(tmp_path):
    from lingotune.models.tiny import build_tiny_marian

    model = build_tiny_marian(tmp_path / "marian")
    source = write_jsonl(tmp_path / "in.jsonl", TRICKY[2:3])
    spec = TranslateSpec.model_validate({"backend": {"kind": "seq2seq", "model": str(model)}})
    summary = translate_file(source, "es", spec, tmp_path / "o.jsonl", cache=RequestCache(tmp_path / "c.db"))
    assert summary.records == 1 and summary.kept + summary.rejected == 1 and summary.requests > 0
    # random weights lose the masks: the record is kept untranslated in the rejected file, never lost
    again = translate_file(source, "es", spec, tmp_path / "o.jsonl", cache=RequestCache(tmp_path / "c.db"))
    assert again.requests == 0 and again.cache_hits > 0
    with pytest.raises(LingotuneError):
        translate_file(source, "de", spec, tmp_path / "o.jsonl", cache=RequestCache(tmp_path / "c.db"))


def test_local_causal_lm_backend_through_the_cli(tmp_path, tiny_model):
    source = write_jsonl(tmp_path / "in.jsonl", [{"instruction": "Say hello to the team.", "output": "Hello team."}])
    done = subprocess.run([sys.executable, "-m", "lingotune.cli", "data", "translate", str(source), "--to", "es",
                           "--out", str(tmp_path / "o.jsonl"), "--backend", "local", "--model", str(tiny_model.path),
                           "--cache", str(tmp_path / "c.db")], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "translation_summary.json").read_text())
    assert summary["backend"]["kind"] == "local" and summary["requests"] == 2
    assert summary["kept"] + summary["rejected"] == 1


def test_recipe_translate_step_feeds_crossalpaca(tmp_path, monkeypatch):
    import yaml

    monkeypatch.setenv("LINGOTUNE_CACHE", str(tmp_path / "cache"))  # the step uses the default request cache
    from lingotune.core.run_record import RunRecord
    from lingotune.data.recipe_builders import BuildContext
    from lingotune.plan import load_recipe
    from lingotune.plan.planner import plan
    from lingotune.plan.runner import run_context
    from lingotune.plan.steps import RunState, TranslateStep

    english = [{"instruction": f"Name a colour of the sea, number {i}.", "output": "The sea is blue today."}
               for i in range(6)]
    source = write_jsonl(tmp_path / "en.jsonl", english)
    spanish = {"Name a colour of the sea, number": "Nombra un color del mar, número",
               "The sea is blue today.": "El mar está azul hoy."}

    def reply(messages):
        text = request_text(messages)
        for en, es in spanish.items():
            text = text.replace(en, es)
        return text

    with StubJudge(reply) as server:
        tree = {"name": "ca", "language": "es", "model": {"source": "tiny-random"},
                "data": {"sources": [{"name": "si", "path": str(source), "format": "alpaca", "language": "es",
                                      "builder": "crossalpaca", "tf_ratio": 1.0, "tf_unit": "field",
                                      "translate": {"backend": {"kind": "openai", "model": "m",
                                                                "base_url": server.base_url},
                                                    "filters": {"language": False}}}]},
                "train": {"method": "lora", "max_steps": 1}}
        (tmp_path / "r.yaml").write_text(yaml.safe_dump(tree))
        recipe = load_recipe(tmp_path / "r.yaml")
        made = plan(recipe, tmp_path / "run")
        steps = made.steps
        assert [s.kind for s in steps][:2] == ["translate", "train"]
        step = steps[0]
        assert isinstance(step, TranslateStep)
        with pytest.raises(LingotuneError, match="translate step"):
            step.source.require_translation()
        state = RunState(run_context(recipe, made), RunRecord())
        record = step.run(state)
        step.restore(state, record)
    assert state.record.translations["si"]["kept"] == 6
    built = step.source.built(BuildContext(seed=0))
    instructions = [e for e in built if e.meta.get("kind") == "instruction"]
    demos = [e for e in built if e.meta.get("kind") == "translation_following"]
    assert len(instructions) == 6 and len(demos) == 6
    assert instructions[0].messages[0]["content"].startswith("Nombra un color del mar")
    demo = demos[0].messages
    assert demo[0]["content"].startswith("Translate the following text from English into Spanish.")
    assert demo[0]["content"].split("\n\n", 1)[1] in {e["instruction"] for e in english} | {"The sea is blue today."}
    assert demo[1]["content"] in {"El mar está azul hoy."} | {f"Nombra un color del mar, número {i}." for i in range(6)}


def test_the_shipped_recipes_work_for_another_language_by_changing_codes_and_paths(tmp_path, monkeypatch):
    import yaml

    monkeypatch.setenv("LINGOTUNE_CACHE", str(tmp_path / "cache"))  # the step uses the default request cache
    from lingotune.core.run_record import RunRecord
    from lingotune.data.recipe_builders import BuildContext
    from lingotune.plan import check_recipe, load_recipe
    from lingotune.plan.runner import run_context
    from lingotune.plan.steps import RunState

    ntrex = REPO.parent / "shared/data/ntrex128"
    if not ntrex.exists():
        pytest.skip("needs ../shared/data")
    english = (ntrex / "newstest2019-src.eng.first1000.txt").read_text().splitlines()[:2]
    german = (ntrex / "newstest2019-ref.deu.first1000.txt").read_text().splitlines()[:2]
    pairs = tmp_path / "ntrex.en-de.tsv"
    pairs.write_text("".join(f"{e}\t{g}\n" for e, g in zip(english, german, strict=True)), encoding="utf-8")
    def german(messages):  # every mask back, the prose in German
        masks = " ".join(re.findall(r"<m\d+>", request_text(messages)))
        return f"Das ist ein kurzer deutscher Satz über das Wetter von heute und morgen. {masks}".strip()

    with StubJudge(german) as server:
        for name in ("crossalpaca", "sft_translated_alpaca"):
            tree = yaml.safe_load((REPO / f"recipes/{name}.yaml").read_text())
            tree["language"], tree["output_dir"] = "de", str(tmp_path / name)
            source = tree["data"]["sources"][0]
            source["language"] = "de"
            source["path"] = str(REPO / source["path"])
            source["translate"]["few_shot"]["path"] = str(pairs)
            source["translate"]["max_records"] = 6
            source["translate"]["filters"] = {"min_length_ratio": 0.01, "max_length_ratio": 100}
            source["translate"]["backend"] = {"kind": "openai", "model": "m", "base_url": server.base_url}
            tree["eval"]["tasks"] = [{"name": "xquad_de", "kind": "qa", "format": "squad", "language": "de",
                                      "path": str(REPO.parent / "shared/data/xquad/xquad.de.json"), "max_items": 5}]
            (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(tree))
            recipe = load_recipe(tmp_path / f"{name}.yaml")
            made = check_recipe(recipe, tokenizer=False)
            step = made.steps[0]
            state = RunState(run_context(recipe, made), RunRecord())
            step.restore(state, step.run(state))
            built = step.source.built(BuildContext(seed=0))
            assert state.record.translations["self_instruct_es"]["target_language"] == "de"
            assert all(e.language == "de" for e in built) and built
            demos = [e for e in built if e.meta.get("kind") == "translation_following"]
            assert bool(demos) == (name == "crossalpaca")
            assert all("from English into German" in d.messages[0]["content"] for d in demos)
