"""The steps a run plan is made of: translate, evaluate, train, merge, analyse, report.

A step names what it reads (model references such as ``base`` or ``expert:lang``, data files) and
the folder it writes, and ``run`` returns a JSON-able record of what it made. The loop
(``runner.py``) writes that record as the step's done marker and hands it to ``restore``, which
makes the step's outputs known to later steps: right after ``run``, or, on a resumed run, instead
of running the step again. Steps receive the run state (context, record,
models made so far), never the recipe. A new kind of step is a new class here or in its own module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lingotune.core.context import RunContext
from lingotune.core.errors import LingotuneError
from lingotune.core.progress import console
from lingotune.core.run_record import RunRecord
from lingotune.data.spec import DataSpec
from lingotune.eval.spec import EvalSpec
from lingotune.merge.references import parse_reference, substitute
from lingotune.models.sources import ResolvedModel
from lingotune.train.distributed import WarmTrainingProcess
from lingotune.train.spec import SelfPacedSpec, TrainSpec


@dataclass
class RunState:
    """What steps share while a plan runs: the models made so far by reference name, the record,
    and the training steps logged so far (so one loss curve runs across phases and experts)."""

    ctx: RunContext
    record: RunRecord
    models: dict[str, ResolvedModel] = field(default_factory=dict)
    step_offset: int = 0
    warm_training: WarmTrainingProcess | None = None  # started with the run, for its first training step

    def take_warm_training(self) -> WarmTrainingProcess | None:
        """The warm training process, once (train/distributed.py): later steps start their own."""
        warm, self.warm_training = self.warm_training, None
        return warm

    def model(self, reference: str) -> ResolvedModel:
        return self.models[reference]

    def save(self) -> None:
        self.record.save(self.ctx.layout.info)


@dataclass
class Step:
    name: str
    writes: Path
    reads: list[str] = field(default_factory=list)
    always: bool = False  # cheap and idempotent (the report): run even when marked done

    @property
    def kind(self) -> str:
        return type(self).__name__.removesuffix("Step").lower()

    def run(self, state: RunState) -> dict[str, Any]:
        raise NotImplementedError

    def restore(self, state: RunState, record: dict[str, Any]) -> None:
        """A finished step's outputs made known to later steps without running it again."""


@dataclass
class TranslateStep(Step):
    """Translate one data source's file into its language; training then reads the translated file."""

    source: Any = None  # a data source (SourceSpec) with translate:

    def run(self, state: RunState) -> dict[str, Any]:
        from lingotune.data.translate.dataset import translate_file

        source = self.source
        console.rule(f"translate {source.name} → {source.language}")
        summary = translate_file(source.path, source.language, source.translate, self.writes / "translated.jsonl",
                                 fmt=source.format, names=state.ctx.language_names,
                                 report=self.writes / "translation_report.md")
        if summary.records and not summary.kept:  # a rerun after a fix costs only the failed requests
            reasons = ", ".join(f"{k} {v}" for k, v in summary.reasons.items())
            raise LingotuneError(f"data source {source.name!r}: the translator kept none of {summary.records} "
                                 f"records ({reasons}); see {summary.report}")
        return summary.to_json()

    def restore(self, state: RunState, record: dict[str, Any]) -> None:
        self.source.use_translation(record["out"])
        state.record.translations[self.source.name] = {k: record[k] for k in (
            "target_language", "records", "kept", "rejected", "reasons", "requests", "cache_hits", "seconds", "report")}


@dataclass
class EvaluateStep(Step):
    stage: str = ""
    model_ref: str = "base"
    spec: EvalSpec | None = None
    use_cache: bool = False

    def run(self, state: RunState) -> dict[str, Any]:
        from lingotune.eval.suite import evaluate_model

        assert self.spec is not None
        summary = evaluate_model(state.model(self.model_ref), self.spec, state.ctx, self.stage,
                                 use_cache=self.use_cache)
        state.record.eval_time_s += summary["eval_time_s"]
        return {"stage": self.stage, "eval_time_s": summary["eval_time_s"]}


