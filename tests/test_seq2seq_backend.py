"""The seq2seq translation backend on a tiny random Marian model (plumbing: cache, batching, limits,
language checks) and the per-family language-code mapping on real code lists."""

from __future__ import annotations

import json
import shutil

import pytest

from lingotune.core.errors import LingotuneError
from lingotune.inference.backends import RequestCache
from lingotune.inference.mt_codes import (
    flores_code,
    m2m_code,
    madlad_prefix,
    marian_pair,
    marian_target_token,
)
from lingotune.inference.seq2seq import Seq2SeqBackend

TEXTS = [
    "Welsh AMs worried about looking like muppets.",
    "The assembly may change its name.",
    "Good morning.",
    "There is consternation among some members at a suggestion their title should change.",
    "It has arisen because of plans to change the name of the assembly.",
]


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """The tiny model's 32-wide matmuls gain nothing from threads, and on a shared 2-core machine the
    OpenMP workers wait for each other (measured: 8 ms per linear layer with 2 threads, 0.1 ms with 1)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_marian(tmp_path_factory):
    from lingotune.models.sources import resolve_model
    from lingotune.models.tiny import build_tiny_marian

    return resolve_model(str(build_tiny_marian(tmp_path_factory.mktemp("mt") / "tiny-marian-en-es")))


def _requests(texts, max_tokens: int | None = 12):
    params = {"max_tokens": max_tokens} if max_tokens is not None else {}
    return [([{"role": "user", "content": text}], dict(params)) for text in texts]


@pytest.fixture
def no_model_load(monkeypatch):
    """Any attempt to read the weights fails the test."""
    import transformers

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(transformers.AutoModelForSeq2SeqLM, "from_pretrained", refuse)


# --- (a) translation through complete_many, and the sqlite cache --------------------------------------


def test_translates_a_batch_then_a_second_instance_answers_from_the_cache(tiny_marian, tmp_path):
    cache = RequestCache(tmp_path / "requests.sqlite")
    requests = _requests(TEXTS) + _requests(["A request without max_tokens."], max_tokens=None)
    backend = Seq2SeqBackend(tiny_marian, "en", "es", batch_size=2, dtype="float32", cache=cache)
    assert backend.identity == {"kind": "seq2seq", "model": "tiny-marian-en-es",
                                "weights": backend.identity["weights"], "family": "marian", "src": "en",
                                "tgt": "es", "num_beams": 1}
    assert backend._model is None  # the constructor reads the tokenizer only

    first = backend.complete_many(requests)
    assert all(c.error is None and isinstance(c.text, str) and c.text for c in first)
    assert backend.stats.requests == len(requests) and backend.stats.hits == 0
    assert all(0 < c.completion_tokens <= 12 for c in first[:-1])  # each row cut to its own budget
    unbounded = first[-1]
    assert unbounded.completion_tokens <= 2 * unbounded.prompt_tokens + 16  # the default budget
    assert [c.prompt_tokens for c in first] == [backend.count_tokens(m[0]["content"]) for m, _ in requests]
    assert len(cache) == len(requests)

    again = Seq2SeqBackend(tiny_marian, "en", "es", batch_size=2, dtype="float32", cache=cache)
    answers = again.complete_many(requests)
    assert again.stats.requests == 0 and again.stats.hits == len(requests)
    assert [c.text for c in answers] == [c.text for c in first] and all(c.cached for c in answers)
    assert again._model is None  # everything came from the cache: the weights were never read


def test_each_batch_is_cached_before_the_next_runs(tiny_marian, tmp_path):
    """A run killed in its third batch keeps the first two batches' answers."""
    cache = RequestCache(tmp_path / "requests.sqlite")
    backend = Seq2SeqBackend(tiny_marian, "en", "es", batch_size=2, dtype="float32", cache=cache)
    real, calls = backend._translate, []

    def dies_on_third(batch):
        calls.append(len(batch))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(batch)

    backend._translate = dies_on_third
    with pytest.raises(KeyboardInterrupt):
        backend.complete_many(_requests(TEXTS))
    assert calls == [2, 2, 1] and len(cache) == 4
    backend._translate = real
    backend.complete_many(_requests(TEXTS))
    assert backend.stats.requests == 4 + 1  # only the lost batch is sent again


