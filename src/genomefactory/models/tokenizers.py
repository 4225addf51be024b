"""Offline tokenizer builders shared by the families (all return ``PreTrainedTokenizerFast``).

- ``kmer_tokenizer``: Nucleotide Transformer style, non-overlapping 6-mers from the left of every run of
  A/C/G/T; leftovers and ``N`` become single-base tokens, a run of any other characters (IUPAC ambiguity codes)
  becomes one ``<unk>`` as the published ``EsmTokenizer`` + ``vocab.txt`` gives it; ``<cls>`` prepended.
- ``char_tokenizer``: one token per character (HyenaDNA, Caduceus), special tokens appended by a template.
- ``byte_tokenizer``: token id = byte value (Evo).
- ``bpe_tokenizer``: a BPE model trained on the fly on seeded random DNA (tiny DNABERT-2 / GenomeOcean models);
  published checkpoints load their own ``tokenizer.json`` instead.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from ..errors import UserFileNotFoundError

__all__ = [
    "bpe_tokenizer",
    "byte_tokenizer",
    "char_tokenizer",
    "from_directory",
    "kmer_tokenizer",
    "kmer_vocab",
]


def kmer_vocab(order: str, k: int = 6) -> dict[str, int]:
    """Nucleotide Transformer vocabularies. ``order='v1'`` or ``'v2'`` (see MODELS.md §2.4(c))."""
    kmers = ["".join(p) for p in itertools.product("ATCG", repeat=k)]
    singles = ["A", "T", "C", "G", "N"]
    if order == "v2":
        tokens = ["<unk>", "<pad>", "<mask>", "<cls>", "<eos>", "<bos>", *kmers, *singles]
    elif order == "v1":
        tokens = ["<unk>", "<pad>", "<mask>", "<cls>", *kmers, *singles, "<eos>", "<bos>"]
    else:
        raise ValueError(f"unknown k-mer vocabulary order {order!r} (expected 'v1' or 'v2')")
    return {t: i for i, t in enumerate(tokens)}


def _wrap(tok: Tokenizer, padding_side: str, **special: Any) -> PreTrainedTokenizerFast:
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, padding_side=padding_side, **special)
    return fast


def kmer_tokenizer(order: str, k: int = 6, model_max_length: int = 1000) -> PreTrainedTokenizerFast:
    vocab = kmer_vocab(order, k)
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    # the published EsmTokenizer matches vocabulary tokens and maps each unmatched stretch to a single <unk>
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(f"[ACGT]{{{k}}}|[ACGTN]|[^ACGTN]+"), behavior="isolated")
    tok.post_processor = processors.TemplateProcessing(
        single="<cls> $A", pair="<cls> $A $B", special_tokens=[("<cls>", vocab["<cls>"])]
    )
    tok.decoder = decoders.Fuse()
    return _wrap(
        tok,
        "right",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        cls_token="<cls>",
        eos_token="<eos>",
        bos_token="<bos>",
        model_max_length=model_max_length,
    )


def char_tokenizer(
    vocab: dict[str, int], template: str, padding_side: str, model_max_length: int, **special: Any
) -> PreTrainedTokenizerFast:
    """Character-level WordLevel tokenizer; ``template`` like ``"$A [SEP]"``."""
    unk = special.get("unk_token", "[UNK]")
    tok = Tokenizer(models.WordLevel(vocab, unk_token=unk))
    tok.normalizer = None
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    specials = [(t, vocab[t]) for t in template.split() if not t.startswith("$")]
    tok.post_processor = processors.TemplateProcessing(single=template, special_tokens=specials)
    tok.decoder = decoders.Fuse()
    return _wrap(tok, padding_side, model_max_length=model_max_length, **special)


def byte_tokenizer(model_max_length: int, pad_id: int = 1, eos_id: int = 0) -> PreTrainedTokenizerFast:
    """Evo's CharLevelTokenizer: id = byte value; ``eos`` 0 and ``pad`` 1 (control bytes, never DNA)."""
    vocab = {chr(i): i for i in range(256)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token=chr(eos_id)))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.decoder = decoders.Fuse()
    return _wrap(
        tok,
        "left",
        pad_token=chr(pad_id),
        eos_token=chr(eos_id),
        unk_token=chr(eos_id),
        model_max_length=model_max_length,
    )


def bpe_tokenizer(
    vocab_size: int,
    special_tokens: list[str],
    cls: str | None,
    sep: str | None,
    seed: int = 0,
    model_max_length: int = 512,
    padding_side: str = "right",
    corpus_bases: int = 200_000,
    alphabet: str = "ACGTN",
) -> PreTrainedTokenizerFast:
    """A DNA BPE tokenizer trained on seeded random sequences (deterministic for a given seed).

    ``alphabet``: the single characters that get their own token; any other character becomes the unknown token.
    """
    rng = random.Random(seed)
    corpus = ["".join(rng.choice("ACGT") for _ in range(1000)) for _ in range(max(1, corpus_bases // 1000))]
    tok = Tokenizer(models.BPE(unk_token=special_tokens[0]))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special_tokens,
        show_progress=False,
        initial_alphabet=list(alphabet),
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    template = " ".join(x for x in (cls, "$A", sep) if x)
    specials = [(t, tok.token_to_id(t)) for t in (cls, sep) if t]
    tok.post_processor = processors.TemplateProcessing(single=template, special_tokens=specials)
    tok.decoder = decoders.BPEDecoder()
    names = dict(
        zip(["unk_token", "cls_token", "sep_token", "pad_token", "mask_token"], special_tokens, strict=False)
    )
    return _wrap(tok, padding_side, model_max_length=model_max_length, **names)


def from_directory(directory: Path, padding_side: str | None = None) -> PreTrainedTokenizerFast:
    """Load a checkpoint's own ``tokenizer.json`` (+ tokenizer_config) without any remote code."""
    if not (directory / "tokenizer.json").is_file():
        raise UserFileNotFoundError(f"{directory} has no tokenizer.json")
    kwargs: dict[str, Any] = {}
    if padding_side:
        kwargs["padding_side"] = padding_side
    return PreTrainedTokenizerFast.from_pretrained(str(directory), **kwargs)
