"""DNABERT-2: published key/shape manifest, parameter count, reference math, padding, checkpoints, tokenizer."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from genomefactory.models import ModelConfig, get_family, load_backbone

FAM = get_family("dnabert2")


def published_manifest(
    layers: int = 12, h: int = 768, inter: int = 3072, vocab: int = 4096
) -> dict[str, tuple]:
    """Key -> shape of the published BertForMaskedLM state dict, written out from MODELS.md §2.2(b)."""
    m: dict[str, tuple] = {
        "bert.embeddings.word_embeddings.weight": (vocab, h),
        "bert.embeddings.token_type_embeddings.weight": (2, h),
        "bert.embeddings.LayerNorm.weight": (h,),
        "bert.embeddings.LayerNorm.bias": (h,),
    }
    for i in range(layers):
        p = f"bert.encoder.layer.{i}."
        m.update(
            {
                p + "attention.self.Wqkv.weight": (3 * h, h),
                p + "attention.self.Wqkv.bias": (3 * h,),
                p + "attention.output.dense.weight": (h, h),
                p + "attention.output.dense.bias": (h,),
                p + "attention.output.LayerNorm.weight": (h,),
                p + "attention.output.LayerNorm.bias": (h,),
                p + "mlp.gated_layers.weight": (2 * inter, h),
                p + "mlp.wo.weight": (h, inter),
                p + "mlp.wo.bias": (h,),
                p + "mlp.layernorm.weight": (h,),
                p + "mlp.layernorm.bias": (h,),
            }
        )
    m.update(
        {
            "cls.predictions.transform.dense.weight": (h, h),
            "cls.predictions.transform.dense.bias": (h,),
            "cls.predictions.transform.LayerNorm.weight": (h,),
            "cls.predictions.transform.LayerNorm.bias": (h,),
            "cls.predictions.decoder.weight": (vocab, h),
            "cls.predictions.decoder.bias": (vocab,),
        }
    )
    return m


def _tiny_shapes() -> dict[str, Any]:
    c = FAM.tiny_config()
    return dict(
        layers=c["num_hidden_layers"], h=c["hidden_size"], inter=c["intermediate_size"], vocab=c["vocab_size"]
    )


def test_registry_entry() -> None:
    assert get_family("DNABERT-2") is FAM and get_family("dnabert_2") is FAM
    assert FAM.variants["117M"] == "zhihan1996/DNABERT-2-117M"
    assert FAM.pooling == "mean" and FAM.kind == "encoder"
    model = FAM.build(FAM.tiny_config())
    names = [n for n, _ in model.named_modules()]
    hits = [n for n in names if any(n.endswith("." + t) for t in FAM.lora_targets)]
    assert len(hits) == 2 * FAM.tiny_config()["num_hidden_layers"]  # gated_layers + wo per layer


def test_full_size_matches_published_manifest_and_count() -> None:
    with torch.device("meta"):
        model = FAM.build(FAM.published_config("117M"))
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert ours == published_manifest()
    assert sum(p.numel() for p in model.parameters()) == 117_074_176  # tied decoder counted once


def _reference(
    sd: dict[str, torch.Tensor], cfg: dict[str, Any], ids: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """The published math written out with plain tensor ops (scores + ALiBi + -10000 padding mask)."""
    h, heads, inter = cfg["hidden_size"], cfg["num_attention_heads"], cfg["intermediate_size"]
    d, eps = h // heads, cfg["layer_norm_eps"]

    def ln(x: torch.Tensor, p: str) -> torch.Tensor:
        return F.layer_norm(x, (h,), sd[p + ".weight"], sd[p + ".bias"], eps)

    x = (
        sd["bert.embeddings.word_embeddings.weight"][ids]
        + sd["bert.embeddings.token_type_embeddings.weight"][0]
    )
    x = ln(x, "bert.embeddings.LayerNorm")
    p2 = 2 ** math.floor(math.log2(heads))
    slopes = [2 ** (-8 * (k + 1) / p2) for k in range(p2)] + [
        2 ** (-8 * (k + 0.5) / p2) for k in range(heads - p2)
    ]
    n = ids.shape[1]
    dist = torch.tensor([[abs(i - j) for j in range(n)] for i in range(n)], dtype=x.dtype)
    alibi = torch.stack([-s * dist for s in slopes])
    pad = (1.0 - mask[:, None, None, :].to(x.dtype)) * -10000.0
    for i in range(cfg["num_hidden_layers"]):
        p = f"bert.encoder.layer.{i}."
        qkv = x @ sd[p + "attention.self.Wqkv.weight"].T + sd[p + "attention.self.Wqkv.bias"]
        q, k, v = (t.reshape(*t.shape[:2], heads, d).transpose(1, 2) for t in qkv.split(h, dim=-1))
        probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + alibi + pad, dim=-1)
        ctx = (probs @ v).transpose(1, 2).reshape(x.shape)
        x = ln(
            ctx @ sd[p + "attention.output.dense.weight"].T + sd[p + "attention.output.dense.bias"] + x,
            p + "attention.output.LayerNorm",
        )
        gu = x @ sd[p + "mlp.gated_layers.weight"].T
        y = F.gelu(gu[..., :inter]) * gu[..., inter:]
        x = ln(y @ sd[p + "mlp.wo.weight"].T + sd[p + "mlp.wo.bias"] + x, p + "mlp.layernorm")
    return x * mask[..., None]


def test_forward_matches_reference_math_and_shapes() -> None:
    cfg = FAM.tiny_config()
    model = FAM.build(cfg).eval()
    ids = torch.randint(5, cfg["vocab_size"], (3, 11))
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    mask[2, 3:] = 0
    out = FAM.encode(FAM.base(model), ids, mask, output_hidden_states=True)
    assert out.last_hidden_state.shape == (3, 11, cfg["hidden_size"])
    assert len(out.hidden_states) == cfg["num_hidden_layers"] + 1
    ref = _reference(model.state_dict(), cfg, ids, mask)
    torch.testing.assert_close(out.last_hidden_state, ref, atol=2e-5, rtol=1e-5)
    assert torch.all(out.last_hidden_state[1, 7:] == 0) and torch.all(out.last_hidden_state[2, 3:] == 0)
    logits = model(input_ids=ids, attention_mask=mask).logits
    assert logits.shape == (3, 11, cfg["vocab_size"])
    long = torch.randint(5, cfg["vocab_size"], (1, cfg["alibi_starting_size"] + 40))  # ALiBi extrapolates
    assert torch.isfinite(FAM.base(model)(input_ids=long).last_hidden_state).all()


def test_padding_invariance() -> None:
    cfg = FAM.tiny_config()
    model = FAM.build(cfg).eval()
    tok = FAM.tokenizer(None, cfg)
    seqs = ["ACGTTGCAAGGCTTACGATCGATCGGGATATTACG", "TTGACA", "GGGCGCGATATAAACCGT"]
    batch = tok(seqs, padding=True, return_tensors="pt")
    with torch.no_grad():
        padded = FAM.base(model)(**batch).last_hidden_state
        for i, s in enumerate(seqs):
            alone = tok([s], return_tensors="pt")
            n = alone["input_ids"].shape[1]
            single = FAM.base(model)(**alone).last_hidden_state[0]
            torch.testing.assert_close(padded[i, :n], single, atol=1e-5, rtol=0)


def test_tiny_tokenizer_ids_and_template() -> None:
    tok = FAM.tokenizer(None, FAM.tiny_config())
    ids = {t: tok.convert_tokens_to_ids(t) for t in ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]}
    assert ids == {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "[PAD]": 3, "[MASK]": 4}
    enc = tok("ACGTACGGTTA")["input_ids"]
    assert enc[0] == 1 and enc[-1] == 2 and tok.pad_token_id == 3 and tok.mask_token_id == 4
    assert "".join(tok.convert_ids_to_tokens(enc[1:-1])) == "ACGTACGGTTA"


def _write_published_checkpoint(directory: Path) -> dict[str, torch.Tensor]:
    """A tiny checkpoint laid out like the hub repo (current revision): config.json without model_type or
    pad_token_id (classes only in auto_map), pytorch_model.bin with the tied matrix under both names, the
    tokenizer's tokenizer.json."""
    cfg = FAM.tiny_config()
    g = torch.Generator().manual_seed(1)
    state = {k: torch.randn(s, generator=g) for k, s in published_manifest(**_tiny_shapes()).items()}
    state["cls.predictions.decoder.weight"] = state["bert.embeddings.word_embeddings.weight"]
    directory.mkdir(parents=True, exist_ok=True)
    torch.save(state, directory / "pytorch_model.bin")
    published = {k: v for k, v in cfg.items() if k not in ("initializer_range",)}
    published.pop("pad_token_id")
    published.update(
        {
            "auto_map": {
                "AutoConfig": "configuration_bert.BertConfig",
                "AutoModelForMaskedLM": "bert_layers.BertForMaskedLM",
            },
            "classifier_dropout": None,
            "position_embedding_type": "absolute",
            "use_cache": True,
            "torch_dtype": "float32",
            "transformers_version": "4.28.0",
        }
    )
    (directory / "config.json").write_text(json.dumps(published))
    FAM.tokenizer(None, cfg).save_pretrained(str(directory))
    return state


