"""A tiny random Llama with a real (small) tokenizer and chat template, for fast plumbing tests.

It has the real architecture and the real ChatML template of SmolLM2, so every code path (chat
templating, assistant masks, LoRA targets, generation, saving) runs as it would on a real model,
in seconds. Its outputs are noise: never use it for claims about quality.
"""

from __future__ import annotations

from pathlib import Path

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_TRAINING_TEXT = [
    "The quick brown fox jumps over the lazy dog.",
    "El rápido zorro marrón salta sobre el perro perezoso.",
    "Paris is the capital of France. París es la capital de Francia.",
    "Answer the question using a span of the text. Responde a la pregunta.",
    "Translate the following sentence into Spanish. Traduce la siguiente frase al español.",
]


def build_tiny_model(out_dir: Path, seed: int = 0, num_layers: int = 4) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    backend.train_from_iterator(_TRAINING_TEXT * 4, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<|im_start|>", eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    return out_dir


_NTREX_PAIRS = Path(__file__).resolve().parents[2] / "data" / "quickstart" / "ntrex" / "ntrex.en-es.train.tsv"


def _ntrex_side(spanish: bool) -> list[str]:
    """One side of the repo's NTREX en-es pairs (the quickstart copy), or the few built-in lines when
    lingotune runs without its data folder (an installed wheel)."""
    if _NTREX_PAIRS.exists():
        lines = _NTREX_PAIRS.read_text(encoding="utf-8").splitlines()
        return [line.split("\t")[1 if spanish else 0] for line in lines[:300] if "\t" in line]  # enough for 200 pieces
    return _TRAINING_TEXT * 20


def _train_spm(lines: list[str], vocab_size: int) -> bytes:
    import io

    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=model, vocab_size=vocab_size, model_type="unigram",
        character_coverage=1.0, hard_vocab_limit=False, num_threads=1, minloglevel=2,
        bos_id=-1, eos_id=-1, pad_id=-1, unk_id=0,  # Marian's vocab.json owns </s>, <unk> and <pad>
    )
    return model.getvalue()


def build_tiny_marian(out_dir: Path, source_language: str = "en", target_language: str = "es", seed: int = 0) -> Path:
    """A tiny random MarianMTModel (d_model 32, 2+2 layers) with a real MarianTokenizer, for plumbing
    tests of the seq2seq translation backend only: its weights are random, so it translates nothing.

    The tokenizer is built the way Helsinki-NLP's are: a source and a target SentencePiece model
    (trained here in a fraction of a second on 300 of the repo's NTREX English/Spanish lines; a side that is
    neither language gets English pieces, which is enough for plumbing) plus one shared vocab.json
    with ``</s>`` first and ``<pad>`` last, which is also the decoder start token. ``source_lang`` /
    ``target_lang`` are recorded in tokenizer_config.json, so a backend can check the pair.
    """
    import json
    import tempfile

    import sentencepiece as spm
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    from lingotune.language.codes import canonical_language

    out_dir.mkdir(parents=True, exist_ok=True)
    pieces: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        spm_files = {}
        for side, language in (("source", source_language), ("target", target_language)):
            path = Path(scratch) / f"{side}.spm"
            path.write_bytes(_train_spm(_ntrex_side(canonical_language(language) == "es"), vocab_size=200))
            processor = spm.SentencePieceProcessor(model_file=str(path))
            pieces += [processor.id_to_piece(i) for i in range(processor.get_piece_size())
                       if not (processor.is_unknown(i) or processor.is_control(i))]
            spm_files[side] = path
        vocab = ["</s>", "<unk>", *dict.fromkeys(pieces), "<pad>"]
        vocab_path = Path(scratch) / "vocab.json"
        vocab_path.write_text(json.dumps({piece: i for i, piece in enumerate(vocab)}, ensure_ascii=False))
        tokenizer = MarianTokenizer(
            source_spm=str(spm_files["source"]), target_spm=str(spm_files["target"]), vocab=str(vocab_path),
            source_lang=source_language, target_lang=target_language, model_max_length=512,
        )
        tokenizer.save_pretrained(out_dir)
    pad = len(vocab) - 1
    config = MarianConfig(
        vocab_size=len(vocab), d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=512,
        pad_token_id=pad, eos_token_id=0, decoder_start_token_id=pad, forced_eos_token_id=0,
        scale_embedding=True, share_encoder_decoder_embeddings=True,
    )
    torch.manual_seed(seed)
    model = MarianMTModel(config)
    model.generation_config.bad_words_ids = [[pad]]  # as in Helsinki-NLP's configs: never emit <pad>
    model.save_pretrained(out_dir, safe_serialization=True)
    return out_dir
