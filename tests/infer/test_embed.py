"""Embedding extraction: windowing, streaming memory, resume, output layouts."""

from __future__ import annotations

import random
import tracemalloc
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from torch import nn

from genomefactory.infer import embed as embed_mod
from genomefactory.infer.config import InferenceConfig
from genomefactory.infer.embed import Embedder
from genomefactory.infer.run import run_inference
from genomefactory.infer.store import read_embeddings
from genomefactory.models import ModelConfig, load_backbone
from genomefactory.models.registry import Backbone, ModelFamily


class _Bag(nn.Module):
    """Per-token embedding only: no position or context, so stitched windows must equal the whole sequence."""

    def __init__(self, vocab: int, hidden: int) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, hidden)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: Any = None, output_hidden_states: bool = False
    ) -> Any:
        h = self.emb(input_ids)
        return SimpleNamespace(last_hidden_state=h, hidden_states=(h, h))


class _BagFamily(ModelFamily):
    """A test-only family around a hand-made module: only ``base`` is ever called."""

    def base(self, model: nn.Module) -> nn.Module:
        return model

    def build(self, config: dict) -> nn.Module:  # type: ignore[type-arg]
        raise AssertionError("not used")

    def tiny_config(self) -> dict:  # type: ignore[type-arg]
        raise AssertionError("not used")

    def tokenizer(self, directory: object, config: dict) -> object:  # type: ignore[type-arg]
        raise AssertionError("not used")


def _bag_backbone() -> Backbone:
    tok = load_backbone(
        ModelConfig(family="hf_auto", init="tiny")
    ).tokenizer  # char tokenizer, [CLS] $A [SEP]
    fam = _BagFamily(
        name="bag", kind="encoder", description="test", variants={}, default_variant="", lora_targets=()
    )
    return Backbone(fam, _Bag(len(tok), 8), tok, {"hidden_size": 8, "max_position_embeddings": 512})


def _random_dna(n: int, rng: random.Random) -> str:
    return "".join(rng.choice("ACGT") for _ in range(n))


@pytest.mark.parametrize("how", ["mean", "max", "cls", "last", "token"])
def test_windowed_embedding_equals_direct(how: str) -> None:
    bb = _bag_backbone()
    seqs = [_random_dna(n, random.Random(n)) for n in (300, 47, 130)]
    direct, wins_d, ntok_d = Embedder(bb, how).embed(seqs)
    windowed, wins_w, ntok_w = Embedder(bb, how, window_tokens=24, window_overlap=0.3, batch_size=5).embed(
        seqs
    )
    assert wins_d == [1, 1, 1] and wins_w[0] > 10 and wins_w[1] > 1
    assert ntok_w == ntok_d == [n + 2 for n in (300, 47, 130)]  # every base once, plus [CLS] and [SEP]
    for d, w in zip(direct, windowed, strict=True):
        np.testing.assert_allclose(w, d, rtol=1e-5, atol=1e-6)


def test_real_model_windows_cover_every_token_once() -> None:
    bb = load_backbone(ModelConfig(family="hf_auto", init="tiny"))
    seq = _random_dna(700, random.Random(3))  # longer than the tiny model's 512 positions
    vecs, wins, ntok = Embedder(bb, "token").embed([seq])
    assert wins[0] >= 2 and ntok[0] == 702 and vecs[0].shape == (702, 32)
    fits = Embedder(bb, "mean", window_tokens=512).embed([seq[:400]])
    assert fits[1] == [1]  # a sequence that fits is embedded directly


@pytest.mark.parametrize("family", ["nucleotide_transformer", "nucleotide_transformer_v2", "dnabert2", "evo"])
@pytest.mark.parametrize("overlap", [0.0, 0.3])
def test_stitched_windows_keep_the_tokenization_of_the_whole_sequence(family: str, overlap: float) -> None:
    """NT reads non-overlapping 6-mers from the sequence start: windows must stay in that frame (they did not)."""
    bb = load_backbone(ModelConfig(family=family, init="tiny"))
    rng = random.Random(5)
    seq = _random_dna(613, rng) + "NN" + _random_dna(401, rng)  # an N run restarts NT's 6-mer frame
    emb = Embedder(bb, "token", window_tokens=40, window_overlap=overlap)
    direct = emb._encode(seq)[0]
    pieces = emb.pieces(0, seq)
    assert len(pieces) > 3 and all(len(p.ids) <= 40 for p in pieces)
    assert [i for p in pieces for i, k in zip(p.ids, p.keep, strict=True) if k] == direct


def _write_fasta(path: Path, n: int, seed: int = 0, lo: int = 40, hi: int = 160) -> None:
    rng = random.Random(seed)
    with open(path, "w") as fh:
        for i in range(n):
            fh.write(f">s{i} desc\n{_random_dna(rng.randint(lo, hi), rng)}\n")


def _cfg(inp: Path, out: Path, **embed: Any) -> InferenceConfig:
    return InferenceConfig.model_validate(
        {
            "mode": "embed",
            "model": {"family": "hf_auto", "init": "tiny"},
            "embed": {"input": str(inp), "output": str(out), "progress": False, "chunk_size": 16, **embed},
        }
    )


