"""Translate a whole data file: read it in its own format, translate, filter, write the same format.

Accepted records go to ``out``; records that fail a filter, or that the translator could not handle,
go to ``<out>.rejected.jsonl`` with their reasons (kept, never silently dropped); a
``translation_report.md`` and ``translation_summary.json`` sit beside them. Every record of the
output carries its source text under ``"translation"``, so the English side stays available
(CrossAlpaca's translation-following demonstrations are built from it).
"""

from __future__ import annotations

import copy
import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lingotune.core.errors import LingotuneError
from lingotune.core.progress import console
from lingotune.data.loaders import detect_format, load_examples
from lingotune.data.readers import RawRecord, hf_rows, json_records
from lingotune.data.translate.filters import field_reasons
from lingotune.data.translate.records import path_name, refuse_format, set_path, text_fields
from lingotune.data.translate.report import write_report
from lingotune.data.translate.spec import TranslateSpec, TranslatorSpec
from lingotune.data.translate.translator import FieldResult, Translator
from lingotune.inference.backends import ChatBackend, RequestCache, make_backend
from lingotune.language.codes import normalize_language


@dataclass
class TranslationSummary:
    source_file: str
    out: str
    rejected_file: str
    report: str
    source_language: str
    target_language: str
    backend: dict[str, Any]
    records: int = 0
    kept: int = 0
    rejected: int = 0
    fields: int = 0
    units: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    requests: int = 0  # sent to the backend in this run
    cache_hits: int = 0
    failures: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _code(code: str, what: str) -> str:
    normalized = normalize_language(code)
    if normalized is None:
        raise LingotuneError(f"{what} {code!r} is not a language code (expected e.g. 'es', 'spa', 'pt-BR')")
    return normalized


def make_translator_backend(spec: TranslatorSpec, source_language: str, target_language: str,
                            cache: RequestCache | None) -> ChatBackend:
    if spec.kind == "seq2seq":
        from lingotune.inference.seq2seq import Seq2SeqBackend

        return Seq2SeqBackend(spec.model, source_language, target_language, dtype=spec.dtype,
                              batch_size=spec.batch_size, num_beams=spec.num_beams, cache=cache)
    return make_backend(spec, cache)


def few_shot_pairs(spec: TranslateSpec, target_language: str) -> list[tuple[str, str]]:
    if spec.few_shot is None:
        return []
    examples = load_examples(spec.few_shot.path, "parallel", target_language,
                             source_language=spec.source_language, name="few_shot")
    return [(e.meta["src"], e.meta["tgt"]) for e in examples[: spec.few_shot.n]]


def read_records(path: str, fmt: str) -> tuple[str, list[RawRecord]]:
    """The file's records and its format (``auto`` resolved; a Hugging Face dataset by its columns)."""
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt == "hf":
        from lingotune.data.loaders import format_for_keys

        columns, rows = hf_rows(path, None)
        fmt = format_for_keys(columns) or "hf"
        records = list(rows)
    else:
        refuse_format(fmt, path)
        records = list(json_records(path))
    refuse_format(fmt, path)
    return fmt, records


