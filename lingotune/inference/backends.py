"""Chat backends shared by answer generation (the model under test) and the judge.

``OpenAIBackend`` talks to any OpenAI-compatible endpoint (``lingotune serve``, vLLM, a hosted API)
through the ``openai`` client, whose own ``max_retries`` already backs off exponentially on
connection errors, timeouts, 408/409/429 and 5xx (honouring Retry-After), so no retry loop is
written here. ``LocalBackend`` runs a model in-process with ``generate_batched``.

Both go through ``RequestCache``: a sqlite file keyed by sha256 of (backend identity, messages,
params). Each answer is committed as soon as it arrives, so an interrupted run loses at most the
requests in flight and a repeated run sends nothing. The identity holds the model name and the
endpoint's host, never the API key. Hand-written because the openai client has no response cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from lingotune.core.errors import LingotuneError
from lingotune.core.paths import cache_dir
from lingotune.core.progress import progress_bar

Messages = Sequence[dict[str, str]]
Params = dict[str, Any]  # max_tokens, temperature


@dataclass
class Completion:
    """One answer, or ``error`` (after the client's retries) with ``text`` None. Errors are never cached."""

    text: str | None
    error: str | None = None
    cached: bool = False
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass
class BackendStats:
    requests: int = 0  # sent to the model (paid for)
    hits: int = 0  # answered from the cache
    failures: int = 0
    prompt_tokens: int = 0  # of requests sent in this process
    completion_tokens: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class RequestCache:
    """Persistent (model, prompt, params) → answer store. sqlite commits are atomic, so a killed
    process never leaves a half-written entry; one lock serialises the worker threads' writes."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else cache_dir() / "requests.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        for attempt in range(50):  # switching to WAL needs a moment alone with the file; bounded wait
            try:
                self._db.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
                self._db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, identity TEXT, "
                                 "record TEXT, created REAL)")
                self._db.commit()
                break
            except sqlite3.OperationalError:
                if attempt == 49:
                    raise
                time.sleep(0.1)

    @staticmethod
    def key(identity: dict[str, Any], messages: Messages, params: Params) -> str:
        payload = json.dumps({"identity": identity, "messages": list(messages), "params": params},
                             sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT record FROM answers WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, identity: dict[str, Any], record: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?)",
                             (key, json.dumps(identity, sort_keys=True), json.dumps(record, ensure_ascii=False),
                              time.time()))
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()


class ChatBackend(Protocol):
    """What the judge and the answer generator need: one completion, or many with bounded concurrency."""

    identity: dict[str, Any]
    stats: BackendStats

    def complete(self, messages: Messages, params: Params) -> Completion: ...

    def complete_many(self, requests: Sequence[tuple[Messages, Params]], description: str = "") -> list[Completion]:
        ...


@dataclass
class _CachedBackend:
    """Cache lookup, bookkeeping and the progress bar; subclasses implement ``_send_all``."""

    cache: RequestCache | None
    identity: dict[str, Any] = field(default_factory=dict)
    stats: BackendStats = field(default_factory=BackendStats)

    def complete(self, messages: Messages, params: Params) -> Completion:
        return self.complete_many([(messages, params)])[0]

    def complete_many(self, requests: Sequence[tuple[Messages, Params]], description: str = "") -> list[Completion]:
        results: list[Completion | None] = [None] * len(requests)
        keys = [RequestCache.key(self.identity, m, p) for m, p in requests]
        todo: list[int] = []
        first: dict[str, int] = {}  # identical requests in one batch are sent once
        for index, key in enumerate(keys):
            if key in first:
                continue
            first[key] = index
            record = self.cache.get(key) if self.cache is not None else None
            if record is not None:
                results[index] = Completion(record["text"], cached=True, prompt_tokens=record.get("prompt_tokens"),
                                            completion_tokens=record.get("completion_tokens"))
                self.stats.hits += 1
            else:
                todo.append(index)
        started = time.time()
        with progress_bar() as bar:
            task = bar.add_task(description or self.identity.get("model", "requests"), total=len(todo))

            def done(index: int, completion: Completion) -> None:
                results[index] = completion
                self.stats.requests += 1
                if completion.error is not None:
                    self.stats.failures += 1
                else:
                    self.stats.prompt_tokens += completion.prompt_tokens or 0
                    self.stats.completion_tokens += completion.completion_tokens or 0
                    if self.cache is not None:
                        self.cache.put(keys[index], self.identity, {
                            "text": completion.text, "prompt_tokens": completion.prompt_tokens,
                            "completion_tokens": completion.completion_tokens})
                bar.advance(task)

            self._send_all([requests[i] for i in todo], todo, done)
        self.stats.seconds += time.time() - started
        for index, key in enumerate(keys):
            if results[index] is None and results[first[key]] is not None:
                sent = results[first[key]]
                results[index] = Completion(sent.text, sent.error, True, sent.prompt_tokens, sent.completion_tokens)
                self.stats.hits += sent.error is None
        return [r if r is not None else Completion(None, "not sent") for r in results]

    def _send_all(self, requests, indexes, done) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


def api_key_from_env(name: str | None) -> str:
    """The key from the environment variable ``name``. Local servers need none, but the openai
    client insists on a non-empty string."""
    if not name:
        return "not-needed"
    value = os.environ.get(name)
    if not value:
        raise LingotuneError(f"the API key variable {name} (named in the recipe's api_key_env) is not set")
    return value


class OpenAIBackend(_CachedBackend):
    """Any OpenAI-compatible chat endpoint, ``max_concurrency`` requests at a time."""

    def __init__(self, model: str, base_url: str | None = None, *, api_key_env: str | None = None,
                 max_concurrency: int = 4, timeout_s: float = 120.0, max_retries: int = 3,
                 cache: RequestCache | None = None, identity: dict[str, Any] | None = None) -> None:
        host = urlparse(base_url).hostname if base_url else "api.openai.com"
        super().__init__(cache, identity or {"kind": "openai", "model": model, "host": host})
        self.model, self.base_url, self.max_concurrency = model, base_url, max_concurrency
        self._api_key = api_key_from_env(api_key_env)  # a missing key fails here, before any work
        self._timeout_s, self._max_retries = timeout_s, max_retries
        self._client = None

    def _connect(self):
        """The client, made for the first request the cache cannot answer (a subclass may first start
        the server it talks to: ``eval.generation``)."""
        from openai import OpenAI

        return OpenAI(api_key=self._api_key, base_url=self.base_url, timeout=self._timeout_s,
                      max_retries=self._max_retries)

    def _send_one(self, messages: Messages, params: Params) -> Completion:
        import openai

        try:
            response = self._client.chat.completions.create(model=self.model, messages=list(messages), **params)
        except openai.APIError as exc:  # timeouts, connection errors and HTTP errors, after the client's retries
            return Completion(None, f"{type(exc).__name__}: {str(exc)[:300]}")
        if not response.choices:
            return Completion(None, "the endpoint returned no choices")
        usage = response.usage
        return Completion(response.choices[0].message.content or "",
                          prompt_tokens=usage.prompt_tokens if usage else None,
                          completion_tokens=usage.completion_tokens if usage else None)

    def _send_all(self, requests, indexes, done) -> None:
        if requests and self._client is None:
            self._client = self._connect()
        with ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="chat") as pool:
            futures = {pool.submit(self._send_one, m, p): i for (m, p), i in zip(requests, indexes, strict=True)}
            for future in as_completed(futures):  # cache each answer the moment it arrives
                done(futures[future], future.result())


class LocalBackend(_CachedBackend):
    """A model lingotune loads itself; greedy decoding, so ``temperature`` is recorded but unused."""

    def __init__(self, source: str | Any, *, dtype: str = "auto", batch_size: int = 8,
                 cache: RequestCache | None = None, trust_remote_code: bool = False) -> None:
        from lingotune.models.fingerprint import model_fingerprint
        from lingotune.models.sources import resolve_model

        self.resolved = resolve_model(source) if isinstance(source, str) else source  # or a ResolvedModel
        super().__init__(cache, {"kind": "local", "model": self.resolved.name,
                                 "weights": model_fingerprint(self.resolved)[:16], "dtype": dtype})
        self.dtype, self.batch_size, self.trust_remote_code = dtype, batch_size, trust_remote_code
        self._model = self._tokenizer = None

    def _send_all(self, requests, indexes, done) -> None:
        if not requests:
            return
        from lingotune.models.generate import generate_batched
        from lingotune.models.loading import load_model, load_tokenizer

        if self._model is None:
            self._tokenizer = load_tokenizer(self.resolved, trust_remote_code=self.trust_remote_code)
            self._model = load_model(self.resolved, dtype=self.dtype, trust_remote_code=self.trust_remote_code)
        by_length: dict[int, list[int]] = {}
        for position, (_, params) in enumerate(requests):
            by_length.setdefault(int(params.get("max_tokens", 256)), []).append(position)
        for max_tokens, positions in by_length.items():
            texts = generate_batched(self._model, self._tokenizer, [requests[p][0] for p in positions],
                                     max_new_tokens=max_tokens, batch_size=self.batch_size)
            for position, text in zip(positions, texts, strict=True):
                done(indexes[position], Completion(text))


def make_backend(spec: Any, cache: RequestCache | None) -> ChatBackend:
    """A backend from a ``BackendSpec`` (see ``lingotune.eval.judge.config``)."""
    if spec.kind == "local":
        return LocalBackend(spec.model, dtype=spec.dtype, batch_size=spec.batch_size, cache=cache,
                            trust_remote_code=spec.trust_remote_code)
    return OpenAIBackend(spec.model, spec.base_url, api_key_env=spec.api_key_env,
                         max_concurrency=spec.max_concurrency, timeout_s=spec.timeout_s,
                         max_retries=spec.max_retries, cache=cache)