def test_load_published_layout_strict(tmp_path: Path) -> None:
    state = _write_published_checkpoint(tmp_path / "ckpt")
    bb = load_backbone(ModelConfig(family="dnabert2", path=str(tmp_path / "ckpt")))
    ours = bb.model.state_dict()
    for k, v in state.items():
        assert torch.equal(ours[k], v), k
    assert bb.model.cls.predictions.decoder.weight is bb.model.bert.embeddings.word_embeddings.weight
    assert "model_type" not in json.loads((tmp_path / "ckpt" / "config.json").read_text())
    # the hub's PretrainedConfig-based class leaves the omitted pad_token_id None: no padding_idx
    assert bb.model.bert.embeddings.word_embeddings.padding_idx is None
    assert bb.tokenizer.pad_token_id == 3 and bb.tokenizer("ACGT")["input_ids"][0] == 1


def test_load_accepts_single_copy_of_tied_matrix_and_names_bad_keys(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    state = _write_published_checkpoint(tmp_path / "ckpt")
    (tmp_path / "ckpt" / "pytorch_model.bin").unlink()
    one = {k: v.clone() for k, v in state.items() if k != "cls.predictions.decoder.weight"}
    save_file(one, str(tmp_path / "ckpt" / "model.safetensors"))
    bb = load_backbone(ModelConfig(family="dnabert2", path=str(tmp_path / "ckpt")))
    assert torch.equal(
        bb.model.cls.predictions.decoder.weight, state["bert.embeddings.word_embeddings.weight"]
    )
    one["bert.encoder.layer.0.mlp.wo.weightx"] = one.pop("bert.encoder.layer.0.mlp.wo.weight")
    save_file(one, str(tmp_path / "ckpt" / "model.safetensors"))
    with pytest.raises(ValueError, match=r"missing keys: bert\.encoder\.layer\.0\.mlp\.wo\.weight"):
        load_backbone(ModelConfig(family="dnabert2", path=str(tmp_path / "ckpt")))


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    cfg = {k: v for k, v in FAM.tiny_config().items() if k != "num_attention_heads"}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="num_attention_heads"):
        FAM.read_config(tmp_path)


