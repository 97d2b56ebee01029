"""The request cache and the OpenAI backend against a scripted local endpoint (fast, no model)."""

from __future__ import annotations

import threading
import time

from judge_stub import StubJudge

from lingotune.inference.backends import OpenAIBackend, RequestCache

MSG = [{"role": "user", "content": "¿Qué es la fotosíntesis?"}]
PARAMS = {"max_tokens": 8, "temperature": 0.0}


def test_second_run_sends_nothing_and_key_is_not_stored(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("STUB_KEY", "sk-very-secret-123")
    path = tmp_path / "cache.sqlite"
    with StubJudge(lambda m: "respuesta") as stub:
        backend = OpenAIBackend("judge-x", stub.base_url, api_key_env="STUB_KEY", cache=RequestCache(path))
        requests = [(MSG, PARAMS), ([{"role": "user", "content": "otra"}], PARAMS), (MSG, PARAMS)]
        first = backend.complete_many(requests)
        assert [c.text for c in first] == ["respuesta"] * 3
        assert len(stub.requests) == 2 and backend.stats.requests == 2  # the duplicate was sent once
        again = OpenAIBackend("judge-x", stub.base_url, api_key_env="STUB_KEY", cache=RequestCache(path))
        assert [c.text for c in again.complete_many(requests)] == ["respuesta"] * 3
        assert again.stats.requests == 0 and again.stats.hits == 3 and len(stub.requests) == 2
        other_model = OpenAIBackend("judge-y", stub.base_url, cache=RequestCache(path))
        other_model.complete(MSG, PARAMS)
        assert other_model.stats.requests == 1  # the model is part of the key
    assert b"sk-very-secret" not in path.read_bytes()
    assert "sk-very" not in repr(backend.identity)


def test_retries_429_and_500_with_the_clients_backoff(tmp_path) -> None:
    with StubJudge(lambda m: "ok", fail_first=[429, 500]) as stub:
        backend = OpenAIBackend("j", stub.base_url, max_retries=2, cache=RequestCache(tmp_path / "c.sqlite"))
        result = backend.complete(MSG, PARAMS)
        assert result.text == "ok" and len(stub.requests) == 3 and backend.stats.failures == 0


def test_failures_are_reported_and_never_cached(tmp_path) -> None:
    cache = RequestCache(tmp_path / "c.sqlite")
    with StubJudge(lambda m: "ok", fail_first=[500, 500]) as stub:
        backend = OpenAIBackend("j", stub.base_url, max_retries=0, cache=cache)
        failed = backend.complete(MSG, PARAMS)
        assert failed.text is None and "InternalServerError" in failed.error and len(cache) == 0
        backend.complete(MSG, PARAMS)  # second 500
        assert backend.complete(MSG, PARAMS).text == "ok" and len(cache) == 1


def test_concurrency_is_bounded(tmp_path) -> None:
    in_flight, peak, lock = [0], [0], threading.Lock()

    def slow(messages):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.1)
        with lock:
            in_flight[0] -= 1
        return messages[-1]["content"]

    with StubJudge(slow) as stub:
        backend = OpenAIBackend("j", stub.base_url, max_concurrency=3, cache=RequestCache(tmp_path / "c.sqlite"))
        requests = [([{"role": "user", "content": f"q{i}"}], PARAMS) for i in range(12)]
        results = backend.complete_many(requests)
    assert [r.text for r in results] == [f"q{i}" for i in range(12)]  # input order kept
    assert 2 <= peak[0] <= 3


def test_missing_key_variable_is_a_user_error(monkeypatch) -> None:
    import pytest

    from lingotune.core.errors import LingotuneError

    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    with pytest.raises(LingotuneError, match="NO_SUCH_KEY_VAR"):
        OpenAIBackend("j", "http://127.0.0.1:9/v1", api_key_env="NO_SUCH_KEY_VAR")
