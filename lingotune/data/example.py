"""The one canonical example type every loader produces and every builder and trainer consumes.

Messages use the Hugging Face chat format (``{"role": ..., "content": ...}``) so that they go
straight into ``tokenizer.apply_chat_template``. ``language`` is the language of the text the model
is asked to produce (ISO 639-1 or 639-3 code, any language). ``meta`` keeps whatever a later step
needs and the chat form loses: a QA item's context and gold answers, a parallel pair's two sides,
the record's id and its position in the source file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ROLES = ("system", "user", "assistant")


@dataclass
class Example:
    messages: list[dict[str, str]]
    language: str
    source: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def prompt_messages(self) -> list[dict[str, str]]:
        """Everything before the last assistant turn: what a model is asked at evaluation."""
        last = max((i for i, m in enumerate(self.messages) if m["role"] == "assistant"), default=None)
        return self.messages if last is None else self.messages[:last]

    @property
    def user_text(self) -> str:
        """The last user turn before the answer ("" when there is none): what a prompt is made of."""
        users = [m["content"] for m in self.prompt_messages if m["role"] == "user"]
        return users[-1] if users else ""

    @property
    def response(self) -> str | None:
        """The last assistant turn, the reference answer."""
        for message in reversed(self.messages):
            if message["role"] == "assistant":
                return message["content"]
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"messages": self.messages, "language": self.language, "source": self.source, "meta": self.meta}

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Example:
        return cls(record["messages"], record["language"], record["source"], dict(record.get("meta", {})))
