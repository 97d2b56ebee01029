"""Whether every layer of a model attends over its whole context.

Sliding-window and recurrent layers count cache slots or tokens, not example boundaries, so the
attention shortcuts that lean on boundaries (shared prompt beginnings in generation, per-example
attention in packed training) are used only on models where this holds.
"""

from __future__ import annotations


def full_attention_only(model) -> bool:
    """Decoder-only, no sliding window, every listed layer type full attention."""
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    if getattr(config, "is_encoder_decoder", False) or getattr(config, "sliding_window", None):
        return False
    layer_types = getattr(config, "layer_types", None)
    return not layer_types or all(kind == "full_attention" for kind in layer_types)