def test_bad_requests_come_back_as_errors_and_empty_text_as_empty(tiny_marian, no_model_load):
    backend = Seq2SeqBackend(tiny_marian, "en", "es")
    system = [{"role": "system", "content": "Translate."}, {"role": "user", "content": "Hello."}]
    out = backend.complete_many([(system, {"max_tokens": 5}), ([{"role": "user", "content": "Hi"}], {"max_tokens": 0}),
                                 ([{"role": "user", "content": "  "}], {"max_tokens": 5})])
    assert "exactly one user message" in out[0].error and "['system', 'user']" in out[0].error
    assert "max_tokens must be a positive integer" in out[1].error
    assert out[2].text == "  " and out[2].error is None  # nothing to translate: the model is not needed


# --- (b) over-long input ------------------------------------------------------------------------------


def test_an_over_long_input_is_an_error_not_a_truncated_translation(tiny_marian, tmp_path):
    cache = RequestCache(tmp_path / "requests.sqlite")
    assert Seq2SeqBackend(tiny_marian, "en", "es").max_input_tokens == 512  # tokenizer and position table
    backend = Seq2SeqBackend(tiny_marian, "en", "es", max_input_tokens=16, dtype="float32", cache=cache)
    long_text = " ".join(TEXTS)
    n = backend.count_tokens(long_text)
    assert n > 16 and backend.count_tokens("Good morning.") <= 16
    out = backend.complete_many(_requests(["Good morning.", long_text]))
    assert out[0].error is None and out[0].text
    assert out[1].text is None
    assert out[1].error == f"input is {n} tokens, over the model's limit of 16; split it first"
    assert len(cache) == 1  # errors are never cached
    backend.complete_many(_requests([long_text]))
    assert backend.stats.failures == 2


# --- (c) languages checked in the constructor -----------------------------------------------------------


@pytest.mark.parametrize(("source", "target", "expected"), [
    ("en", "de", r"tiny-marian-en-es \(marian\) cannot take target language 'de'.*German.*'es' \(Spanish\)"),
    ("fr", "es", r"cannot take source language 'fr'.*'en' \(English\)"),
    ("en", "spanish", r"'spanish' is not a language code"),
    ("en", "e5", r"'e5' is not a language code"),
])
def test_a_wrong_language_fails_before_any_model_load(tiny_marian, no_model_load, source, target, expected):
    with pytest.raises(LingotuneError, match=expected):
        Seq2SeqBackend(tiny_marian, source, target)


def test_any_spelling_of_the_pair_is_accepted(tiny_marian, no_model_load):
    backend = Seq2SeqBackend(tiny_marian, "eng", "es-ES")
    assert (backend.source_code, backend.target_code) == ("eng", "es-ES")


def _copy(tiny_marian, tmp_path, name: str, edit_config=None, edit_vocab=None):
    from lingotune.models.sources import resolve_model

    folder = tmp_path / name
    shutil.copytree(tiny_marian.path, folder)
    for file, edit in (("tokenizer_config.json", edit_config), ("vocab.json", edit_vocab)):
        if edit is not None:
            data = json.loads((folder / file).read_text())
            edit(data)
            (folder / file).write_text(json.dumps(data, ensure_ascii=False))
    return resolve_model(str(folder))


def _forget_pair(config: dict) -> None:
    config.pop("source_lang"), config.pop("target_lang")


