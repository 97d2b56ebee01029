"""A dedicated translation model (Marian, NLLB, M2M100, MADLAD-400) behind the cached chat-backend interface.

Data recipes translate with whatever ``ChatBackend`` they are given; this one lets that be a seq2seq
MT model instead of a prompted LLM, with the same request shape (one user message holding the text,
``params = {"max_tokens": N}``), the same sqlite ``RequestCache`` and the same stats. The text is
translated as is: there is no prompt to write.

Everything that can be wrong with the languages is checked in the constructor, from the tokenizer
alone (no weights are read): an unknown code, a language the model lacks or the wrong side of a
single-pair Marian model fail before the first request, naming the model and what it supports. The
weights load on the first request the cache cannot answer. Inputs over the model's limit come back as
an error ``Completion`` instead of being cut (transformers would truncate without a word, or index
past the position table): split them with ``count_tokens`` first.

The per-family language handling (FLORES-200 codes and ``forced_bos_token_id`` for NLLB, ISO codes for
M2M100, ``<2xx>`` prefixes for MADLAD, ``>>xxx<<`` prefixes for multi-target Marian) is hand-written
in ``mt_codes`` because transformers leaves the codes to the caller.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from lingotune.core.errors import LingotuneError, ModelSourceError
from lingotune.inference.backends import Completion, Messages, RequestCache, _CachedBackend
from lingotune.inference.mt_codes import (
    check_marian_side,
    flores_code,
    m2m_code,
    madlad_prefix,
    marian_pair,
    marian_target_token,
)
from lingotune.models.sources import ResolvedModel

FAMILIES = ("marian", "nllb", "m2m100", "madlad")
_DEFAULT_INPUT_LIMIT = 1024  # tokenizers without a real model_max_length report 1e30
_LANGUAGE_TOKEN = {"nllb": re.compile(r"[a-z]{3}_[A-Z][a-z]{3}"), "madlad": re.compile(r"<2[^>]+>"),
                   "marian": re.compile(r">>[^<]+<<")}


def detect_family(tokenizer: Any, config: Any) -> str:
    """Which family's language handling applies. The tokenizer decides first because NLLB checkpoints
    carry an M2M100 config (model_type "m2m_100") but need FLORES codes, not M2M100's."""
    tokenizer_class = type(tokenizer).__name__
    model_type = getattr(config, "model_type", "")
    if tokenizer_class.startswith("Nllb"):
        return "nllb"
    if tokenizer_class.startswith("M2M100") or model_type == "m2m_100":
        return "m2m100"
    if tokenizer_class.startswith("Marian") or model_type == "marian":
        return "marian"
    if tokenizer_class.startswith(("T5", "MT5")) or model_type in {"t5", "mt5"}:
        return "madlad"
    raise LingotuneError(f"a {model_type or 'model'} with a {tokenizer_class} is not a translation model lingotune "
                         f"knows; supported families: Marian, NLLB, M2M100, MADLAD-400 (T5)")


def _request_text(messages: Messages) -> tuple[str | None, str | None]:
    """(text, None), or (None, why): a seq2seq model has no roles, so anything but one user message
    would silently lose the rest."""
    roles = [m.get("role") for m in messages]
    if roles != ["user"] or not isinstance(messages[0].get("content"), str):
        return None, f"a translation model takes exactly one user message holding the text; got roles {roles}"
    return messages[0]["content"], None


