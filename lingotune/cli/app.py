"""The ``lingotune`` command. Each command parses arguments and calls one component; user errors
print as one message (no traceback), everything else propagates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from lingotune.cli.errors import user_errors
from lingotune.core.errors import LingotuneError
from lingotune.core.progress import console

app = typer.Typer(help="Adapt English-first LLMs to new languages, and measure what it did.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
data_app = typer.Typer(help="Inspect and check data files.", no_args_is_help=True)
models_app = typer.Typer(help="List and prepare models.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(models_app, name="models")



Overrides = Annotated[list[str] | None, typer.Argument(help="key=value overrides, e.g. train.max_steps=10")]
FormatOpt = Annotated[
    str, typer.Option("--format", "-f", help="alpaca|sharegpt|messages|squad|parallel|csv|conll|hf|mt_bench|auto")
]
SourceLanguageOpt = Annotated[
    str | None, typer.Option("--source-language", "-s", help="source side's language, for parallel data")
]
UnsafeExecOpt = Annotated[bool, typer.Option(
    "--unsafe-exec", help="code tasks: run model-written programs with resource limits only where no sandbox "
                          "(bubblewrap, user namespaces) is available; never on a machine you care about")]
LanguageOpt = Annotated[str, typer.Option("--language", "-l", help="language code of the examples (ISO 639-1/-3)")]


@app.command()
@user_errors
def run(
    recipe: Path,
    overrides: Overrides = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the plan and check the recipe; run nothing")]
    = False,
    launcher: Annotated[str | None, typer.Option(
        help="where training steps run: process (a fresh Python process each: the default, or what "
             "LINGOTUNE_LAUNCHER says), inline (in this process: for debuggers), accelerate (under accelerate "
             "launch with --config: multi-GPU, FSDP, DeepSpeed); the rest runs once, here")] = None,
    config: Annotated[Path | None, typer.Option(help="the accelerate config file for --launcher accelerate "
                                                     "(e.g. configs/accelerate/ddp.yaml)")] = None,
    unsafe_exec: UnsafeExecOpt = False,
) -> None:
    """Run a recipe: baseline evaluation, training, evaluation after, report."""
    from lingotune.plan import check_recipe, load_recipe, run_recipe
    from lingotune.train.distributed import LAUNCHERS

    if launcher not in (None, *LAUNCHERS):
        raise LingotuneError(f"--launcher {launcher}: expected one of {', '.join(LAUNCHERS)}")
    if (launcher == "accelerate") != (config is not None):
        raise LingotuneError("--launcher accelerate and --config FILE go together (an accelerate config file, "
                             "e.g. configs/accelerate/ddp.yaml)")
    if config is not None and not config.is_file():
        raise LingotuneError(f"--config {config}: no such file")
    loaded = load_recipe(recipe, overrides, unsafe_exec=unsafe_exec)
    _warn_unsafe(unsafe_exec)
    if dry_run:
        check_recipe(loaded, show=True)
        console.print("[green]✓[/green] recipe checked: every data source, builder, task and reference is usable")
        return
    run_recipe(loaded, config, launcher)


@app.command("eval")
@user_errors
def evaluate(
    recipe: Path,
    overrides: Overrides = None,
    model: Annotated[str | None, typer.Option(help="evaluate this model instead of the recipe's")] = None,
    stage: Annotated[str, typer.Option(help="name of this evaluation in the run folder")] = "base",
    unsafe_exec: UnsafeExecOpt = False,
) -> None:
    """Evaluate a model with a recipe's eval section only (no training)."""
    from lingotune.eval.suite import evaluate_model
    from lingotune.models.sources import resolve_model
    from lingotune.plan import load_recipe, plan
    from lingotune.plan.runner import run_context
    from lingotune.report.run_report import write_report

    loaded = load_recipe(recipe, overrides, unsafe_exec=unsafe_exec)
    _warn_unsafe(unsafe_exec)
    if loaded.eval is None:
        raise LingotuneError(f"{recipe}: the recipe has no eval section")
    the_plan = plan(loaded)
    run_dir = the_plan.layout.root
    run_dir.mkdir(parents=True, exist_ok=True)
    resolved = resolve_model(model or loaded.model.source)
    evaluate_model(resolved, loaded.eval, run_context(loaded, the_plan), stage,
                   use_cache=loaded.eval.cache_base and model is None)
    md, _ = write_report(run_dir, before=stage, after=stage)
    console.print(f"Report: {md}")


