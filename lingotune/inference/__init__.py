"""Chat backends (local and OpenAI-compatible, with a request cache) and ``lingotune serve``."""
