"""The error type of ``lingotune.merge``: a user-facing message, printed without a traceback.

Problems with a model's structure (a selection outside its blocks, mismatched architectures) are
``ModelStructureError`` from the models layer, which merges and freezing share; a merge that cannot
run for its own reasons (a bad reference, nothing selected) is a ``MergeError``.
"""

from __future__ import annotations

from lingotune.core.errors import LingotuneError, ModelStructureError

__all__ = ["MergeError", "ModelStructureError"]


class MergeError(LingotuneError):
    """A merge cannot run as asked: a bad reference, an empty swap, a checkpoint without weights."""
