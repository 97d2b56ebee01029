"""lingotune: adapt English-first LLMs to new languages, and measure what it did."""

__version__ = "0.1.0"