class Seq2SeqBackend(_CachedBackend):
    """Translates each request's text from ``source_language`` to ``target_language``; greedy unless
    ``num_beams`` > 1. Identity: model, weights fingerprint, family, both family codes and beams."""

    def __init__(self, source: str | ResolvedModel, source_language: str, target_language: str, *,
                 dtype: str = "auto", batch_size: int = 16, num_beams: int = 1, max_input_tokens: int | None = None,
                 cache: RequestCache | None = None) -> None:
        from transformers import AutoConfig, AutoTokenizer

        from lingotune.models.fingerprint import model_fingerprint
        from lingotune.models.sources import resolve_model

        if batch_size < 1 or num_beams < 1:
            raise LingotuneError(f"batch_size and num_beams must be at least 1 (got {batch_size}, {num_beams})")
        self.resolved = resolve_model(source) if isinstance(source, str) else source
        name = self.resolved.name
        try:
            config = AutoConfig.from_pretrained(self.resolved.path, trust_remote_code=False)
            tokenizer = AutoTokenizer.from_pretrained(self.resolved.path, trust_remote_code=False)
        except (OSError, ValueError) as exc:
            raise ModelSourceError(f"model {name}: could not read its config or tokenizer "
                                   f"({type(exc).__name__}: {str(exc)[:300]})") from None
        tokenizer.padding_side = "right"  # the encoder reads padded inputs; right is how these were trained
        self.family = detect_family(tokenizer, config)
        self._tokenizer, self._config = tokenizer, config
        self._vocab: dict[str, int] = tokenizer.get_vocab()
        self._prefix = ""
        self._forced_bos: int | None = None
        self.source_code = self._language_code("source", source_language)
        self.target_code = self._language_code("target", target_language)
        self.source_language, self.target_language = source_language, target_language
        self._language_ids = self._language_token_ids()

        limits = [_DEFAULT_INPUT_LIMIT, int(min(tokenizer.model_max_length, 10**9))]
        positions = getattr(config, "max_position_embeddings", None)
        if isinstance(positions, int) and positions > 0:
            limits.append(positions)  # learned/sinusoidal position tables end here; T5 has none
        if max_input_tokens is not None and max_input_tokens < 1:
            raise LingotuneError(f"max_input_tokens must be positive (got {max_input_tokens})")
        self.max_input_tokens = max_input_tokens if max_input_tokens is not None else min(limits)
        self._max_new_tokens = positions - 1 if isinstance(positions, int) and positions > 1 else None
        self.dtype, self.batch_size, self.num_beams = dtype, batch_size, num_beams
        self._model = None
        super().__init__(cache, {"kind": "seq2seq", "model": name,
                                 "weights": model_fingerprint(self.resolved)[:16], "family": self.family,
                                 "src": self.source_code, "tgt": self.target_code, "num_beams": num_beams})

    def _language_code(self, side: str, language: str) -> str:
        """The family's code for one side, setting the tokenizer state it implies; fails naming the model."""
        tokenizer = self._tokenizer
        try:
            if self.family == "nllb":
                code = flores_code(language, self._vocab)
                if side == "source":
                    tokenizer.src_lang = code  # the encoder input starts with the source language token
                else:
                    self._forced_bos = tokenizer.convert_tokens_to_ids(code)
            elif self.family == "m2m100":
                code = m2m_code(language, tokenizer.lang_code_to_id)
                if side == "source":
                    tokenizer.src_lang = code
                else:
                    self._forced_bos = tokenizer.get_lang_id(code)
            elif self.family == "madlad":
                code = madlad_prefix(language, self._vocab)  # the source token only validates
                if side == "target":
                    self._prefix = code + " "
            else:
                code = self._marian_code(side, language)
        except LingotuneError as exc:
            raise LingotuneError(f"model {self.resolved.name} ({self.family}) cannot take {side} language "
                                 f"{language!r}: {exc}") from None
        return code

    def _marian_code(self, side: str, language: str) -> str:
        tokenizer = self._tokenizer
        name = self.resolved.name if "opus-mt-" in self.resolved.name else self.resolved.path
        known_source, known_target = marian_pair(name, getattr(tokenizer, "source_lang", None),
                                                 getattr(tokenizer, "target_lang", None))
        if side == "source":
            return check_marian_side(language, known_source)
        token = marian_target_token(language, self._vocab)
        if token is None:  # a single-pair model: the target is whatever it was trained on
            return check_marian_side(language, known_target)
        self._prefix = token + " "
        return token

    def _language_token_ids(self) -> set[int]:
        """Ids of the family's language tokens, removed from every answer: M2M100's tokenizer in
        transformers 5 does not count its ``__es__`` tokens as special, so ``skip_special_tokens``
        would leave the forced target token (and any the model emits) in the text."""
        if self.family == "m2m100":
            return set(self._tokenizer.lang_code_to_id.values())
        pattern = _LANGUAGE_TOKEN[self.family]
        return {i for token, i in self._vocab.items() if pattern.fullmatch(token)}

    def count_tokens(self, text: str) -> int:
        """Encoder tokens for ``text`` as it will be sent (with the language prefix and special tokens),
        to compare with ``max_input_tokens`` when splitting long documents."""
        return len(self._encode([text])[0])

    def _encode(self, texts: Sequence[str]) -> list[list[int]]:
        return self._tokenizer([self._prefix + t for t in texts], add_special_tokens=True,
                               truncation=False)["input_ids"]

    def _load(self) -> None:
        import torch
        from transformers import AutoModelForSeq2SeqLM

        from lingotune.models.loading import resolve_dtype

        try:
            model = AutoModelForSeq2SeqLM.from_pretrained(self.resolved.path, dtype=resolve_dtype(self.dtype),
                                                          use_safetensors=True, trust_remote_code=False)
        except (OSError, ValueError) as exc:  # most often: the checkpoint has only pytorch_model.bin
            raise ModelSourceError(f"model {self.resolved.name}: could not load safetensors weights "
                                   f"({type(exc).__name__}: {str(exc)[:300]}); lingotune loads safetensors only"
                                   ) from None
        if self.resolved.adapter_path:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, self.resolved.adapter_path).merge_and_unload()
        if torch.cuda.is_available():
            model = model.to("cuda")
        self._model = model.eval()

    def _send_all(self, requests, indexes, done) -> None:
        pending: list[tuple[int, str, Any]] = []  # (index, text, max_tokens)
        for (messages, params), index in zip(requests, indexes, strict=True):
            text, problem = _request_text(messages)
            max_tokens = (params or {}).get("max_tokens")
            if problem is None and max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
                problem = f"max_tokens must be a positive integer (got {max_tokens!r})"
            if problem is not None:
                done(index, Completion(None, error=problem))
            elif not text.strip():
                done(index, Completion(text, prompt_tokens=0, completion_tokens=0))  # nothing to translate
            else:
                pending.append((index, text, max_tokens))
        if not pending:
            return
        encoded = self._encode([text for _, text, _ in pending])
        work: list[tuple[int, list[int], int]] = []  # (index, input ids, new-token budget)
        for (index, _, max_tokens), ids in zip(pending, encoded, strict=True):
            if len(ids) > self.max_input_tokens:
                done(index, Completion(None, error=f"input is {len(ids)} tokens, over the model's limit of "
                                                   f"{self.max_input_tokens}; split it first"))
                continue
            budget = max_tokens if max_tokens is not None else 2 * len(ids) + 16
            if self._max_new_tokens is not None:
                budget = min(budget, self._max_new_tokens)  # the decoder's position table ends there
            work.append((index, ids, budget))
        if not work:
            return
        if self._model is None:
            self._load()
        work.sort(key=lambda item: -len(item[1]))  # similar lengths share a batch: little padding
        for start in range(0, len(work), self.batch_size):
            batch = work[start:start + self.batch_size]
            for index, completion in zip((i for i, _, _ in batch), self._translate(batch), strict=True):
                done(index, completion)  # committed to the cache per batch: a killed run loses one batch

    def _translate(self, batch: list[tuple[int, list[int], int]]) -> list[Completion]:
        """One ``generate`` call, run to the batch's largest budget; each row is then cut to its own
        budget so an answer does not depend on which requests shared its batch."""
        import torch

        tokenizer = self._tokenizer
        inputs = tokenizer.pad({"input_ids": [ids for _, ids, _ in batch]}, return_tensors="pt")
        inputs = {key: value.to(self._model.device) for key, value in inputs.items()}
        extra = {"forced_bos_token_id": self._forced_bos} if self._forced_bos is not None else {}
        with torch.inference_mode():
            output = self._model.generate(**inputs, max_new_tokens=max(b for _, _, b in batch),
                                          num_beams=self.num_beams, do_sample=False, **extra)
        pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
        completions = []
        for row, (_, ids, budget) in zip(output.tolist(), batch, strict=True):
            generated = row[1:1 + budget]  # row[0] is the decoder start token
            if eos in generated:
                generated = generated[:generated.index(eos) + 1]
            kept = [t for t in generated if t != pad]
            words = [t for t in kept if t not in self._language_ids]
            text = tokenizer.decode(words, skip_special_tokens=True).strip()
            completions.append(Completion(text, prompt_tokens=len(ids), completion_tokens=len(kept)))
        return completions
