"""Evo-1 / StripedHyena: recurrent decoding = full forward, published keys and counts, checkpoint I/O, math."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from genomefactory.models.registry import get_family

FAM = get_family("EVO")


def _tiny(**over: object) -> torch.nn.Module:
    return FAM.build({**FAM.tiny_config(), **over}).eval()


@pytest.mark.parametrize("scaled_rotary", [False, True])
def test_prefill_then_recurrent_steps_reproduce_full_forward_logits(scaled_rotary: bool) -> None:
    over = {"use_interpolated_rotary_pos_emb": True, "rotary_emb_scaling_factor": 16} if scaled_rotary else {}
    model = _tiny(**over)
    ids = torch.randint(60, 90, (2, 24))
    with torch.no_grad():
        full = model(ids).logits
        logits, cache = model.prefill(ids[:, :9])
        torch.testing.assert_close(logits, full[:, :9], atol=1e-5, rtol=1e-5)
        for t in range(9, 24):
            torch.testing.assert_close(model.step(ids[:, t], cache), full[:, t], atol=1e-5, rtol=1e-5)
    assert cache.offset == 24 and cache.layers[0]["iir"].shape == (2, 32, 4)


def test_generate_matches_greedy_full_reforward() -> None:
    model = _tiny()
    prompt = torch.randint(60, 90, (2, 6))
    out = FAM.generate(model, prompt, 8)
    ids = prompt
    with torch.no_grad():
        for _ in range(8):
            ids = torch.cat([ids, model(ids).logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(out, ids)


def test_modal_kernel_is_the_real_part_of_the_pole_residue_sum() -> None:
    filt = _tiny().blocks[0].filter
    h = filt.kernel(6)
    p = torch.complex(filt.poles[3, :, 0, 0], filt.poles[3, :, 0, 1]).to(torch.complex128)
    r = torch.complex(filt.residues[3, :, 0, 0], filt.residues[3, :, 0, 1]).to(torch.complex128)
    want = torch.stack([(r * p**t).sum().real for t in range(6)]).float()
    torch.testing.assert_close(h[3], want, atol=1e-5, rtol=1e-4)


def test_column_split_takes_thirds_of_each_head() -> None:
    filt = _tiny().blocks[0].filter  # hidden 32, 4 heads of 8: each head owns 24 consecutive rows
    z = torch.arange(96.0)[None, :, None]
    x2, x1, v = filt._split(z)
    assert x2[0, :10, 0].tolist() == [*range(0, 8), 24, 25]
    assert x1[0, :2, 0].tolist() == [8, 9] and v[0, :2, 0].tolist() == [16, 17]


def test_rmsnorm_puts_eps_outside_the_root() -> None:
    norm = _tiny(eps=0.5).norm
    x = torch.tensor([[3.0, 4.0] + [0.0] * 30])
    rms = (25.0 / 32) ** 0.5
    torch.testing.assert_close(norm(x)[0, :2], torch.tensor([3.0, 4.0]) / (rms + 0.5))


def test_full_size_keys_shapes_and_parameter_count() -> None:
    with torch.device("meta"):
        model = FAM.build(FAM.published_config("8k"))
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    hyena = {
        "pre_norm.scale": (4096,),
        "post_norm.scale": (4096,),
        "projections.weight": (12288, 4096),
        "projections.bias": (12288,),
        "filter.short_filter_weight": (12288, 1, 3),
        "filter.short_filter_bias": (12288,),
        "filter.D": (4096,),
        "filter.poles": (4096, 8, 1, 2),
        "filter.residues": (4096, 8, 1, 2),
        "out_filter_dense.weight": (4096, 4096),
        "out_filter_dense.bias": (4096,),
        "mlp.l1.weight": (10928, 4096),
        "mlp.l2.weight": (10928, 4096),
        "mlp.l3.weight": (4096, 10928),
    }
    attn = {
        "pre_norm.scale": (4096,),
        "post_norm.scale": (4096,),
        "inner_mha_cls.Wqkv.weight": (12288, 4096),
        "inner_mha_cls.Wqkv.bias": (12288,),
        "inner_mha_cls.out_proj.weight": (4096, 4096),
        "inner_mha_cls.out_proj.bias": (4096,),
        "inner_mha_cls.rotary_emb.inv_freq": (64,),
        "mlp.l1.weight": (10928, 4096),
        "mlp.l2.weight": (10928, 4096),
        "mlp.l3.weight": (4096, 10928),
    }
    want = {"embedding_layer.weight": (512, 4096), "unembed.weight": (512, 4096), "norm.scale": (4096,)}
    for i in range(32):
        want |= {f"blocks.{i}.{k}": v for k, v in (attn if i in (8, 16, 24) else hyena).items()}
    assert shapes == want
    assert sum(p.numel() for p in model.parameters()) == 6_452_781_056


def test_published_layout_loads_strictly_and_round_trips_bit_exact(tmp_path: Path) -> None:
    cfg = FAM.tiny_config()
    src = _tiny()
    pub = tmp_path / "published"
    pub.mkdir()  # HF files: `backbone.` prefix, no tied unembed, plus a kernel cache key to ignore
    state = {f"backbone.{k}": v.contiguous() for k, v in src.state_dict().items() if k != "unembed.weight"}
    state["backbone.blocks.0.filter.fftconv_fn.twiddle_factors"] = torch.zeros(2)
    save_file(state, str(pub / "model.safetensors"))
    dst = _tiny()
    FAM.load_state(dst, pub)
    ids = torch.randint(60, 90, (1, 20))
    with torch.no_grad():
        assert torch.equal(src(ids).logits, dst(ids).logits)
    assert dst.unembed.weight is dst.embedding_layer.weight

    FAM.save(dst, cfg, tmp_path / "saved")
    saved = load_file(str(tmp_path / "saved" / "model.safetensors"))
    assert "backbone.unembed.weight" not in saved and "backbone.embedding_layer.weight" in saved
    again = FAM.build(FAM.read_config(tmp_path / "saved"))
    FAM.load_state(again, tmp_path / "saved")
    for k, v in src.state_dict().items():
        assert torch.equal(v, again.state_dict()[k]), k


def test_wrong_shapes_are_reported(tmp_path: Path) -> None:
    big = FAM.build({**FAM.tiny_config(), "state_size": 8})
    state = {k: v.contiguous() for k, v in big.state_dict().items() if k != "unembed.weight"}
    save_file(state, str(tmp_path / "model.safetensors"))
    with pytest.raises(ValueError, match=r"shape mismatches: blocks\.0\.filter\.poles"):
        FAM.load_state(_tiny(), tmp_path)


def test_byte_tokenizer_and_left_padding_are_exact() -> None:
    tok = FAM.tokenizer(None, FAM.tiny_config())
    assert tok("ACGT")["input_ids"] == [65, 67, 71, 84]
    batch = tok(["AC", "ACGT"], padding=True, return_tensors="pt")
    assert batch["input_ids"][0].tolist() == [1, 1, 65, 67]
    model = _tiny()
    with torch.no_grad():
        out = FAM.base(model)(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        alone = model(batch["input_ids"][:1, 2:]).last_hidden_state
    torch.testing.assert_close(out.last_hidden_state[:1, 2:], alone, atol=1e-5, rtol=1e-5)


def test_unsupported_config_is_a_clear_error_and_lora_targets_attention_only() -> None:
    with pytest.raises(ValueError, match="hyena_filter_groups"):
        FAM.build({**FAM.tiny_config(), "hyena_filter_groups": 2})
    names = [n for n, m in _tiny().named_modules() if isinstance(m, torch.nn.Linear)]
    assert [n for n in names if n.endswith(".Wqkv")] == ["blocks.2.inner_mha_cls.Wqkv"]


def test_published_variants_are_fetched_at_the_fixed_revision(monkeypatch: pytest.MonkeyPatch) -> None:
    import genomefactory.models.loading as loading

    asked: list[tuple[str, str | None]] = []

    def fake_resolve(source: str, revision: str | None = None, allow_code: bool = False) -> Path:
        asked.append((source, revision))
        raise RuntimeError("offline")

    monkeypatch.setattr(loading, "resolve_source", fake_resolve)
    for cfg in (
        loading.ModelConfig(family="evo", variant="131k"),
        loading.ModelConfig(family="evo", revision="x"),
    ):
        with pytest.raises(RuntimeError, match="offline"):
            loading.load_backbone(cfg)
    assert asked == [
        ("togethercomputer/evo-1-131k-base", "1.1_fix"),
        ("togethercomputer/evo-1-131k-base", "x"),
    ]


def test_half_precision_cast_keeps_poles_and_residues_float32_like_the_published_loader() -> None:
    """``to_bfloat16_except_poles_residues``: a bf16 pole 0.999 rounds to 1.0 (no decay over a long context)."""
    model = _tiny()
    filt = model.blocks[0].filter
    with torch.no_grad():
        filt.poles[..., 0], filt.poles[..., 1] = 0.9993, 0.0  # not representable in bf16
    poles, residues = filt.poles.detach().clone(), filt.residues.detach().clone()
    ids = torch.randint(60, 90, (2, 40))
    with torch.no_grad():
        want = model(ids).logits
        model.to(torch.bfloat16)
        assert filt.poles.dtype == filt.residues.dtype == torch.float32
        assert torch.equal(filt.poles, poles) and torch.equal(filt.residues, residues)
        assert filt.D.dtype == model.embedding_layer.weight.dtype == torch.bfloat16
        got = model(ids).logits
        assert FAM.generate(model, ids[:, :5], 3).shape == (2, 8)
    torch.testing.assert_close(got, want, atol=0.3, rtol=0.05)  # bf16 rounding only