def test_resume_after_interruption_writes_no_duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fa = tmp_path / "in.fa"
    _write_fasta(fa, 40)
    clean = run_inference(_cfg(fa, tmp_path / "clean.parquet"))
    calls = {"n": 0}
    real = Embedder.embed

    def flaky(self: Embedder, seqs: list[str]) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # killed while embedding the second chunk
        return real(self, seqs)

    monkeypatch.setattr(Embedder, "embed", flaky)
    out = tmp_path / "resumed.parquet"
    with pytest.raises(KeyboardInterrupt):
        run_inference(_cfg(fa, out))
    assert not out.exists()  # nothing that looks complete
    monkeypatch.setattr(Embedder, "embed", real)
    res = run_inference(_cfg(fa, out))
    assert res.skipped == 16 and res.embedded == 24 and res.rows == 40 and clean.rows == 40
    a, b = read_embeddings(tmp_path / "clean.parquet"), read_embeddings(out)
    assert sorted(b.frame["id"]) == sorted(a.frame["id"]) and not b.frame["id"].duplicated().any()
    order = b.frame["id"].map({k: i for i, k in enumerate(a.frame["id"])}).to_numpy()
    np.testing.assert_allclose(np.asarray(b.vectors), np.asarray(a.vectors)[order], atol=1e-6)
    again = run_inference(_cfg(fa, out))  # a finished run: nothing to do, nothing duplicated
    assert again.embedded == 0 and again.rows == 40


@pytest.mark.parametrize("suffix", [".npy", ".csv"])
def test_other_layouts_match_parquet(tmp_path: Path, suffix: str) -> None:
    csv = tmp_path / "in.csv"
    rng = random.Random(1)
    csv.write_text(
        "id,sequence,label\n" + "".join(f"r{i},{_random_dna(60 + i, rng)},{i % 2}\n" for i in range(20))
    )
    run_inference(_cfg(csv, tmp_path / "e.parquet"))
    run_inference(_cfg(csv, tmp_path / f"e{suffix}"))
    a, b = read_embeddings(tmp_path / "e.parquet"), read_embeddings(tmp_path / f"e{suffix}")
    np.testing.assert_allclose(np.asarray(b.vectors), np.asarray(a.vectors), rtol=1e-5, atol=1e-6)
    assert list(b.frame["label"]) == [i % 2 for i in range(20)]
    info = pq.read_schema(tmp_path / "e.parquet").metadata[b"genomefactory"].decode()
    assert '"pooling": "mean"' in info and "windows" in info


def test_per_token_csv_round_trip(tmp_path: Path) -> None:
    fa = tmp_path / "in.fa"
    _write_fasta(fa, 6)
    run_inference(_cfg(fa, tmp_path / "t.parquet", pooling="token"))
    run_inference(_cfg(fa, tmp_path / "t.csv", pooling="token"))
    a, b = read_embeddings(tmp_path / "t.parquet"), read_embeddings(tmp_path / "t.csv")
    assert a.per_token and b.per_token and len(a.vectors) == 6
    for x, y in zip(a.vectors, b.vectors, strict=True):
        assert x.shape[1] == 32 and x.shape == y.shape
        np.testing.assert_allclose(y, x, rtol=1e-5, atol=1e-6)


def _peak_bytes(tmp_path: Path, n: int) -> int:
    fa = tmp_path / f"in{n}.fa"
    _write_fasta(fa, n, seed=n, lo=150, hi=250)
    tracemalloc.start()
    run_inference(_cfg(fa, tmp_path / f"o{n}.parquet", pooling="token", chunk_size=20, batch_size=20))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_streaming_memory_is_flat(tmp_path: Path) -> None:
    """Per-token embeddings of 4x more sequences must not need 4x the memory (chunks are written, not kept)."""
    _peak_bytes(tmp_path, 10)  # warm-up: first-call allocations (lazy imports, caches) are not streaming
    small, large = _peak_bytes(tmp_path, 60), _peak_bytes(tmp_path, 240)
    assert small > 200_000  # the measurement sees the embeddings (about 20 x 200 x 32 float32 per chunk)
    assert large < 1.5 * small, (small, large)


def test_bad_input_errors_name_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("id,sequence\na,ACGT\nb,ACGU\n")
    with pytest.raises(ValueError, match=r"bad.csv row 2.*'U'"):
        run_inference(_cfg(bad, tmp_path / "o.parquet"))
    dup = tmp_path / "dup.fa"
    dup.write_text(">x\nACGT\n>x\nGGCC\n")
    with pytest.raises(ValueError, match="'x' occurs twice"):
        list(embed_mod.iter_records(dup, 10))
    with pytest.raises(FileNotFoundError, match=r"embed\.input"):
        run_inference(_cfg(tmp_path / "missing.fa", tmp_path / "o.parquet"))


@pytest.mark.parametrize("suffix", [".parquet", ".npy", ".csv"])
def test_rerun_with_other_settings_is_refused_and_resume_false_replaces(tmp_path: Path, suffix: str) -> None:
    """Resuming with another pooling would append max-pooled rows to mean-pooled ones; resume: false must replace
    the previous output (it was merged with the new rows: 2x the rows)."""
    fa = tmp_path / "in.fa"
    _write_fasta(fa, 6)
    out = tmp_path / f"o{suffix}"
    first = run_inference(_cfg(fa, out, pooling="mean"))
    with pytest.raises(ValueError, match=r"other settings.*pooling.*'mean', 'max'.*resume: false"):
        run_inference(_cfg(fa, out, pooling="max"))
    again = run_inference(_cfg(fa, out, pooling="max", resume=False))
    assert first.rows == again.rows == 6 and again.embedded == 6
    table = read_embeddings(out)
    assert len(table.frame) == 6 and not table.frame["id"].duplicated().any()
    assert run_inference(_cfg(fa, out, pooling="max")).embedded == 0  # same settings: resumes as before