def _warn_unsafe(unsafe_exec: bool) -> None:
    if unsafe_exec:
        console.print("[bold red]--unsafe-exec[/bold red]: where no sandbox works, model-written code runs on this "
                      "machine as you, with resource limits only (the isolation level is written into every result)")


@app.command()
@user_errors
def report(run_dir: Path) -> None:
    """(Re)build report.md and report.html of a run folder."""
    from lingotune.report.run_report import write_report

    if not (run_dir / "eval").is_dir():
        raise LingotuneError(f"{run_dir} has no eval/ folder: is it a lingotune run folder?")
    md, html = write_report(run_dir)
    console.print(f"Report: {md}\n        {html}")


@app.command()
@user_errors
def compare(
    run_dirs: Annotated[list[Path], typer.Argument(help="run folders")],
    out: Annotated[Path | None, typer.Option(help="output folder")] = None,
    baseline: Annotated[Path | None, typer.Option(help="baseline run (default: the first)")] = None,
    judge_url: Annotated[str | None, typer.Option(help="OpenAI-compatible base URL of a judge")] = None,
    judge_model: Annotated[str | None, typer.Option(help="judge model: pairwise win rates vs the baseline")] = None,
    judge_key_env: Annotated[str | None, typer.Option(help="environment variable holding the judge API key")] = None,
) -> None:
    """One report across runs: every metric with CIs against a baseline run, with plots."""
    from lingotune.report.compare import compare_command

    compare_command(run_dirs, out, baseline, judge_url, judge_model, judge_key_env)


@data_app.command("validate")
@user_errors
def data_validate(
    file: Path, format: FormatOpt = "auto", language: LanguageOpt = "und", source_language: SourceLanguageOpt = None
) -> None:
    """Check every record of a data file and list all problems (not just the first)."""
    from lingotune.data.validate import validate_file

    errors = validate_file(file, format, language, source_language=source_language)
    for error in errors:
        console.print(escape(str(error)), highlight=False)
    if errors:
        console.print(f"[bold red]{len(errors)} bad record(s)[/bold red] in {escape(str(file))}")
        raise typer.Exit(1)
    console.print(f"[green]✓[/green] {escape(str(file))}: all records valid")


