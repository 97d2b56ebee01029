"""The one error type of ``lingotune.merge``: a user-facing message, printed without a traceback."""

from __future__ import annotations

from lingotune.errors import LingotuneError


class MergeError(LingotuneError):
    """A merge cannot run as asked: mismatched architectures, a selection outside the model, a bad reference."""
