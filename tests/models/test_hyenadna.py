"""HyenaDNA: published key names/shapes, parameter counts, checkpoint I/O with the shared freq, tokenizer, math."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from genomefactory.models.layers.fftconv import direct_causal_conv, short_causal_conv
from genomefactory.models.registry import get_family

FAM = get_family("HyenaDNA")


def _published_manifest(d: int, n_layer: int, max_len: int, emb: int = 5, order: int = 64) -> dict:
    """Key -> shape of the published HyenaDNAForCausalLM checkpoint (MODELS.md §2.1; freq stored once)."""
    out = {
        "hyena.backbone.embeddings.word_embeddings.weight": (16, d),
        "lm_head.weight": (16, d),
        "hyena.backbone.ln_f.weight": (d,),
        "hyena.backbone.ln_f.bias": (d,),
    }
    for i in range(n_layer):
        p = f"hyena.backbone.layers.{i}."
        f = p + "mixer.filter_fn."
        out |= {
            p + "mixer.in_proj.weight": (3 * d, d),
            p + "mixer.in_proj.bias": (3 * d,),
            p + "mixer.short_filter.weight": (3 * d, 1, 3),
            p + "mixer.short_filter.bias": (3 * d,),
            p + "mixer.out_proj.weight": (d, d),
            p + "mixer.out_proj.bias": (d,),
            f + "bias": (d,),
            f + "pos_emb.z": (1, max_len, emb),
            f + "pos_emb.t": (1, max_len, 1),
            f + "implicit_filter.0.weight": (order, emb),
            f + "implicit_filter.0.bias": (order,),
            f + "implicit_filter.1.freq": (1, order),
            f + "implicit_filter.2.weight": (order, order),
            f + "implicit_filter.2.bias": (order,),
            f + "implicit_filter.4.weight": (order, order),
            f + "implicit_filter.4.bias": (order,),
            f + "implicit_filter.6.weight": (d, order),
            f + "modulation.deltas": (1, 1, d),
            p + "norm1.weight": (d,),
            p + "norm1.bias": (d,),
            p + "norm2.weight": (d,),
            p + "norm2.bias": (d,),
            p + "mlp.fc1.weight": (4 * d, d),
            p + "mlp.fc1.bias": (4 * d,),
            p + "mlp.fc2.weight": (d, 4 * d),
            p + "mlp.fc2.bias": (d,),
        }
    return out


def _meta(variant: str) -> torch.nn.Module:
    with torch.device("meta"):
        return FAM.build(FAM.published_config(variant))


def _published_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v for k, v in model.state_dict().items() if not k.endswith(("3.freq", "5.freq"))}


@pytest.mark.parametrize(("variant", "d", "n_layer"), [("tiny-1k", 128, 2), ("large-1m", 256, 8)])
def test_full_size_keys_and_shapes_match_the_published_checkpoint(variant: str, d: int, n_layer: int) -> None:
    model = _meta(variant)
    got = {k: tuple(v.shape) for k, v in _published_state(model).items()}
    max_len = FAM.published_config(variant)["max_seq_len"]
    assert got == _published_manifest(d, n_layer, max_len)


def test_full_size_parameter_counts() -> None:
    def count(variant: str) -> tuple[int, int]:
        params = dict(_meta(variant).named_parameters())
        total = sum(p.numel() for p in params.values())
        return total, total - sum(p.numel() for k, p in params.items() if k.endswith("pos_emb.z"))

    assert count("tiny-1k")[0] == 448_404
    assert count("small-32k")[0] == 3_937_064
    assert count("large-1m") == (46_554_704, 6_554_624)
    assert count("medium-160k") == (12_954_704, 6_554_624)  # 6.55M = the paper's Table 2 "Full" row


def test_freq_is_one_shared_parameter_per_layer() -> None:
    f = FAM.build(FAM.tiny_config()).hyena.backbone.layers[0].mixer.filter_fn.implicit_filter
    assert f[1].freq is f[3].freq is f[5].freq


def test_strict_load_of_published_layout_and_bit_exact_round_trip(tmp_path: Path) -> None:
    cfg = FAM.tiny_config()
    src = FAM.build(cfg).eval()
    with torch.no_grad():  # a trained z differs from the formula: it must be loaded, not recomputed
        for layer in src.hyena.backbone.layers:
            layer.mixer.filter_fn.pos_emb.z.add_(0.1 * torch.randn_like(layer.mixer.filter_fn.pos_emb.z))
            layer.mixer.filter_fn.implicit_filter[1].freq.mul_(1.5)
    pub = tmp_path / "published"
    pub.mkdir()
    save_file({k: v.contiguous() for k, v in _published_state(src).items()}, str(pub / "model.safetensors"))
    dst = FAM.build(cfg).eval()
    FAM.load_state(dst, pub)
    ids = torch.randint(7, 12, (2, 40))
    assert torch.equal(src(ids).logits, dst(ids).logits)

    FAM.save(dst, cfg, tmp_path / "saved")  # must not trip over the shared freq
    saved = load_file(str(tmp_path / "saved" / "model.safetensors"))
    assert set(saved) == set(_published_state(dst))  # published layout: freq stored once per layer
    again = FAM.build(FAM.read_config(tmp_path / "saved")).eval()
    FAM.load_state(again, tmp_path / "saved")
    for k, v in src.state_dict().items():
        assert torch.equal(v, again.state_dict()[k]), k
    assert again.hyena.backbone.layers[0].mixer.filter_fn.implicit_filter[5].freq.mean().item() == 15.0


def test_strict_load_names_missing_and_unexpected_keys(tmp_path: Path) -> None:
    model = FAM.build(FAM.tiny_config())
    state = _published_state(model)
    state["hyena.backbone.extra.weight"] = torch.zeros(1)
    del state["lm_head.weight"]
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "model.safetensors"))
    with pytest.raises(
        ValueError, match=r"missing keys: lm_head\.weight.*unexpected keys: hyena\.backbone\.extra"
    ):
        FAM.load_state(model, tmp_path)


def test_tokenizer_uses_published_ids_left_padding_and_sep() -> None:
    tok = FAM.tokenizer(None, FAM.tiny_config())
    assert tok("ACGTN")["input_ids"] == [7, 8, 9, 10, 11, 1]
    assert tok("AXC")["input_ids"] == [7, 6, 8, 1]
    batch = tok(["AC", "ACGT"], padding=True)
    assert batch["input_ids"][0] == [4, 4, 7, 8, 1] and batch["attention_mask"][0] == [0, 0, 1, 1, 1]


def test_positional_features_and_decay_window_follow_the_published_formula() -> None:
    filt = FAM.build(FAM.tiny_config()).hyena.backbone.layers[0].mixer.filter_fn
    z = filt.pos_emb.z[0]
    length = z.shape[0]
    assert torch.allclose(z[0], torch.tensor([0.0, 1.0, 1.0, 0.0, 0.0]))  # t=0, cos(0)=1, sin(0)=0
    t5 = 2 * math.pi * 5 / length
    assert torch.allclose(z[5, 2], torch.tensor(math.cos(-1.0 * t5)), atol=1e-5)  # band f=1 (of 1e-4, 1)
    deltas = filt.modulation.deltas.flatten()
    assert deltas[0].item() == pytest.approx(math.log(1e-2) / 1.5) and deltas[-1].item() == pytest.approx(
        math.log(1e-2) / 0.3
    )


def test_hyena_operator_matches_an_explicit_direct_convolution() -> None:
    op = FAM.build(FAM.tiny_config()).hyena.backbone.layers[1].mixer
    u = torch.randn(2, 20, 32)
    z = short_causal_conv(op.in_proj(u).transpose(1, 2), op.short_filter.weight, op.short_filter.bias)
    x0, x1, v = z.chunk(3, dim=1)
    k = op.filter_fn.kernel(20)
    want = op.out_proj((x0 * direct_causal_conv(x1 * v, k, op.filter_fn.bias)).transpose(1, 2))
    torch.testing.assert_close(op(u), want, atol=1e-5, rtol=1e-4)


def test_causal_and_padding_exact() -> None:
    model = FAM.build(FAM.tiny_config()).eval()
    ids = torch.randint(7, 12, (1, 30))
    changed = ids.clone()
    changed[0, 20:] = 7 + (changed[0, 20:] - 6) % 5
    with torch.no_grad():
        a, b = model(ids).logits, model(changed).logits
        assert torch.allclose(a[:, :20], b[:, :20], atol=1e-5) and not torch.allclose(a[:, 20:], b[:, 20:])
        padded = torch.cat([torch.full((1, 6), 4), ids], dim=1)
        mask = torch.cat([torch.zeros(1, 6), torch.ones(1, 30)], dim=1).long()
        out = FAM.base(model)(input_ids=padded, attention_mask=mask, output_hidden_states=True)
        alone = FAM.base(model)(input_ids=ids, output_hidden_states=True)
    torch.testing.assert_close(out.last_hidden_state[:, 6:], alone.last_hidden_state, atol=1e-5, rtol=1e-5)
    assert len(out.hidden_states) == 3  # embeddings + one per layer


def test_too_long_input_is_a_clear_error() -> None:
    model = FAM.build({**FAM.tiny_config(), "max_seq_len": 16})
    with pytest.raises(ValueError, match="max_seq_len=16"):
        model(torch.randint(7, 12, (1, 17)))


def test_generate_by_full_reforward_is_greedy_and_lora_targets_exist() -> None:
    model = FAM.build(FAM.tiny_config()).eval()
    prompt = torch.randint(7, 11, (2, 5))
    out = FAM.generate(model, prompt, 4)
    assert out.shape == (2, 9) and torch.equal(out[:, :5], prompt)
    with torch.no_grad():
        assert torch.equal(out[:, 5], model(prompt).logits[:, -1].argmax(-1))
    names = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    hits = [n for n in names if any(n.endswith("." + t) for t in FAM.lora_targets)]
    assert len(hits) == 2 * 2  # in_proj and out_proj of both blocks