def test_save_load_round_trip_bit_exact(tmp_path: Path) -> None:
    cfg = FAM.tiny_config()
    model = FAM.build(cfg).eval()
    FAM.save(model, cfg, tmp_path / "run")
    FAM.tokenizer(None, cfg).save_pretrained(str(tmp_path / "run"))
    back = load_backbone(ModelConfig(family="dnabert2", path=str(tmp_path / "run")))
    back.model.eval()
    a, b = model.state_dict(), back.model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    ids = torch.randint(5, cfg["vocab_size"], (2, 9))
    assert torch.equal(model(input_ids=ids).logits, back.model(input_ids=ids).logits)


def test_mlm_logits_sane_and_trainable() -> None:
    cfg = {**FAM.tiny_config(), "hidden_dropout_prob": 0.0}
    model = FAM.build(cfg)
    ids = torch.randint(5, cfg["vocab_size"], (4, 16))
    masked = ids.clone()
    masked[:, ::3] = 4  # [MASK]
    labels = torch.where(masked == 4, ids, -100)  # only masked positions are scored
    out = model(input_ids=masked, labels=labels)
    assert torch.isfinite(out.logits).all()
    assert abs(out.loss.item() - math.log(cfg["vocab_size"])) < 0.5  # near-uniform at init
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = out.loss.item()
    for _ in range(20):
        opt.zero_grad()
        loss = model(input_ids=masked, labels=labels).loss
        loss.backward()
        opt.step()
    assert loss.item() < first - 1.0  # the masked tokens are learnable from their context
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight


def test_lora_step_on_feed_forward_targets() -> None:
    from peft import LoraConfig, get_peft_model

    cfg = FAM.tiny_config()
    base = FAM.base(FAM.build(cfg))
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=list(FAM.lora_targets)))
    ids = torch.randint(5, cfg["vocab_size"], (2, 8))
    peft_model(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state.pow(2).mean().backward()
    grads = {n for n, p in peft_model.named_parameters() if p.grad is not None}
    assert grads and all("lora_" in n for n in grads)
    assert any("gated_layers.lora_A" in n for n in grads) and any("wo.lora_B" in n for n in grads)
