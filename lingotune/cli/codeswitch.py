"""``lingotune data tag`` and ``lingotune data codeswitch``: token-level language tags and code-mixing
metrics of any text file (mounted on the ``data`` group by the main CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lingotune.cli.errors import user_errors
from lingotune.core.progress import console

FormatOpt = Annotated[str, typer.Option("--format", "-f", help="conll|text|alpaca|sharegpt|messages|parallel|csv|"
                                        "hf|auto (.conll and .txt by extension)")]
TaggerOpt = Annotated[str, typer.Option(help="hinglish (shipped), a tagger file, or lingua:L1,L2 for another pair")]
TagsetOpt = Annotated[str, typer.Option(help="tags of a CoNLL file: auto, sentimix_hinglish, l3cube, "
                                        "lince:L1,L2 or RAW=TAG pairs (Hin=hi,Eng=en,O=other)")]
SideOpt = Annotated[str, typer.Option(help="which text of a chat/Alpaca record: prompt or answer")]


@user_errors
def tag_command(
    file: Path,
    out: Annotated[Path | None, typer.Option(help="tagged CoNLL output (default: FILE.tagged.conll)")] = None,
    format: FormatOpt = "auto",
    tagger: TaggerOpt = "hinglish",
    tagset: TagsetOpt = "auto",
    side: SideOpt = "prompt",
) -> None:
    """Tag every token with its language (CoNLL out). A CoNLL input's own tags are kept as gold: the
    tagger's token accuracy and per-tag F1 against them are printed."""
    from lingotune.data.codemix_input import read_utterances, tag_utterances, token_accuracy
    from lingotune.language.conll import write_conll

    utterances, gold = read_utterances(file, fmt=format, side=side, tagset=tagset)  # type: ignore[arg-type]
    tags = tag_utterances(utterances, tagger)
    target = out or file.with_name(file.stem + ".tagged.conll")
    write_conll(utterances, target, tags=tags)
    console.print(f"{len(utterances)} utterances, {sum(map(len, tags))} tokens tagged → {target}")
    if gold:
        scores = token_accuracy([u.tags for u in utterances], tags)
        table = Table("against the file's tags", "value")
        for name, value in scores.items():
            table.add_row(name, f"{value:.0f}" if name == "tokens" else f"{value:.1f} %")
        console.print(table)


@user_errors
def codeswitch_command(
    file: Path,
    out: Annotated[Path | None, typer.Option(help="folder for summary.json, utterances.jsonl, histogram.png "
                                             "(default: FILE.codeswitch/)")] = None,
    format: FormatOpt = "auto",
    tagger: TaggerOpt = "hinglish",
    tagset: TagsetOpt = "auto",
    side: SideOpt = "prompt",
    retag: Annotated[bool, typer.Option(help="tag a CoNLL file with the tagger instead of using its tags")] = False,
) -> None:
    """How much a corpus code-switches: S-index, CMI, Cu, Cc, M-index, entropy, I-index, burstiness
    (methods.md §4), per utterance and for the corpus, with histograms."""
    from lingotune.data.codemix_input import read_utterances, tag_utterances
    from lingotune.report.codemix import codemix_report

    utterances, gold = read_utterances(file, fmt=format, side=side, tagset=tagset)  # type: ignore[arg-type]
    tags = [u.tags for u in utterances] if gold and not retag else tag_utterances(utterances, tagger)
    target = out or file.with_name(file.name + ".codeswitch")
    summary = codemix_report(utterances, tags, target, f"{file.name}: code-switching per utterance")
    source = "the file's own tags" if gold and not retag else f"tagger {tagger}"
    console.print(summary_table(summary, f"{file.name} ({source})"))
    console.print(f"per utterance: {target / 'utterances.jsonl'}; histograms: {target / 'histogram.png'}")


def summary_table(summary: dict, title: str) -> Table:
    from lingotune.report.codemix import SUMMARY_ROWS

    table = Table(title, "value")
    for key, label in SUMMARY_ROWS:
        value = summary.get(key)
        table.add_row(label, value if isinstance(value, str) else f"{value:.4g}" if value is not None else "—")
    return table


def print_codemix_stats(file: Path, tagset: str = "auto") -> None:
    """The code-mixing summary of a tagged CoNLL file, for ``data stats``."""
    from lingotune.language.conll import read_conll
    from lingotune.report.codemix import codemix_summary

    summary, _ = codemix_summary([u.tags for u in read_conll(file, tagset)])
    console.print(summary_table(summary, f"{file.name}: code-switching (the file's tags)"))