def test_a_single_pair_model_without_recorded_languages_is_checked_by_its_opus_mt_name(tiny_marian, tmp_path,
                                                                                       no_model_load):
    named = _copy(tiny_marian, tmp_path, "opus-mt-en-de", edit_config=_forget_pair)
    assert Seq2SeqBackend(named, "en", "de").target_code == "de"
    with pytest.raises(LingotuneError, match=r"opus-mt-en-de .*target language 'es'.*'de' \(German\)"):
        Seq2SeqBackend(named, "en", "es")
    unnamed = _copy(tiny_marian, tmp_path, "some-marian", edit_config=_forget_pair)
    assert Seq2SeqBackend(unnamed, "fr", "de").target_code == "de"  # nothing known: accepted


def test_a_multi_target_marian_model_gets_its_target_token(tiny_marian, tmp_path):
    def add_target_tokens(vocab: dict) -> None:  # two pieces' ids become >>es<< and >>fr<< (ids stay in range)
        spare = [piece for piece in vocab if piece not in {"</s>", "<unk>", "<pad>"}][-2:]
        for piece, token in zip(spare, (">>es<<", ">>fr<<"), strict=True):
            vocab[token] = vocab.pop(piece)

    multi = _copy(tiny_marian, tmp_path, "tiny-marian-en-ROMANCE", edit_vocab=add_target_tokens,
                  edit_config=lambda config: config.update(target_lang="ROMANCE"))
    with pytest.raises(LingotuneError, match=r"target language 'de'.*>>es<<, >>fr<<"):
        Seq2SeqBackend(multi, "en", "de")
    backend = Seq2SeqBackend(multi, "en", "fr", dtype="float32")
    assert backend.identity["tgt"] == ">>fr<<"
    plain = Seq2SeqBackend(tiny_marian, "en", "es")
    assert backend.count_tokens("Good morning.") == plain.count_tokens("Good morning.") + 1  # the prefix token
    (answer,) = backend.complete_many(_requests(["Good morning."]))
    assert answer.error is None and answer.text


# --- the other families, on tiny random checkpoints built here ------------------------------------------


@pytest.fixture(scope="module")
def tiny_families(tiny_marian, tmp_path_factory):
    """Tiny random NLLB, M2M100 and MADLAD (T5) checkpoints with their real tokenizer classes: NLLB's
    builds from its defaults (specials plus the 202 FLORES codes), M2M100's reuses the tiny Marian's
    SentencePiece model, MADLAD's is a Unigram vocabulary with a few <2xx> tokens."""
    import sentencepiece as spm
    import torch
    from transformers import (
        M2M100Config,
        M2M100ForConditionalGeneration,
        M2M100Tokenizer,
        NllbTokenizer,
        T5Config,
        T5ForConditionalGeneration,
        T5Tokenizer,
    )

    root = tmp_path_factory.mktemp("families")
    small = dict(d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
                 encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=64)
    torch.manual_seed(0)
    nllb = NllbTokenizer()
    config = M2M100Config(vocab_size=len(nllb), pad_token_id=nllb.pad_token_id, eos_token_id=nllb.eos_token_id,
                          bos_token_id=nllb.bos_token_id, decoder_start_token_id=nllb.eos_token_id, **small)
    for saved in (M2M100ForConditionalGeneration(config), nllb):
        saved.save_pretrained(root / "tiny-nllb")

    spm_file = f"{tiny_marian.path}/source.spm"
    processor = spm.SentencePieceProcessor(model_file=spm_file)
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for i in range(processor.get_piece_size()):
        if not (processor.is_control(i) or processor.is_unknown(i)):
            vocab.setdefault(processor.id_to_piece(i), len(vocab))
    (root / "tiny-m2m100").mkdir()
    (root / "tiny-m2m100" / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    m2m = M2M100Tokenizer(vocab_file=str(root / "tiny-m2m100" / "vocab.json"), spm_file=spm_file)
    config = M2M100Config(vocab_size=max(m2m.lang_code_to_id.values()) + 1 + m2m.num_madeup_words, pad_token_id=1,
                          eos_token_id=2, bos_token_id=0, decoder_start_token_id=2, **small)
    for saved in (M2M100ForConditionalGeneration(config), m2m):
        saved.save_pretrained(root / "tiny-m2m100")

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)] + [(p, -5.0) for p in list(vocab)[4:]]
    madlad = T5Tokenizer(vocab=pieces, extra_ids=0, additional_special_tokens=["<2en>", "<2es>", "<2zh>", "<2zh_Hant>"])
    config = T5Config(vocab_size=len(madlad), d_model=16, d_ff=32, d_kv=8, num_layers=1, num_heads=2, pad_token_id=0,
                      eos_token_id=1, decoder_start_token_id=0)
    for saved in (T5ForConditionalGeneration(config), madlad):
        saved.save_pretrained(root / "tiny-madlad")
    return root