@dataclass
class TrainStep(Step):
    """Train ``from_ref`` on ``data`` into ``writes``; the model becomes ``produces``."""

    produces: str = "final"
    from_ref: str = "base"
    data: DataSpec | None = None
    spec: TrainSpec | None = None
    label: str | None = None  # the phase/expert name in metrics.jsonl (None: plain training)
    model_name: str = ""
    self_paced: SelfPacedSpec | None = None
    optimizer_from: Path | None = None
    save_optimizer: bool = False
    expert_frozen: str | None = None  # set for experts: recorded in run_info's experts table

    def run(self, state: RunState) -> dict[str, Any]:
        assert self.data is not None and self.spec is not None
        for source in self.data.sources:
            source.require_translation()
        if self.label is not None:
            console.rule(f"{self.kind_label} {self.label}")
        settings = dict(phase=self.label, step_offset=state.step_offset, self_paced=self.self_paced,
                        optimizer_state=self.optimizer_from, save_optimizer_state=self.save_optimizer)
        process_peak = None
        if state.ctx.launcher == "inline":
            from lingotune.train.run import train_on

            result, dropped = train_on(state.model(self.from_ref), self.data, self.spec, state.ctx, self.writes,
                                       **settings)
        else:
            from lingotune.train.distributed import launch_training

            accelerate = Path(state.ctx.accelerate_config) if state.ctx.launcher == "accelerate" else None
            (result, dropped), process_peak = launch_training(
                self.writes, state.model(self.from_ref), self.data, self.spec, state.ctx,
                accelerate_config=accelerate, warm=state.take_warm_training(), **settings)
        state.record.add_training(result.train_time_s, result.train_tokens, result.train_examples, dropped,
                                  result.final_loss)
        return {"steps": result.steps, "model_dir": str(Path(result.model_dir).resolve()),
                "train_time_s": result.train_time_s, "train_tokens": result.train_tokens,
                "train_examples": result.train_examples, "train_examples_dropped": dropped,
                "final_loss": result.final_loss, "frozen": self.expert_frozen,
                **({"process_peak_rss_mb": process_peak} if process_peak is not None else {})}

    @property
    def kind_label(self) -> str:
        return self.name.partition(":")[0]

    def restore(self, state: RunState, record: dict[str, Any]) -> None:
        state.models[self.produces] = ResolvedModel(self.model_name, record["model_dir"], "local")
        state.step_offset += int(record["steps"])
        if self.name.startswith("expert:"):
            state.record.experts[self.label or self.name] = {k: v for k, v in record.items() if k != "seconds"}


@dataclass
class MergeStep(Step):
    """A mergekit merge; its model references are replaced by the run's folders just before it runs."""

    produces: str = "final"
    spec: Any = None  # a MergeSpec
    model_name: str = ""
    description: str = ""
    record_dir: Path | None = None

    def run(self, state: RunState) -> dict[str, Any]:
        from lingotune.merge.run import run_merge_spec

        console.rule(f"{self.name} ({self.spec.method})")
        resolved = substitute(self.spec, lambda kind, name: state.model(
            "base" if kind == "base" else f"{kind}:{name}").path)
        result = run_merge_spec(resolved, self.writes, self.record_dir or self.writes.parent)
        return {"method": self.spec.method, "merge_time_s": result.seconds, "model_dir": str(self.writes.resolve()),
                "mergekit_config": str(result.config_path), "description": self.description}

    def restore(self, state: RunState, record: dict[str, Any]) -> None:
        state.models[self.produces] = ResolvedModel(self.model_name, record["model_dir"], "local")
        if self.produces.startswith("variant:"):
            name = self.produces.partition(":")[2]
            state.record.variants[name] = {k: record[k] for k in ("method", "merge_time_s", "mergekit_config",
                                                                  "description")}
        else:
            state.record.merge_time_s = record["merge_time_s"]


@dataclass
class AnalyzeStep(Step):
    """Update magnitudes of the experts trained without freezing: the evidence for choosing layers."""

    experts: list[str] = field(default_factory=list)

    def run(self, state: RunState) -> dict[str, Any]:
        import json

        from lingotune.merge.analyze import analyze_updates, save_heatmap

        analysis = analyze_updates(state.model("base").path, [state.model(f"expert:{n}").path for n in self.experts],
                                   self.experts)
        self.writes.mkdir(parents=True, exist_ok=True)
        (self.writes / "update_magnitudes.json").write_text(json.dumps(analysis.to_json(), indent=2))
        save_heatmap(analysis, self.writes / "update_magnitudes.png")
        return {"experts": self.experts, "suggestion": analysis.suggestion, "num_layers": analysis.num_layers}

    def restore(self, state: RunState, record: dict[str, Any]) -> None:
        state.record.analysis = {k: record[k] for k in ("experts", "suggestion", "num_layers")}


@dataclass
class ReportStep(Step):
    always: bool = True

    def run(self, state: RunState) -> dict[str, Any]:
        from lingotune.report.run_report import write_report

        md, _ = write_report(state.ctx.layout.root)
        console.print(f"[bold green]Report:[/bold green] {md}")
        return {"report": str(md)}


def model_reads(spec: Any) -> list[str]:
    """The model references (or sources) a merge reads, for the plan listing."""
    sources = spec.model_sources().values()
    return [value if parse_reference(value) else f"model {value}" for value in sources]
