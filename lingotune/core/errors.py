"""User-facing errors.

Every error a user can cause (bad recipe, bad data, missing model) is a ``LingotuneError``: the CLI
prints its message alone, without a traceback, because the message already says what was wrong,
where (file, line or key) and what was expected.
"""

from __future__ import annotations


class LingotuneError(Exception):
    """An error caused by user input, with a message meant to be read by that user."""


class RecipeError(LingotuneError):
    """A recipe file is malformed or names an unknown key or a value of the wrong type."""


class DataError(LingotuneError):
    """A data file cannot be read as the format it claims to be."""

    def __init__(self, path: str, where: str, problem: str) -> None:
        self.path, self.where, self.problem = path, where, problem
        super().__init__(f"{path}:{where}: {problem}")

    def __reduce__(self):  # pickled from a training process back to the run (train/distributed.py)
        return DataError, (self.path, self.where, self.problem)


class ModelSourceError(LingotuneError):
    """A model name, path or package cannot be resolved to a loadable checkpoint."""


class ModelStructureError(LingotuneError):
    """A model's layers or tensors do not fit what was asked: a selection outside its blocks, an
    architecture mergekit does not know, two experts of different shapes, a folder without weights."""


class TrainingError(LingotuneError):
    """Training cannot run as configured (e.g. a freeze mask that needs full fine-tuning)."""
