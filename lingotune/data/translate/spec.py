"""``translate:`` on a data source, and the options of ``lingotune data translate``: one spec for both."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from lingotune.core.schema import LANGUAGE_CODE, Strict
from lingotune.inference.spec import BackendSpec


class TranslatorSpec(BackendSpec):
    """Who translates. ``openai``: any OpenAI-compatible chat endpoint; ``local``: a causal LM lingotune
    loads (prompted to translate); ``seq2seq``: an MT model through transformers (Marian, NLLB, M2M100,
    MADLAD; hub id or local folder), which needs no prompt."""

    kind: Literal["openai", "local", "seq2seq"] = "local"  # type: ignore[assignment]
    model: str = "smollm2-135m-instruct"
    num_beams: int = Field(default=1, ge=1, le=8)  # seq2seq only


class FewShotSpec(Strict):
    """Translation pairs shown to a chat translator before each request (small models need them)."""

    path: str  # a parallel file (TSV or "src|tgt" pair of files) in the source → target direction
    n: int = Field(default=2, ge=1, le=16)


class FilterSpec(Strict):
    """Quality filters; a record failing any is written to the rejected file with its reasons."""

    language: bool = True  # the translated prose is detected as the target language
    min_length_ratio: float = Field(default=0.5, gt=0)  # translated / source prose characters
    max_length_ratio: float = Field(default=2.0, gt=0)
    min_chars_for_ratio: int = Field(default=20, ge=0)  # shorter sources are not ratio-checked
    same_as_source: bool = True  # a sentence of 4+ words came back unchanged
    loops: bool = True  # "I'm sorry, I'm sorry…"
    round_trip_min_chrf: float | None = Field(default=None, ge=0, le=100)  # back-translation chrF vs source


class TranslateSpec(Strict):
    source_language: str = Field(default="en", pattern=LANGUAGE_CODE)
    backend: TranslatorSpec = Field(default_factory=TranslatorSpec)
    prompt_template: str | None = None  # chat backends: {source_name} {target_name} {text}
    few_shot: FewShotSpec | None = None
    max_chars: int = Field(default=400, ge=40)  # longer prose is split at sentences below this
    fields: Literal["all", "prompt"] = "all"  # "prompt": translate prompts only, regenerate the answers
    regenerate: BackendSpec | None = None  # the model that writes the answers when fields: prompt
    regenerate_max_tokens: int = Field(default=384, gt=0)
    filters: FilterSpec = Field(default_factory=FilterSpec)
    max_records: int | None = Field(default=None, gt=0)  # the first N records only
    chunk_size: int = Field(default=64, gt=0)  # requests per call to the backend (what a crash can lose)

    def file_fields(self) -> list[str]:
        return ["few_shot.path"] if self.few_shot else []

    @model_validator(mode="after")
    def _regenerate_needed(self) -> TranslateSpec:
        if self.fields == "prompt" and self.regenerate is None:
            raise ValueError("fields: prompt translates only the prompts; name the model that writes the answers "
                             "in regenerate: {kind: local, model: ...}")
        return self
