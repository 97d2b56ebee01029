"""Where everything of a run lives inside its folder; the one place these names are spelled out.

Readers (report, compare, serve) and writers (the run plan's steps) both go through this, so a run
folder written by one version of lingotune is found by the next.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunLayout:
    root: Path

    @property
    def recipe(self) -> Path:
        return self.root / "recipe.yaml"

    @property
    def info(self) -> Path:
        return self.root / "run_info.json"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def steps(self) -> Path:
        """One ``<step>.json`` per finished step: the done markers of the run plan."""
        return self.root / "steps"

    def step_marker(self, step: str) -> Path:
        return self.steps / (step.replace(":", "-") + ".json")

    def eval_dir(self, stage: str) -> Path:
        return self.root / "eval" / stage

    def summary(self, stage: str) -> Path:
        return self.eval_dir(stage) / "summary.json"

    def phase_dir(self, index: int, name: str) -> Path:
        """``index`` counts from 1, so the folders sort in phase order."""
        return self.root / "phases" / f"{index}-{name}"

    def expert_dir(self, name: str) -> Path:
        return self.root / "experts" / name

    def variant_dir(self, name: str) -> Path:
        return self.root / "variants" / name

    @property
    def merged(self) -> Path:
        """The top-level ``merge:`` section's model, and its mergekit files beside."""
        return self.root / "merged"

    @property
    def merge_files(self) -> Path:
        return self.root / "merge"

    @property
    def analysis(self) -> Path:
        return self.root / "analysis"

    @property
    def plots(self) -> Path:
        return self.root / "plots"


def checkpoints(train_dir: Path) -> Path:
    return train_dir / "checkpoints"


def trained_model(train_dir: Path) -> Path:
    return train_dir / "model"