@pytest.mark.parametrize(("folder", "family", "target", "src", "tgt", "first_input_token"), [
    ("tiny-nllb", "nllb", "zh-Hant", "eng_Latn", "zho_Hant", "eng_Latn"),
    ("tiny-m2m100", "m2m100", "es", "en", "es", "__en__"),
    ("tiny-madlad", "madlad", "zh-Hant", "<2en>", "<2zh_Hant>", "<2zh_Hant>"),
])
def test_each_family_gets_its_codes_and_translates(tiny_families, tmp_path, folder, family, target, src, tgt,
                                                   first_input_token):
    backend = Seq2SeqBackend(str(tiny_families / folder), "en", target, dtype="float32", batch_size=2,
                             cache=RequestCache(tmp_path / "requests.sqlite"))
    assert (backend.family, backend.identity["src"], backend.identity["tgt"]) == (family, src, tgt)
    tokenizer = backend._tokenizer
    ids = backend._encode(["Good morning."])[0]
    assert tokenizer.convert_ids_to_tokens(ids)[0] == first_input_token  # NLLB/M2M: source; MADLAD: target
    if family == "nllb":  # NLLB and M2M100 answers start with the target code, forced
        assert backend._forced_bos == tokenizer.convert_tokens_to_ids("zho_Hant")
    elif family == "m2m100":
        assert backend._forced_bos == tokenizer.get_lang_id("es")
    else:
        assert backend._forced_bos is None
    answers = backend.complete_many(_requests(TEXTS[:3]))
    assert all(a.error is None and isinstance(a.text, str) and 0 < a.completion_tokens <= 12 for a in answers)
    assert not any(token in a.text for a in answers for token in ("__es__", "zho_Hant", "<2"))  # no code leaks
    with pytest.raises(LingotuneError, match=rf"model {folder} \({family}\) cannot take target language 'tlh'"):
        Seq2SeqBackend(str(tiny_families / folder), "en", "tlh")


# --- (d) the per-family code mapping on real code lists ----------------------------------------------------

