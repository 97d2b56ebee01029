"""The one loop that runs a plan: skip finished steps, run the rest, record each as it ends.

A step is finished when its done marker (``steps/<name>.json``, written atomically after the step
returns) exists; a resumed run (``train.resume: true``) restores such steps instead of running them,
so rerunning a finished run trains and evaluates nothing, and an interrupted training step resumes
from its last checkpoint. ``run_info.json`` is rewritten after every step.
"""

from __future__ import annotations

import json
import platform
import time
from datetime import datetime
from pathlib import Path

from lingotune.core.context import RunContext
from lingotune.core.jsonio import write_json_atomic
from lingotune.core.peak_memory import StepPeak, return_freed_memory, rss_mb
from lingotune.core.progress import console
from lingotune.core.run_record import RunRecord
from lingotune.language.detect import release_detectors
from lingotune.models.sources import resolve_model
from lingotune.plan.load import dump_recipe
from lingotune.plan.planner import Plan
from lingotune.plan.recipe import Recipe
from lingotune.plan.steps import EvaluateStep, ReportStep, RunState, Step, TrainStep
from lingotune.train.distributed import WarmTrainingProcess


def chosen_launcher(accelerate_config: Path | None, launcher: str | None) -> str:
    """Where training steps run (``train/distributed.py``): accelerate when a config is given, else
    ``launcher``, ``LINGOTUNE_LAUNCHER`` or a fresh process."""
    from lingotune.train.distributed import default_launcher

    return "accelerate" if accelerate_config else launcher or default_launcher()


def run_context(recipe: Recipe, plan: Plan, accelerate_config: Path | None = None,
                launcher: str | None = None) -> RunContext:
    """``launcher``: see ``chosen_launcher``."""
    return RunContext(layout=plan.layout, seed=recipe.seed, trust_remote_code=recipe.model.trust_remote_code,
                      language_names=recipe.language_names, dtype=recipe.model.dtype, name=recipe.name,
                      accelerate_config=str(accelerate_config.resolve()) if accelerate_config else None,
                      launcher=chosen_launcher(accelerate_config, launcher))


def resuming(recipe: Recipe) -> bool:
    return recipe.train is not None and recipe.train.resume


def prepare_run_dir(recipe: Recipe, run_dir: Path) -> None:
    """A rerun without ``train.resume`` moves the old run aside instead of overwriting it."""
    if run_dir.exists() and any(run_dir.iterdir()) and not resuming(recipe):
        kept = run_dir.with_name(f"{run_dir.name}-{datetime.now():%Y%m%d-%H%M%S}")
        run_dir.rename(kept)
        console.print(f"[yellow]{run_dir} existed; moved it to {kept}[/yellow]")
    run_dir.mkdir(parents=True, exist_ok=True)


def _start_record(recipe: Recipe, plan: Plan) -> RunRecord:
    previous = RunRecord.read(plan.layout.info) if resuming(recipe) else RunRecord()
    return previous.model_copy(update={
        "name": recipe.name, "model": recipe.model.source, "language": recipe.language,
        "device": platform.processor() or platform.machine(), "finished": False})


def _done_record(plan: Plan, name: str) -> dict | None:
    marker = plan.layout.step_marker(name)
    return json.loads(marker.read_text(encoding="utf-8")) if marker.is_file() else None


def _run_step(plan: Plan, step: Step, state: RunState) -> None:
    record = _done_record(plan, step.name) if resuming(plan.recipe) else None
    if record is not None and not step.always:
        console.print(f"[dim]{step.name}: already done, skipped[/dim]")
    else:
        release_detectors()  # each step starts from what it needs: the last one's caches are freed
        return_freed_memory()
        started = time.time()
        rss_start = rss_mb()
        with StepPeak() as peak:
            record = step.run(state)
        record["seconds"] = round(time.time() - started, 3)
        # a training step launched in processes of its own reports the main one's peak: the step's is the larger
        record["peak_rss_mb"] = max((m for m in (peak.mb, record.get("process_peak_rss_mb")) if m is not None),
                                    default=None)
        record["rss_start_mb"] = rss_start
        if record["peak_rss_mb"] is not None and not step.always:
            at_start = f" (at start {rss_start:.0f} MB)" if rss_start is not None else ""
            console.print(f"[dim]{step.name}: {record['seconds']:.0f} s, peak RSS {record['peak_rss_mb']:.0f} MB"
                          f"{at_start}[/dim]")
        write_json_atomic(plan.layout.step_marker(step.name), record)
    step.restore(state, record)
    if isinstance(step, EvaluateStep) and step.stage not in state.record.stages:
        state.record.stages.append(step.stage)
    if step.name not in state.record.steps_done:
        state.record.steps_done.append(step.name)
    state.save()


def first_training_in_a_process(plan: Plan, accelerate_config: Path | None, launcher: str | None) -> TrainStep | None:
    """The first training step the run will launch as a process (or CPU processes), if any: worth starting
    that process early (``train.distributed.WarmTrainingProcess``)."""
    if chosen_launcher(accelerate_config, launcher) != "process":
        return None
    redo = not resuming(plan.recipe)
    return next((s for s in plan.steps if isinstance(s, TrainStep) and (redo or _done_record(plan, s.name) is None)),
                None)


def start_warm_training(plan: Plan, accelerate_config: Path | None, launcher: str | None) -> WarmTrainingProcess | None:
    """The run's first training step's processes, started now (None: it launches none)."""
    from lingotune.train.cpu_ranks import cpu_ranks
    from lingotune.train.distributed import JOB_FILE

    step = first_training_in_a_process(plan, accelerate_config, launcher)
    if step is None:
        return None
    assert step.spec is not None
    return WarmTrainingProcess(step.writes / JOB_FILE, cpu_ranks(step.spec, step.self_paced, step.optimizer_from))


def execute(plan: Plan, accelerate_config: Path | None = None, launcher: str | None = None,
            warm_training: WarmTrainingProcess | None = None) -> Path:
    """Run every step not yet done (the report last, after the record says finished); returns the run folder.

    ``accelerate_config``: training steps run under ``accelerate launch`` with it, the rest here;
    ``launcher``: inline or process (``run_context``); ``warm_training``: a ``WarmTrainingProcess`` for
    the first training step."""
    recipe = plan.recipe
    started = time.time()
    prepare_run_dir(recipe, plan.layout.root)
    plan.layout.recipe.write_text(dump_recipe(recipe), encoding="utf-8")
    state = RunState(run_context(recipe, plan, accelerate_config, launcher), _start_record(recipe, plan),
                     warm_training=warm_training)
    state.record.stages = []  # rebuilt from the plan's evaluations, done or skipped, in plan order
    state.save()
    state.models["base"] = resolve_model(recipe.model.source)
    reports = [s for s in plan.steps if isinstance(s, ReportStep)]
    for step in [s for s in plan.steps if not isinstance(s, ReportStep)]:
        _run_step(plan, step, state)
    state.record.wall_time_s += time.time() - started  # a resumed run adds to it
    state.record.finished = True
    state.save()
    for step in reports:
        _run_step(plan, step, state)
    return plan.layout.root
