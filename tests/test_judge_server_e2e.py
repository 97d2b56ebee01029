"""The judge against a real ``lingotune serve`` (SmolLM2-135M-Instruct behind ``transformers serve``).

A 135M judge seldom writes a well-formed verdict, so these tests check that whatever it writes is
recorded as a verdict or as unparseable with its raw outputs, never dropped, and that the cache
makes a rerun free. Faults: a request that times out, and the server stopped mid-run then
restarted (the run resumes from the cache; nothing is asked twice). Kept small for 2 CPU cores.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from conftest import SHARED_DATA

from lingotune.eval.judge.config import BackendSpec, JudgeSpec
from lingotune.eval.judge.run import load_answers, run_judge, write_answers
from lingotune.inference.backends import LocalBackend, RequestCache
from lingotune.inference.serve import free_port, running_server, start_server

pytestmark = pytest.mark.slow
ES = SHARED_DATA / "mt_bench_x" / "ES"
REFERENCES = ES / "reference_answer_gpt-4.jsonl"


def _questions(tmp_path, ids: list[str]):
    rows = [line for line in (ES / "question.jsonl").read_text().splitlines() if json.loads(line)["question_id"] in ids]
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(rows) + "\n")
    return path


def _spec(questions, server, tmp_path, **overrides) -> JudgeSpec:
    fields = dict(questions=str(questions), language="es", mode="single", judge_max_tokens=12, max_new_tokens=12,
                  parse_retries=0, bootstrap_resamples=200, reference_answers=str(REFERENCES),
                  judge=BackendSpec(model=server.model, base_url=server.base_url, max_concurrency=2, max_retries=1,
                                    timeout_s=120),
                  cache_path=str(tmp_path / "cache.sqlite"))
    return JudgeSpec(**(fields | overrides))


@pytest.fixture(scope="module")
def server():
    with running_server("smollm2-135m-instruct") as running:
        yield running


def test_single_and_pairwise_through_lingotune_serve(server, tmp_path) -> None:
    questions = _questions(tmp_path, ["101_ES", "102_ES"])  # reasoning: reference-guided prompts
    gpt4 = tmp_path / "gpt4.jsonl"
    write_answers(gpt4, load_answers(REFERENCES), "gpt-4")
    spec = _spec(questions, server, tmp_path, mode="both", baseline_answers=str(gpt4),
                 baseline_name="gpt-4")
    cache = RequestCache(spec.cache_path)
    tiny = LocalBackend("tiny-random", cache=cache)  # the second model under test: answers generated here
    started = time.time()
    summary = run_judge(spec, tmp_path / "run1", model_backend=tiny, cache=cache, model_name="tiny-random")
    first_wall = time.time() - started
    single = [json.loads(x) for x in (tmp_path / "run1" / "single.jsonl").read_text().splitlines()]
    pairs = [json.loads(x) for x in (tmp_path / "run1" / "pairwise.jsonl").read_text().splitlines()]
    assert len(single) == 2 and len(pairs) == 2
    assert all(r["prompt"] == "single-math-v1" and r["reference_used"] for r in single)
    for record in single:
        assert record["status"] in ("ok", "unparseable") and record["judge_outputs"]
        assert (record["score"] is None) == (record["status"] == "unparseable")
        assert "detected_language" in record
    assert all(p["status"] in ("ok", "unparseable") and len(p["judge_outputs"]) == 2 for p in pairs)
    s, p = summary["single"], summary["pairwise"]
    assert s["n_scored"] + s["n_unparseable"] == 2 and s["n_errors"] == 0
    assert p["n_decided"] + p["n_unparseable"] == 2 and p["wins"] + p["ties"] + p["losses"] == p["n_decided"]
    sent = summary["requests"]["judge"]["requests"]
    assert sent == 2 + 4 and summary["requests"]["answers"]["requests"] == 2  # 2 single + 2 pairs × 2 orders
    assert len(cache) == sent + 2  # every judge reply and every generated answer is on disk
    # Re-running pays for nothing: neither the answers nor the judge.
    tiny_again = LocalBackend("tiny-random", cache=cache)
    again = run_judge(spec, tmp_path / "run2", model_backend=tiny_again, cache=cache, model_name="tiny-random")
    assert again["requests"]["judge"]["requests"] == 0 and again["requests"]["answers"]["requests"] == 0
    assert again["requests"]["judge"]["hits"] == sent
    assert again["single"] == summary["single"] and again["pairwise"] == summary["pairwise"]
    print(f"first run {first_wall:.1f} s, {sent} judge requests; rerun {again['wall_time_s']:.1f} s, 0 requests")


def test_timeout_is_recorded_as_error_then_resumed(server, tmp_path) -> None:
    questions = _questions(tmp_path, ["81_ES"])
    answers = tmp_path / "answers.jsonl"
    write_answers(answers, {"81_ES": ["Hawái es un destino precioso con playas, volcanes y una cultura rica."]}, "m")
    spec = _spec(questions, server, tmp_path, answers=str(answers))
    hurried = spec.model_copy(update={"judge": spec.judge.model_copy(update={"timeout_s": 0.05, "max_retries": 0})})
    summary = run_judge(hurried, tmp_path / "out")
    record = json.loads((tmp_path / "out" / "single.jsonl").read_text())
    assert record["status"] == "error" and "Timeout" in record["errors"][0] and record["score"] is None
    assert summary["complete"] is False and summary["single"]["n_errors"] == 1
    assert len(RequestCache(spec.cache_path)) == 0  # a failure is never cached
    resumed = run_judge(spec, tmp_path / "out")
    assert resumed["complete"] is True and resumed["requests"]["judge"]["requests"] == 1


def test_server_stopped_mid_run_resumes_from_cache(tmp_path) -> None:
    ids = ["81_ES", "82_ES", "83_ES"]
    questions = _questions(tmp_path, ids)
    answers = tmp_path / "answers.jsonl"
    write_answers(answers, {q: [f"Respuesta número {i} escrita en español para la pregunta."]
                            for i, q in enumerate(ids)}, "m")
    port = free_port()
    server = start_server("smollm2-135m-instruct", port=port)
    try:
        spec = _spec(questions, server, tmp_path, answers=str(answers))
        spec = spec.model_copy(update={"judge": spec.judge.model_copy(update={"max_concurrency": 1})})
        result: dict = {}
        worker = threading.Thread(target=lambda: result.update(run_judge(spec, tmp_path / "out")))
        worker.start()
        cache = RequestCache(spec.cache_path)
        deadline = time.monotonic() + 120
        while len(cache) < 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        server.stop()  # mid-run: at least one answer is in, the others are not
        worker.join(timeout=120)
        assert not worker.is_alive()
        cached = len(cache)
        assert 1 <= cached < 3 and result["complete"] is False
        assert result["single"]["n_errors"] == 3 - cached
    finally:
        server.stop()
    with running_server("smollm2-135m-instruct", port=port):  # same host: same cache keys
        resumed = run_judge(spec, tmp_path / "out")
    assert resumed["complete"] is True
    assert resumed["requests"]["judge"]["requests"] == 3 - cached and resumed["requests"]["judge"]["hits"] == cached
    assert len(cache) == 3
