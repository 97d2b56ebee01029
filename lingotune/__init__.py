"""lingotune: adapt English-first LLMs to new languages, and measure what it did."""

from lingotune.core.peak_memory import cap_onednn_primitive_cache

cap_onednn_primitive_cache()  # before torch creates its first CPU kernel (core/peak_memory.py says why)

__version__ = "0.1.0"
