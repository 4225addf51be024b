"""Nucleotide Transformer v2: key/shape manifest, parameter counts, reference math, padding, checkpoints and the
v1/v2 6-mer id orders against a re-statement of InstaDeep's tokenisation algorithm."""

from __future__ import annotations

import itertools
import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from genomefactory.models import ModelConfig, get_family, load_backbone

FAM = get_family("nt_v2")


def published_manifest(
    layers: int,
    h: int,
    heads: int,
    inter: int,
    vocab: int = 4107,
    max_pos: int = 2050,
) -> dict[str, tuple]:
    """Key -> shape of the published v2 EsmForMaskedLM state dict (MODELS.md §2.4(b))."""
    m: dict[str, tuple] = {
        "esm.embeddings.word_embeddings.weight": (vocab, h),
        "esm.embeddings.position_embeddings.weight": (max_pos, h),
    }
    for i in range(layers):
        p = f"esm.encoder.layer.{i}."
        for name in ("query", "key", "value"):
            m[p + f"attention.self.{name}.weight"] = (h, h)
            m[p + f"attention.self.{name}.bias"] = (h,)
        m.update(
            {
                p + "attention.self.rotary_embeddings.inv_freq": (h // heads // 2,),
                p + "attention.output.dense.weight": (h, h),
                p + "attention.output.dense.bias": (h,),
                p + "attention.LayerNorm.weight": (h,),
                p + "attention.LayerNorm.bias": (h,),
                p + "intermediate.dense.weight": (2 * inter, h),
                p + "output.dense.weight": (h, inter),
                p + "LayerNorm.weight": (h,),
                p + "LayerNorm.bias": (h,),
            }
        )
    m.update(
        {
            "esm.encoder.emb_layer_norm_after.weight": (h,),
            "esm.encoder.emb_layer_norm_after.bias": (h,),
            "esm.contact_head.regression.weight": (1, layers * heads),
            "esm.contact_head.regression.bias": (1,),
            "lm_head.dense.weight": (h, h),
            "lm_head.dense.bias": (h,),
            "lm_head.layer_norm.weight": (h,),
            "lm_head.layer_norm.bias": (h,),
            "lm_head.decoder.weight": (vocab, h),
            "lm_head.bias": (vocab,),
        }
    )
    return m


def _shapes(cfg: dict[str, Any]) -> dict[str, int]:
    return dict(
        layers=cfg["num_hidden_layers"],
        h=cfg["hidden_size"],
        heads=cfg["num_attention_heads"],
        inter=cfg["intermediate_size"],
        vocab=cfg["vocab_size"],
        max_pos=cfg["max_position_embeddings"],
    )


def test_registry_entry() -> None:
    assert get_family("nucleotide_transformer_v2") is FAM
    assert FAM.variants == {
        v: f"InstaDeepAI/nucleotide-transformer-v2-{v}-multi-species" for v in ("50m", "100m", "250m", "500m")
    }
    assert get_family("nt") is not FAM  # v1 stays its own family


# 50m is the count reported for the real checkpoint; the others follow from the published config.json files
@pytest.mark.parametrize(
    ("variant", "count"),
    [("50m", 55_904_972), ("100m", 97_889_132), ("250m", 235_120_780), ("500m", 498_345_436)],
)
def test_full_size_manifest_and_parameter_count(variant: str, count: int) -> None:
    cfg = FAM.published_config(variant)
    with torch.device("meta"):
        model = FAM.build(cfg)
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == published_manifest(**_shapes(cfg))
    assert sum(p.numel() for p in model.parameters()) == count


def _rot(x: torch.Tensor) -> torch.Tensor:
    """Rotary applied pair by pair with explicit angles (position p, pair c: p * 10000^(-2c/d))."""
    d = x.shape[-1]
    pos = torch.arange(x.shape[-2], dtype=torch.float64)[:, None]
    theta = pos * torch.tensor([10000 ** (-2 * c / d) for c in range(d // 2)], dtype=torch.float64)[None]
    cos, sin = theta.cos().to(x.dtype), theta.sin().to(x.dtype)
    a, b = x[..., : d // 2], x[..., d // 2 :]
    return torch.cat([a * cos - b * sin, b * cos + a * sin], dim=-1)


def _reference(
    sd: dict[str, torch.Tensor], cfg: dict[str, Any], ids: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    h, heads, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
    d = h // heads

    def ln(x: torch.Tensor, p: str) -> torch.Tensor:
        return F.layer_norm(x, (h,), sd[p + ".weight"], sd[p + ".bias"], eps)

    def heads_of(t: torch.Tensor) -> torch.Tensor:
        return t.reshape(*t.shape[:2], heads, d).transpose(1, 2)

    x = sd["esm.embeddings.word_embeddings.weight"][ids] * mask[..., None]
    for i in range(cfg["num_hidden_layers"]):
        p = f"esm.encoder.layer.{i}."
        y = ln(x, p + "attention.LayerNorm")
        q, k, v = (
            heads_of(y @ sd[p + f"attention.self.{n}.weight"].T + sd[p + f"attention.self.{n}.bias"])
            for n in ("query", "key", "value")
        )
        scores = _rot(q / math.sqrt(d)) @ _rot(k).transpose(-1, -2)
        scores = scores.masked_fill(mask[:, None, None, :] == 0, -1e30)
        ctx = (torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(x.shape)
        x = x + ctx @ sd[p + "attention.output.dense.weight"].T + sd[p + "attention.output.dense.bias"]
        a, b = (ln(x, p + "LayerNorm") @ sd[p + "intermediate.dense.weight"].T).chunk(2, dim=-1)
        x = x + (F.silu(a) * b) @ sd[p + "output.dense.weight"].T
    return ln(x, "esm.encoder.emb_layer_norm_after")


def test_forward_matches_reference_math_and_shapes() -> None:
    cfg = FAM.tiny_config()
    model = FAM.build(cfg).eval()
    ids = torch.randint(6, cfg["vocab_size"], (3, 10))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    out = FAM.encode(FAM.base(model), ids, mask, output_hidden_states=True)
    assert out.last_hidden_state.shape == (3, 10, cfg["hidden_size"])
    assert len(out.hidden_states) == cfg["num_hidden_layers"] + 1
    ref = _reference(model.state_dict(), cfg, ids, mask)
    real = mask.bool()
    torch.testing.assert_close(out.last_hidden_state[real], ref[real], atol=2e-5, rtol=1e-5)
    assert model(input_ids=ids, attention_mask=mask).logits.shape == (3, 10, cfg["vocab_size"])


def test_padding_invariance() -> None:
    cfg = FAM.tiny_config()
    model = FAM.build(cfg).eval()
    tok = FAM.tokenizer(None, cfg)
    seqs = ["ACGTTGCAAGGCTTACGATCGATCGGGATATTACGNNAC", "TTGACA", "GGGCGCGATATAAACCGTA"]
    batch = tok(seqs, padding=True, return_tensors="pt")
    with torch.no_grad():
        padded = FAM.base(model)(**batch).last_hidden_state
        for i, s in enumerate(seqs):
            alone = tok([s], return_tensors="pt")
            single = FAM.base(model)(**alone).last_hidden_state[0]
            torch.testing.assert_close(padded[i, : single.shape[0]], single, atol=1e-5, rtol=0)


# -- tokenizer: a direct re-statement of InstaDeep's algorithm (nucleotide-transformer tokenizers.py) --------------
def _instadeep_tokens(seq: str, k: int = 6) -> list[str]:
    tokens = ["<cls>"]
    parts = seq.split("N")
    for i, part in enumerate(parts):
        whole = len(part) // k
        tokens += [part[j * k : (j + 1) * k] for j in range(whole)] + list(part[whole * k :])
        if i < len(parts) - 1:
            tokens.append("N")
    return tokens


def _instadeep_vocab(order: str) -> dict[str, int]:
    kmers = ["".join(p) for p in itertools.product("ATCG", repeat=6)]
    if order == "v2":
        tokens = ["<unk>", "<pad>", "<mask>", "<cls>", "<eos>", "<bos>", *kmers, "A", "T", "C", "G", "N"]
    else:
        tokens = ["<unk>", "<pad>", "<mask>", "<cls>", *kmers, "A", "T", "C", "G", "N", "<eos>", "<bos>"]
    return {t: i for i, t in enumerate(tokens)}


@pytest.mark.parametrize(
    ("family", "order"), [("nucleotide_transformer_v2", "v2"), ("nucleotide_transformer", "v1")]
)
def test_kmer_tokenizer_matches_instadeep_algorithm(family: str, order: str) -> None:
    fam = get_family(family)
    tok = fam.tokenizer(None, fam.tiny_config())
    vocab = _instadeep_vocab(order)
    rng = random.Random(7)
    for _ in range(200):
        seq = "".join(rng.choice("ACGTACGTACGTN") for _ in range(rng.randint(1, 45)))
        expected = [vocab[t] for t in _instadeep_tokens(seq)]
        assert tok(seq)["input_ids"] == expected, seq
    assert tok.pad_token_id == 1 and tok.mask_token_id == 2 and tok.cls_token_id == 3


@pytest.mark.parametrize(
    ("family", "order"), [("nucleotide_transformer_v2", "v2"), ("nucleotide_transformer", "v1")]
)
def test_run_of_ambiguity_codes_is_one_unk(family: str, order: str) -> None:
    """The published EsmTokenizer maps each stretch of non-ACGTN characters to one <unk> (checked against
    transformers' EsmTokenizer on the NT vocab.txt); one <unk> per character would shift every later position."""
    fam = get_family(family)
    tok = fam.tokenizer(None, fam.tiny_config())
    v = _instadeep_vocab(order)
    assert tok("ACGRYTACGTA")["input_ids"] == [v["<cls>"], v["A"], v["C"], v["G"], v["<unk>"], v["TACGTA"]]
    assert tok("NRSWN")["input_ids"] == [v["<cls>"], v["N"], v["<unk>"], v["N"]]
    assert tok("RACGTAC")["input_ids"] == [v["<cls>"], v["<unk>"], v["ACGTAC"]]


def test_v1_and_v2_id_orders_differ() -> None:
    v1 = get_family("nucleotide_transformer").tokenizer(None, {})
    v2 = FAM.tokenizer(None, FAM.tiny_config())
    seq = "AAAAAAGGGGGGNACG"
    assert v1(seq)["input_ids"] != v2(seq)["input_ids"]
    assert v2.convert_tokens_to_ids("AAAAAA") == 6 and v1.convert_tokens_to_ids("AAAAAA") == 4
    assert v2.convert_tokens_to_ids("N") == 4106 and v1.convert_tokens_to_ids("N") == 4104


# -- checkpoints -------------------------------------------------------------------------------------------------
def _write_checkpoint(directory: Path, drop_inv_freq: bool = False, gamma_beta: bool = False) -> dict:
    cfg = FAM.tiny_config()
    g = torch.Generator().manual_seed(3)
    state = {k: torch.randn(s, generator=g) for k, s in published_manifest(**_shapes(cfg)).items()}
    for k in [k for k in state if k.endswith("inv_freq")]:
        d = cfg["hidden_size"] // cfg["num_attention_heads"]
        state[k] = 1.0 / 10000 ** (torch.arange(0, d, 2).float() / d)
        if drop_inv_freq:
            del state[k]
    saved = {
        (k[: -len("weight")] + "gamma" if gamma_beta and "LayerNorm.weight" in k else k): v
        for k, v in state.items()
    }
    directory.mkdir(parents=True, exist_ok=True)
    torch.save(saved, directory / "pytorch_model.bin")
    (directory / "config.json").write_text(
        json.dumps({**cfg, "auto_map": {"AutoConfig": "esm_config.EsmConfig"}})
    )
    vocab = sorted(_instadeep_vocab("v2"), key=_instadeep_vocab("v2").__getitem__)
    (directory / "vocab.txt").write_text("\n".join(vocab) + "\n")
    return state


@pytest.mark.parametrize(("drop_inv_freq", "gamma_beta"), [(False, False), (True, True)])
def test_load_published_layout_strict(tmp_path: Path, drop_inv_freq: bool, gamma_beta: bool) -> None:
    state = _write_checkpoint(tmp_path / "ckpt", drop_inv_freq, gamma_beta)
    bb = load_backbone(ModelConfig(family="nt_v2", path=str(tmp_path / "ckpt")))
    ours = bb.model.state_dict()
    for k, v in state.items():
        assert torch.equal(ours[k], v), k
    assert bb.tokenizer("ACGTAC")["input_ids"] == [3, _instadeep_vocab("v2")["ACGTAC"]]


def test_load_rejects_v1_vocab_and_wrong_shapes(tmp_path: Path) -> None:
    _write_checkpoint(tmp_path / "ckpt")
    vocab = sorted(_instadeep_vocab("v1"), key=_instadeep_vocab("v1").__getitem__)
    (tmp_path / "ckpt" / "vocab.txt").write_text("\n".join(vocab) + "\n")
    with pytest.raises(ValueError, match="v2 id order"):
        load_backbone(ModelConfig(family="nt_v2", path=str(tmp_path / "ckpt")))
    cfg = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    (tmp_path / "ckpt" / "config.json").write_text(json.dumps({**cfg, "intermediate_size": 48}))
    with pytest.raises(ValueError, match=r"shape mismatches: .*intermediate\.dense\.weight"):
        load_backbone(ModelConfig(family="nt_v2", path=str(tmp_path / "ckpt")))


def test_save_load_round_trip_bit_exact(tmp_path: Path) -> None:
    cfg = FAM.tiny_config()
    model = FAM.build(cfg).eval()
    FAM.save(model, cfg, tmp_path / "run")
    back = load_backbone(ModelConfig(family="nt_v2", path=str(tmp_path / "run"))).model.eval()
    a, b = model.state_dict(), back.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    ids = torch.randint(6, cfg["vocab_size"], (2, 9))
    assert torch.equal(model(input_ids=ids).logits, back(input_ids=ids).logits)


def test_config_rejects_v1_style_absolute_positions() -> None:
    with pytest.raises(ValueError, match="position_embedding_type"):
        FAM.build({**FAM.tiny_config(), "position_embedding_type": "absolute"})


def test_mlm_logits_sane_and_trainable() -> None:
    cfg = FAM.tiny_config()
    model = FAM.build(cfg)
    ids = torch.randint(6, 4102, (4, 12))
    masked = ids.clone()
    masked[:, 1::3] = 2  # <mask>
    labels = torch.where(masked == 2, ids, -100)
    out = model(input_ids=masked, labels=labels)
    assert torch.isfinite(out.logits).all()
    assert abs(out.loss.item() - math.log(cfg["vocab_size"])) < 0.5
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(20):
        opt.zero_grad()
        loss = model(input_ids=masked, labels=labels).loss
        loss.backward()
        opt.step()
    assert loss.item() < out.loss.item() - 1.0