FLORES = [  # a slice of NLLB-200's FLORES-200 codes, as its tokenizer lists them
    "ace_Arab", "ace_Latn", "acm_Arab", "aeb_Arab", "afr_Latn", "apc_Arab", "arb_Arab", "ars_Arab", "ary_Arab",
    "arz_Arab", "ckb_Arab", "deu_Latn", "eng_Latn", "fra_Latn", "kas_Arab", "kas_Deva", "kmr_Latn", "nno_Latn",
    "nob_Latn", "pes_Arab", "por_Latn", "prs_Arab", "quy_Latn", "spa_Latn", "srp_Cyrl", "swh_Latn", "tgl_Latn",
    "ydd_Hebr", "yue_Hant", "zho_Hans", "zho_Hant", "zsm_Latn", "zul_Latn",
]
M2M100 = [  # M2M100's 100 codes
    "af", "am", "ar", "ast", "az", "ba", "be", "bg", "bn", "br", "bs", "ca", "ceb", "cs", "cy", "da", "de", "el",
    "en", "es", "et", "fa", "ff", "fi", "fr", "fy", "ga", "gd", "gl", "gu", "ha", "he", "hi", "hr", "ht", "hu",
    "hy", "id", "ig", "ilo", "is", "it", "ja", "jv", "ka", "kk", "km", "kn", "ko", "lb", "lg", "ln", "lo", "lt",
    "lv", "mg", "mk", "ml", "mn", "mr", "ms", "my", "ne", "nl", "no", "ns", "oc", "or", "pa", "pl", "ps", "pt",
    "ro", "ru", "sd", "si", "sk", "sl", "so", "sq", "sr", "ss", "su", "sv", "sw", "ta", "th", "tl", "tn", "tr",
    "uk", "ur", "uz", "vi", "wo", "xh", "yi", "yo", "zh", "zu",
]
MADLAD = [  # MADLAD-400 target tokens, with the non-language tokens its vocabulary also has
    "<2en>", "<2es>", "<2pt>", "<2fr>", "<2fr_CA>", "<2zh>", "<2zh_Hant>", "<2zh_Latn>", "<2sr>", "<2ar>",
    "<2no>", "<2he>", "<2fil>", "<2yue>", "<2ks>", "<2ks_Deva>", "<2CA>", "<2Latn>", "<2translate>",
    "<2back_translated>", "<2en_xx_simple>", "▁the", "<extra_id_0>",
]
MARIAN_ROMANCE = [">>es<<", ">>es_AR<<", ">>fr<<", ">>it<<", ">>pt<<", ">>pt_br<<", ">>ro<<", ">>ca<<", "▁de"]
MARIAN_TATOEBA = [">>spa<<", ">>por<<", ">>deu<<", ">>cmn_Hans<<", ">>cmn_Hant<<", ">>yue_Hant<<", ">>zho_Hans<<"]


@pytest.mark.parametrize(("language", "code"), [
    ("es", "spa_Latn"), ("spa", "spa_Latn"), ("spa_Latn", "spa_Latn"), ("es-MX", "spa_Latn"),
    ("ar", "arb_Arab"), ("ara", "arb_Arab"), ("arz", "arz_Arab"),  # a dialect only when asked for
    ("zh", "zho_Hans"), ("zh-Hans", "zho_Hans"), ("zh-Hant", "zho_Hant"), ("zh-TW", "zho_Hant"), ("yue", "yue_Hant"),
    ("pt-BR", "por_Latn"), ("no", "nob_Latn"), ("nn", "nno_Latn"), ("fa", "pes_Arab"), ("sw", "swh_Latn"),
    ("ms", "zsm_Latn"), ("yi", "ydd_Hebr"), ("tl", "tgl_Latn"), ("fil", "tgl_Latn"), ("ku", "kmr_Latn"),
    ("ks", "kas_Arab"), ("ks-Deva", "kas_Deva"), ("ace", "ace_Latn"), ("sr", "srp_Cyrl"),
])
def test_flores_codes(language, code):
    assert flores_code(language, FLORES) == code


@pytest.mark.parametrize(("language", "message"), [
    ("tlh", r"'tlh' is not among the model's 33 FLORES-200 codes \(closest: tgl_Latn"),
    ("ja", r"'ja' \(Japanese\) is not among"),
    ("sr-Latn", r"no Latn script variant of 'sr' \(Serbian\); it has srp_Cyrl \(written in Cyrl\)"),
    ("es-Cyrl", r"no Cyrl script variant of 'es'"),
    ("español", r"not a language code"),
])
def test_flores_errors(language, message):
    with pytest.raises(LingotuneError, match=message):
        flores_code(language, FLORES)


@pytest.mark.parametrize(("language", "code"), [
    ("es", "es"), ("spa", "es"), ("spa_Latn", "es"), ("zh", "zh"), ("zh-Hans", "zh"), ("pt-BR", "pt"),
    ("nb", "no"), ("iw", "he"), ("nso", "ns"), ("ns", "ns"), ("ast", "ast"), ("fil", "tl"), ("arb", "ar"),
])
def test_m2m_codes(language, code):
    assert m2m_code(language, M2M100) == code


