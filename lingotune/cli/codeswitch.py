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
    from lingotune.data.codemix_input import read_utterances, tag_utterances
    from lingotune.language.conll import write_conll

    utterances, gold = read_utterances(file, fmt=format, side=side, tagset=tagset)  # type: ignore[arg-type]
    tags = tag_utterances(utterances, tagger)
    target = out or file.with_name(file.stem + ".tagged.conll")
    write_conll(utterances, target, tags=tags)
    console.print(f"{len(utterances)} utterances, {sum(map(len, tags))} tokens tagged → {target}")
    if gold:
        console.print(accuracy_table("against the file's tags", [u.tags for u in utterances], tags))


@user_errors
def train_tagger_command(
    files: Annotated[list[Path], typer.Argument(help="token-tagged CoNLL files (gold tags) to learn from")],
    out: Annotated[Path, typer.Option("--out", "-o", help="the model file to write (.npz)")],
    tagset: TagsetOpt = "auto",
    languages: Annotated[str | None, typer.Option(help="the language tags to learn, comma-separated (default: "
                                                       "every language tag in the files)")] = None,
    lexicon: Annotated[Path | None, typer.Option(help="a word list (one per line) the model gets as a feature, "
                                                      "e.g. English words for a romanised pair")] = None,
    noise: Annotated[bool, typer.Option(help="correct for annotators who tag a word against its usual language "
                                             "(noisy crowd tags)")] = False,
    evaluate: Annotated[Path | None, typer.Option("--eval", help="a held-out tagged CoNLL file: token accuracy "
                                                                 "and per-tag F1 of the new model on it")] = None,
) -> None:
    """Train a token language-ID model on your own tagged data, for every --tagger option and `tagger:`
    field: it decides Latin-script words (romanised Hindi, Spanish–English…); other scripts are tagged by
    script rules. The shipped `hinglish` model is this model trained on SentiMix (CC BY 4.0) by
    scripts/train_token_lid.py, with silver tags and noise correction."""
    from lingotune.core.errors import LingotuneError
    from lingotune.language.conll import read_conll
    from lingotune.language.token_lid import TokenTagger, word_key
    from lingotune.language.token_lid_fit import train_tagger

    utterances = [u for file in files for u in read_conll(file, tagset)]
    if not utterances:
        raise LingotuneError(f"{', '.join(map(str, files))}: no tagged utterances")
    words = None
    if lexicon is not None:
        if not lexicon.is_file():
            raise LingotuneError(f"--lexicon {lexicon}: no such file")
        words = frozenset(word_key(w) for w in lexicon.read_text(encoding="utf-8").split())
    chosen = [code.strip() for code in languages.split(",") if code.strip()] if languages else None
    model = train_tagger(utterances, languages=chosen, lexicon=words, noise=noise)
    model.meta |= {"trained_on": [str(f) for f in files], "trainer": "lingotune data train-tagger",
                   "utterances": len(utterances)}
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    console.print(f"{len(utterances)} utterances → {', '.join(model.languages)} word model "
                  f"({len(model.index):,} features, {out.stat().st_size / 1e6:.2f} MB) → {out}")
    if evaluate is not None:
        held = read_conll(evaluate, tagset)
        tagged = TokenTagger(model).tag_many([u.tokens for u in held])
        console.print(accuracy_table(f"{evaluate.name} (held out)", [u.tags for u in held], tagged))


def accuracy_table(title: str, gold: list[list[str]], predicted: list[list[str]]) -> Table:
    """Token accuracy and per-tag F1 of ``predicted`` against ``gold``, for ``data tag`` and ``train-tagger``."""
    from lingotune.data.codemix_input import token_accuracy

    table = Table(title, "value")
    for name, value in token_accuracy(gold, predicted).items():
        table.add_row(name, f"{value:.0f}" if name == "tokens" else f"{value:.1f} %")
    return table


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