@data_app.command("translate")
@user_errors
def data_translate(
    file: Path,
    to: Annotated[str, typer.Option("--to", help="target language code (es, hi, pt-BR, spa_Latn…)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="translated file (.jsonl, or .json for a JSON list)")],
    source_language: Annotated[str, typer.Option("--from", help="the file's language")] = "en",
    format: FormatOpt = "auto",
    backend: Annotated[str, typer.Option(help="local (a causal LM lingotune loads) | openai (any OpenAI-compatible "
                                              "endpoint) | seq2seq (Marian/NLLB/M2M100/MADLAD)")] = "local",
    model: Annotated[str, typer.Option(help="model: embedded name, local folder or hub id; served name for "
                                            "openai")] = "smollm2-135m-instruct",
    base_url: Annotated[str | None, typer.Option(help="openai: e.g. http://127.0.0.1:8000/v1")] = None,
    api_key_env: Annotated[str | None, typer.Option(help="openai: NAME of the env variable with the key")] = None,
    max_concurrency: Annotated[int, typer.Option(help="openai: requests in flight")] = 4,
    few_shot: Annotated[Path | None, typer.Option(help="parallel file (TSV) whose first pairs are shown to a "
                                                       "prompted translator")] = None,
    prompt_only: Annotated[bool, typer.Option(help="translate prompts only and regenerate the answers with "
                                                   "--regenerate-model (Bactrian-X)")] = False,
    regenerate_model: Annotated[str | None, typer.Option(help="local model that writes the answers")] = None,
    max_chars: Annotated[int, typer.Option(help="split prose longer than this at sentences")] = 400,
    max_records: Annotated[int | None, typer.Option(help="translate only the first N records")] = None,
    round_trip_chrf: Annotated[float | None, typer.Option(help="translate back and reject fields whose "
                                                                "back-translation scores below this chrF")] = None,
    config: Annotated[Path | None, typer.Option(help="a YAML file with the translate: section (all options, "
                                                     "filters included); other options are then ignored")] = None,
    cache: Annotated[Path | None, typer.Option(help="request cache (sqlite); default ~/.cache/lingotune")] = None,
) -> None:
    """Translate a data file, keeping code, URLs, placeholders and numbers; cached, resumable, filtered.

    Writes OUT (kept records, same format, source text under "translation"), OUT.rejected.jsonl (with
    reasons), translation_report.md and translation_summary.json beside OUT.
    """
    import yaml
    from pydantic import ValidationError

    from lingotune.data.translate.dataset import translate_file
    from lingotune.data.translate.spec import TranslateSpec
    from lingotune.inference.backends import RequestCache

    if config is not None:
        tree = yaml.safe_load(config.read_text(encoding="utf-8"))
        tree = tree.get("translate", tree) if isinstance(tree, dict) else tree
    else:
        tree = {"source_language": source_language, "max_chars": max_chars, "max_records": max_records,
                "filters": {"round_trip_min_chrf": round_trip_chrf},
                "backend": {"kind": backend, "model": model, "base_url": base_url, "api_key_env": api_key_env,
                            "max_concurrency": max_concurrency},
                **({"few_shot": {"path": str(few_shot)}} if few_shot else {}),
                **({"fields": "prompt", "regenerate": {"kind": "local", "model": regenerate_model or model}}
                   if prompt_only else {})}
    try:
        spec = TranslateSpec.model_validate(tree)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise LingotuneError(f"{config or 'options'}: {problems}") from None
    translate_file(file, to, spec, out, fmt=format, cache=RequestCache(cache) if cache else None)


@data_app.command("stats")
@user_errors
def data_stats(
    file: Path,
    format: FormatOpt = "auto",
    language: LanguageOpt = "und",
    source_language: SourceLanguageOpt = None,
    model: Annotated[str | None, typer.Option(help="count tokens with this model's tokenizer")] = None,
) -> None:
    """Per-language example, word and token counts, and tokens per word (fertility); for a token-tagged
    CoNLL file also its code-switching summary (see ``data codeswitch``)."""
    from lingotune.data.loaders import load_examples
    from lingotune.data.stats import compute_stats, format_stats_table

    examples = load_examples(file, format, language, source_language=source_language)
    tokenizer = None
    if model:
        from lingotune.models.loading import load_tokenizer
        from lingotune.models.sources import resolve_model

        tokenizer = load_tokenizer(resolve_model(model))
    console.print(format_stats_table(compute_stats(examples, tokenizer)))
    if format == "conll" or (format == "auto" and file.suffix.lower() == ".conll"):
        from lingotune.cli.codeswitch import print_codemix_stats

        print_codemix_stats(file)


@models_app.command("list")
def models_list() -> None:
    """Models lingotune can prepare without a hub (any hub id or local path works too)."""
    from lingotune.models.sources import available_models

    for name, description in available_models().items():
        console.print(f"[bold]{name}[/bold]  {description}")


@models_app.command("prepare")
@user_errors
def models_prepare(name: str) -> None:
    """Fetch and convert a model into the cache now, so later runs start at once."""
    from lingotune.models.sources import resolve_model

    resolved = resolve_model(name)
    console.print(f"{resolved.name}: {resolved.path}")


def _mount_subcommands() -> None:
    from lingotune.cli.codeswitch import codeswitch_command, tag_command, train_tagger_command
    from lingotune.cli.merge import merge_app
    from lingotune.cli.serve import serve as serve_command

    data_app.command("tag")(tag_command)
    data_app.command("codeswitch")(codeswitch_command)
    data_app.command("train-tagger")(train_tagger_command)

    app.add_typer(merge_app, name="merge")
    app.command("serve")(serve_command)


_mount_subcommands()


if __name__ == "__main__":
    app()