def test_m2m_errors():
    traditional = r"no Hant script variant of 'zh' \(Chinese\); it has zh \(written in Hans\)"
    with pytest.raises(LingotuneError, match=traditional):
        m2m_code("zh-Hant", M2M100)
    with pytest.raises(LingotuneError, match=r"'yue' is not among the model's 100 M2M100 codes"):
        m2m_code("yue", M2M100)


@pytest.mark.parametrize(("language", "token"), [
    ("es", "<2es>"), ("spa", "<2es>"), ("zh", "<2zh>"), ("zh-Hans", "<2zh>"), ("zh-Hant", "<2zh_Hant>"),
    ("zh-Latn", "<2zh_Latn>"), ("fr", "<2fr>"), ("fr-CA", "<2fr_CA>"), ("pt-BR", "<2pt>"), ("nb", "<2no>"),
    ("iw", "<2he>"), ("tl", "<2fil>"), ("ks", "<2ks>"), ("ks-Deva", "<2ks_Deva>"), ("kas_Arab", "<2ks>"),
])
def test_madlad_prefixes(language, token):
    assert madlad_prefix(language, MADLAD) == token


def test_madlad_errors():
    with pytest.raises(LingotuneError, match=r"'ca' \(Catalan\) is not among"):  # <2CA> is the region Canada
        madlad_prefix("ca", MADLAD)
    with pytest.raises(LingotuneError, match=r"no Latn script variant of 'sr'.*<2sr>"):
        madlad_prefix("sr-Latn", MADLAD)
    with pytest.raises(LingotuneError, match=r"no <2xx> language tokens"):
        madlad_prefix("es", ["▁the", "<extra_id_0>"])


@pytest.mark.parametrize(("language", "vocab", "token"), [
    ("es", MARIAN_ROMANCE, ">>es<<"), ("es-AR", MARIAN_ROMANCE, ">>es_AR<<"), ("pt", MARIAN_ROMANCE, ">>pt<<"),
    ("pt-BR", MARIAN_ROMANCE, ">>pt_br<<"), ("spa", MARIAN_ROMANCE, ">>es<<"),
    ("es", MARIAN_TATOEBA, ">>spa<<"), ("pt-BR", MARIAN_TATOEBA, ">>por<<"), ("zh", MARIAN_TATOEBA, ">>cmn_Hans<<"),
    ("zho", MARIAN_TATOEBA, ">>zho_Hans<<"), ("zh-Hant", MARIAN_TATOEBA, ">>cmn_Hant<<"),
    ("yue", MARIAN_TATOEBA, ">>yue_Hant<<"), ("de", MARIAN_TATOEBA, ">>deu<<"),
    ("es", ["▁de", "▁la", "</s>"], None),  # no >>xx<< tokens: a single-pair model
])
def test_marian_target_tokens(language, vocab, token):
    assert marian_target_token(language, vocab) == token


def test_marian_errors_and_pairs():
    with pytest.raises(LingotuneError, match=r"'de' \(German\) is not among the model's 8 Marian >>xx<< codes "
                                             r"\(it has >>ca<<, >>es<<, >>es_AR<<, >>fr<<"):
        marian_target_token("de", MARIAN_ROMANCE)
    assert marian_pair("Helsinki-NLP/opus-mt-en-es") == ({"en"}, {"es"})
    assert marian_pair("Helsinki-NLP/opus-mt-tc-big-en-zle") == ({"en"}, None)  # a group: members unknown
    assert marian_pair("Helsinki-NLP/opus-mt-en-ROMANCE") == ({"en"}, None)
    assert marian_pair("Helsinki-NLP/opus-mt-de-en", "fra", None) == ({"fr"}, {"en"})  # the tokenizer's word wins
    assert marian_pair("my-finetune") == (None, None)