def _write(path: Path, records: list[Any], as_list: bool) -> None:
    """Written whole to a temporary file, then renamed: a crash never leaves half an output."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        if as_list:
            json.dump(records, f, ensure_ascii=False, indent=1)
        else:
            for record in records:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
    tmp.replace(path)


def translate_file(path: str | Path, target_language: str, spec: TranslateSpec, out: str | Path, *,
                   fmt: str = "auto", cache: RequestCache | None = None, report: str | Path | None = None,
                   names: dict[str, str] | None = None) -> TranslationSummary:
    started = time.time()
    path, out = str(path), Path(out)
    target_language = _code(target_language, "target language")
    source_language = _code(spec.source_language, "source language")
    fmt, records = read_records(path, fmt)
    if spec.max_records:
        records = records[: spec.max_records]
    cache = cache if cache is not None else RequestCache()
    backend = make_translator_backend(spec.backend, source_language, target_language, cache)
    few_shot = few_shot_pairs(spec, target_language)
    translator = _translator(spec, backend, source_language, target_language, few_shot, names)
    rejected_path = out.with_name(out.name.removesuffix(".jsonl").removesuffix(".json") + ".rejected.jsonl")
    summary = TranslationSummary(path, str(out), str(rejected_path), "", source_language, target_language,
                                 dict(backend.identity), records=len(records))

    # which fields of which record are translated
    jobs: list[tuple[int, tuple[str | int, ...], str, str]] = []
    unreadable: dict[int, str] = {}
    for index, rec in enumerate(records):
        if rec.problem is not None:
            unreadable[index] = rec.problem
            continue
        for fpath, role, text in text_fields(rec.value, fmt, path, rec.where):
            if spec.fields == "all" or role != "assistant":
                jobs.append((index, fpath, role, text))
    summary.fields = len(jobs)
    console.print(f"Translating {len(jobs)} fields of {len(records)} records ({path}) from {source_language} to "
                  f"{target_language} with {backend.identity.get('kind')} {backend.identity.get('model')}")
    results = translator.translate_fields([text for *_, text in jobs], "Translating")
    summary.units = sum(len(r.pairs) + len(r.untranslated) for r in results)

    backs = _back_translations(spec, results, backend, source_language, target_language, few_shot, cache, names)
    outputs = [copy.deepcopy(rec.value) for rec in records]
    reasons: dict[int, list[str]] = {i: [] for i in range(len(records))}
    sources: dict[int, dict[str, str]] = {i: {} for i in range(len(records))}
    examples: dict[str, list[dict[str, str]]] = {}
    for (index, fpath, _role, text), result, back in zip(jobs, results, backs, strict=True):
        set_path(outputs[index], fpath, result.text)
        sources[index][path_name(fpath)] = text
        for reason in field_reasons(result, target_language, spec.filters, back):
            if reason not in reasons[index]:
                reasons[index].append(reason)
            examples.setdefault(reason, []).append({"field": path_name(fpath), "source": text, "output": result.text})
    if spec.fields == "prompt":
        _regenerate(spec, fmt, outputs, reasons, examples, target_language, cache, path)
    for index, problem in unreadable.items():
        reasons[index] = ["unreadable"]
        examples.setdefault("unreadable", []).append({"field": records[index].where, "source": problem, "output": ""})

    kept, rejected = [], []
    for index, record in enumerate(outputs):
        if index in unreadable:
            rejected.append({"line": records[index].line, "where": records[index].where,
                             "translation": {"reasons": ["unreadable"], "problem": unreadable[index]}})
            continue
        for key in ("language", "lang"):
            if isinstance(record.get(key), str):
                record[key] = target_language
        record["translation"] = {"source_language": source_language, "target_language": target_language,
                                 "backend": {k: v for k, v in backend.identity.items() if k in ("kind", "model")},
                                 "source": sources[index], **({"reasons": reasons[index]} if reasons[index] else {})}
        (rejected if reasons[index] else kept).append(record)
    as_list = out.suffix == ".json"
    _write(out, kept, as_list)
    _write(rejected_path, rejected, False)
    stats = backend.stats
    summary.kept, summary.rejected = len(kept), len(rejected)
    summary.reasons = dict(Counter(r for rs in reasons.values() for r in rs).most_common())
    summary.requests, summary.cache_hits, summary.failures = stats.requests, stats.hits, stats.failures
    summary.seconds = round(time.time() - started, 1)
    report_path = Path(report) if report else out.parent / "translation_report.md"
    summary.report = str(report_path)
    write_report(report_path, summary.to_json(), examples)
    report_path.with_name("translation_summary.json").write_text(json.dumps(summary.to_json(), indent=2) + "\n")
    console.print(f"[green]✓[/green] {summary.kept} kept, {summary.rejected} rejected "
                  f"({', '.join(f'{k} {v}' for k, v in summary.reasons.items()) or 'none'}); "
                  f"{summary.requests} requests, {summary.cache_hits} from cache → {out}")
    return summary


def _translator(spec: TranslateSpec, backend: ChatBackend, source_language: str, target_language: str,
                few_shot: list[tuple[str, str]], names: dict[str, str] | None) -> Translator:
    return Translator(backend, source_language, target_language, chat=spec.backend.kind != "seq2seq",
                      prompt_template=spec.prompt_template, few_shot=few_shot, max_chars=spec.max_chars,
                      chunk_size=spec.chunk_size, names=names)


def _back_translations(spec: TranslateSpec, results: list[FieldResult], backend: ChatBackend, source_language: str,
                       target_language: str, few_shot: list[tuple[str, str]], cache: RequestCache,
                       names: dict[str, str] | None) -> list[str | None]:
    """Each translated field's prose translated back (``round_trip_min_chrf``), None where not checked.

    The same backend translates back (a seq2seq model is loaded again for the reverse pair; a chat
    model gets the few-shot pairs reversed); answers are cached like any other request."""
    if spec.filters.round_trip_min_chrf is None:
        return [None] * len(results)
    checked = [i for i, r in enumerate(results) if r.pairs and not r.flags]
    if spec.backend.kind == "seq2seq":
        backend = make_translator_backend(spec.backend, target_language, source_language, cache)
    reverse = _translator(spec, backend, target_language, source_language, [(t, s) for s, t in few_shot], names)
    back = reverse.translate_fields([results[i].text for i in checked], "Back-translating")
    texts: list[str | None] = [None] * len(results)
    for i, again in zip(checked, back, strict=True):
        texts[i] = " ".join(t for _, t in again.pairs) or again.text
    return texts


def _regenerate(spec: TranslateSpec, fmt: str, outputs: list[Any], reasons: dict[int, list[str]],
                examples: dict[str, list[dict[str, str]]], target_language: str, cache: RequestCache,
                source: str) -> None:
    """Bactrian-X's choice: the answers written anew by a model from the translated prompts, turn by turn."""
    from lingotune.language.codes import language_matches
    from lingotune.language.detect import detect_language

    assert spec.regenerate is not None
    writer = make_backend(spec.regenerate, cache)
    params = {"max_tokens": spec.regenerate_max_tokens, "temperature": 0}
    answer_paths = [[p for p, role, _ in text_fields(o, fmt, source, "") if role == "assistant"] for o in outputs]
    for turn in range(max((len(p) for p in answer_paths), default=0)):
        todo = [(i, paths[turn]) for i, paths in enumerate(answer_paths) if len(paths) > turn]
        conversations = [_conversation_before(outputs[i], fmt, apath, source) for i, apath in todo]
        answers = writer.complete_many([(c, params) for c in conversations], f"Regenerating answers (turn {turn + 1})")
        for (i, apath), answer in zip(todo, answers, strict=True):
            if answer.text is None:
                reasons[i].append("request_failed")
                continue
            set_path(outputs[i], apath, answer.text.strip())
            detected = detect_language(answer.text)
            if detected is not None and not language_matches(detected, target_language):
                reasons[i].append("answer_wrong_language")
                examples.setdefault("answer_wrong_language", []).append(
                    {"field": path_name(apath), "source": conversations[-1][-1]["content"], "output": answer.text})


def _conversation_before(record: Any, fmt: str, answer_path: tuple[str | int, ...],
                         source: str) -> list[dict[str, str]]:
    """The chat a regenerated answer continues: every turn before ``answer_path``."""
    turns: list[dict[str, str]] = []
    if fmt == "alpaca":
        user = record.get("instruction", "")
        if (record.get("input") or "").strip():
            user += "\n\n" + record["input"]
        if (record.get("system") or "").strip():
            turns.append({"role": "system", "content": record["system"]})
        return [*turns, {"role": "user", "content": user}]
    for fpath, role, text in text_fields(record, fmt, source, ""):
        if fpath == answer_path:
            break
        turns.append({"role": role, "content": text})
    return turns
