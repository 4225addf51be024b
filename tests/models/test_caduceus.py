"""Caduceus: tokenizer, RC equivariance (PS), bidirectionality (PH), published key manifest, tied weights, save/load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from genomefactory.models.families.caduceus import CADUCEUS, complement_map
from genomefactory.models.layers.rcps import rc_hidden, rc_ids
from genomefactory.models.registry import get_family

COMP = torch.tensor(complement_map(16))


def _model(**overrides: Any) -> tuple[nn.Module, dict[str, Any]]:
    cfg = {**CADUCEUS.tiny_config(), **overrides}
    torch.manual_seed(0)
    model = CADUCEUS.build(cfg).double().eval()
    with torch.no_grad():  # published init zeroes conv biases' effect little; make every parameter matter
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model, cfg


def _ids(batch: int = 2, length: int = 29) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.randint(0, 12, (batch, length), generator=g)


def test_registered_with_alias_and_paper_settings() -> None:
    fam = get_family("Caduceus")
    assert fam is CADUCEUS and fam.learning_rate == 1e-3 and fam.padding_side == "left"
    assert fam.variants["ps-131k"] == "kuleshov-group/caduceus-ps_seqlen-131k_d_model-256_n_layer-16"
    assert fam.variants["ph-1k"] == "kuleshov-group/caduceus-ph_seqlen-1k_d_model-118_n_layer-4_lr-8e-3"


def test_tokenizer_ids_uppercase_sep_left_padding() -> None:
    tok = CADUCEUS.tokenizer(None, CADUCEUS.tiny_config())
    enc = tok(["acgtnR", "GT"], padding=True)
    assert enc["input_ids"] == [[7, 8, 9, 10, 11, 6, 1], [4, 4, 4, 4, 9, 10, 1]]
    assert enc["attention_mask"][1] == [0, 0, 0, 0, 1, 1, 1]
    assert tok.complement_map[7] == 10 and tok.complement_map[8] == 9 and tok.complement_map[4] == 4


@pytest.mark.parametrize("fused", [True, False])
def test_ps_is_reverse_complement_equivariant(fused: bool) -> None:
    model, _ = _model(fused_add_norm=fused)
    x = _ids()
    with torch.no_grad():
        out, out_rc = model(x, output_hidden_states=True), model(rc_ids(x, COMP), output_hidden_states=True)
        raw, raw_rc = (model.caduceus(i).rcps_hidden_state for i in (x, rc_ids(x, COMP)))
    torch.testing.assert_close(raw_rc, rc_hidden(raw))
    # logits of RC(x) at position i = logits of x at position L-1-i, vocabulary complemented
    torch.testing.assert_close(out_rc.logits, out.logits.flip(1)[..., COMP])
    for h, h_rc in zip(out.hidden_states, out_rc.hidden_states, strict=True):
        torch.testing.assert_close(h_rc, h.flip(1))  # combined d_model view: positions mirror, channels agree


def test_ps_fused_path_swaps_halves_like_the_published_kernel_path() -> None:
    """Transcription of the published fused RCPS block/final-norm arithmetic, run on our modules' weights."""
    model, cfg = _model(fused_add_norm=True)
    d, bb = cfg["d_model"], model.caduceus.backbone
    x = _ids()

    def rms(t: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return t * torch.rsqrt(t.pow(2).mean(-1, keepdim=True) + 1e-5) * w

    with torch.no_grad():
        hidden, residual = bb.embeddings(x), None
        for layer in bb.layers:
            w = layer.norm.weight
            res = hidden if residual is None else hidden + residual
            fwd_res, rc_res = res[..., d:], res[..., :d].flip(-2, -1)  # halves exchanged by the fused call
            hidden = torch.cat([rms(fwd_res, w), rms(rc_res, w).flip(-2, -1)], -1)
            residual = torch.cat([fwd_res, rc_res.flip(-2, -1)], -1)
            hidden = layer.mixer(hidden)
        res = hidden + residual
        w = bb.norm_f.weight
        expected = torch.cat([rms(res[..., :d], w), rms(res[..., d:].flip(-2, -1), w).flip(-2, -1)], -1)
        torch.testing.assert_close(model.caduceus(x).rcps_hidden_state, expected)


def test_ps_fused_and_unfused_differ_on_the_same_weights() -> None:
    fused, _ = _model(fused_add_norm=True)
    unfused, _ = _model(fused_add_norm=False)
    state = {
        k.replace(".norm.submodule.", ".norm.").replace("norm_f.submodule.", "norm_f."): v
        for k, v in unfused.state_dict().items()
    }
    fused.load_state_dict(state)
    x = _ids()
    with torch.no_grad():
        assert (fused(x).logits - unfused(x).logits).abs().max() > 1e-3


def test_ps_mean_pooled_embedding_is_rc_invariant() -> None:
    model, cfg = _model()
    x = _ids()
    with torch.no_grad():
        e, e_rc = (
            CADUCEUS.encode(CADUCEUS.base(model), i, None).last_hidden_state for i in (x, rc_ids(x, COMP))
        )
    assert e.shape[-1] == CADUCEUS.hidden_size(cfg) == cfg["d_model"]
    torch.testing.assert_close(e_rc.mean(1), e.mean(1))


def test_ph_sees_both_directions_and_is_not_rc_equivariant() -> None:
    model, _ = _model(rcps=False)
    x = _ids(1, 24)
    x2 = x.clone()
    x2[0, 12] = (x2[0, 12] + 1) % 12
    with torch.no_grad():
        h, h2 = model.caduceus(x).last_hidden_state, model.caduceus(x2).last_hidden_state
        logits, logits_rc = model(x).logits, model(rc_ids(x, COMP)).logits
    assert (h[0, :12] - h2[0, :12]).abs().amax(-1).min() > 0  # every earlier position sees the change
    assert (h[0, 13:] - h2[0, 13:]).abs().amax(-1).min() > 0  # and every later one
    assert not torch.allclose(logits_rc, logits.flip(1)[..., COMP], atol=1e-4)
    causal, _ = _model(rcps=False, bidirectional=False)
    with torch.no_grad():
        c, c2 = causal.caduceus(x).last_hidden_state, causal.caduceus(x2).last_hidden_state
    torch.testing.assert_close(c[0, :12], c2[0, :12])


@pytest.mark.parametrize("rcps", [True, False])
def test_left_padding_with_mask_equals_unpadded(rcps: bool) -> None:
    model, cfg = _model(rcps=rcps)
    tok = CADUCEUS.tokenizer(None, cfg)
    enc = tok(["ACGTTGCAAGGCTTACG", "GGCATN"], padding=True, return_tensors="pt")
    alone = tok(["GGCATN"], return_tensors="pt")
    with torch.no_grad():
        both = model.caduceus(enc["input_ids"], enc["attention_mask"]).last_hidden_state
        one = model.caduceus(alone["input_ids"], alone["attention_mask"]).last_hidden_state
    torch.testing.assert_close(both[1, -one.shape[1] :], one[0])


def _layer_manifest(i: int, d: int, rcps: bool) -> dict[str, tuple[int, ...]]:
    e, r, n = 2 * d, -(-d // 16), 16
    pre = f"caduceus.backbone.layers.{i}.mixer." + ("submodule." if rcps else "")
    shapes = {
        "in_proj.weight": (2 * e, d),
        "conv1d.weight": (e, 1, 4),
        "conv1d.bias": (e,),
        "x_proj.weight": (r + 2 * n, e),
        "dt_proj.weight": (e, r),
        "dt_proj.bias": (e,),
        "A_log": (e, n),
        "D": (e,),
        "out_proj.weight": (d, e),
    }
    out = {f"{pre}{m}.{k}": v for m in ("mamba_fwd", "mamba_rev") for k, v in shapes.items()}
    out[f"caduceus.backbone.layers.{i}.norm.weight"] = (d,)
    return out


@pytest.mark.parametrize("variant", ["ps-131k", "ph-131k", "ps-1k"])
def test_published_key_manifest_and_parameter_count_at_full_size(variant: str) -> None:
    cfg = CADUCEUS.published_config(variant)
    d, rcps = cfg["d_model"], cfg["rcps"]
    with torch.device("meta"):
        model = CADUCEUS.build(cfg)
    want: dict[str, tuple[int, ...]] = {"caduceus.backbone.norm_f.weight": (d,)}
    for i in range(cfg["n_layer"]):
        want.update(_layer_manifest(i, d, rcps))
    if rcps:
        want |= {
            "caduceus.backbone.embeddings.word_embeddings.embedding.weight": (16, d),
            "caduceus.backbone.embeddings.word_embeddings.complement_map": (16,),
            "lm_head.lm_head.weight": (16, d),
            "lm_head.complement_map": (16,),
        }
    else:
        want |= {"caduceus.backbone.embeddings.word_embeddings.weight": (16, d), "lm_head.weight": (16, d)}
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == want
    total = sum(p.numel() for p in model.parameters())  # tied tensors counted once
    assert total == {"ps-131k": 7_725_312, "ph-131k": 7_725_312, "ps-1k": 470_702}[variant]


def test_checkpoint_without_tied_duplicates_loads_strictly(tmp_path: Path) -> None:
    model, cfg = _model()
    state = {
        k: v.float()
        for k, v in model.float().state_dict().items()
        if ".mamba_rev.in_proj." not in k
        and ".mamba_rev.out_proj." not in k
        and k != "lm_head.lm_head.weight"
    }
    save_file(state, str(tmp_path / "model.safetensors"))
    fresh = CADUCEUS.build(cfg)
    CADUCEUS.load_state(fresh, tmp_path)
    for k, v in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[k], v), k
    layer = fresh.caduceus.backbone.layers[0].mixer.submodule
    assert layer.mamba_rev.in_proj.weight is layer.mamba_fwd.in_proj.weight  # still one tensor after loading


def test_untied_copies_in_a_checkpoint_are_refused(tmp_path: Path) -> None:
    model, cfg = _model()
    state = {k: v.float().clone() for k, v in model.state_dict().items()}
    state["caduceus.backbone.layers.1.mixer.submodule.mamba_rev.out_proj.weight"] += 1
    save_file(state, str(tmp_path / "model.safetensors"))
    with pytest.raises(ValueError, match="different values for tied weights"):
        CADUCEUS.load_state(CADUCEUS.build(cfg), tmp_path)


def test_unknown_ssm_key_is_named() -> None:
    cfg = CADUCEUS.tiny_config()
    with pytest.raises(ValueError, match=r"'d_stat'.*did you mean 'd_state'"):
        CADUCEUS.build({**cfg, "ssm_cfg": {**cfg["ssm_cfg"], "d_stat": 4}})


@pytest.mark.parametrize("rcps", [True, False])
def test_save_load_round_trip_is_bit_exact_in_published_layout(tmp_path: Path, rcps: bool) -> None:
    model, cfg = _model(rcps=rcps)
    model.float()
    CADUCEUS.save(model, cfg, tmp_path)
    keys = set(load_file(str(tmp_path / "model.safetensors")))
    assert not any(".mamba_rev.in_proj." in k or ".mamba_rev.out_proj." in k for k in keys)
    assert "lm_head.weight" not in keys and "lm_head.lm_head.weight" not in keys
    fresh = CADUCEUS.build(CADUCEUS.read_config(tmp_path))
    CADUCEUS.load_state(fresh, tmp_path)
    for k, v in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[k], v), k
    x = _ids()
    with torch.no_grad():
        assert torch.equal(fresh(x).logits, model(x).logits)


def test_lora_default_count_at_full_size() -> None:
    peft = pytest.importorskip("peft")
    model = CADUCEUS.build(CADUCEUS.published_config("ps-131k"))
    lora = peft.get_peft_model(
        model, peft.LoraConfig(r=8, lora_alpha=32, target_modules=list(CADUCEUS.lora_targets))
    )
    n = sum(p.numel() for name, p in lora.named_parameters() if "lora_" in name)
    assert n == 16 * (8 * (256 + 1024) + 8 * (512 + 256) + 2 * (8 * (512 + 48) + 8 * (16 + 512)))  # 540,672


def test_lora_on_tied_projections_merges_exactly() -> None:
    peft = pytest.importorskip("peft")
    model, _ = _model()
    model.float()
    x = _ids()
    lora = peft.get_peft_model(
        model, peft.LoraConfig(r=2, lora_alpha=4, target_modules=list(CADUCEUS.lora_targets))
    )
    with torch.no_grad():
        before = lora(x).logits
        for name, p in lora.named_parameters():
            if "lora_B" in name:
                p.normal_()
        adapted = lora(x).logits
        merged = lora.merge_and_unload()(x).logits
    assert not torch.allclose(adapted, before)
    torch.testing.assert_close(merged, adapted, rtol=1e-4, atol=1e-4)


def test_training_step_reaches_both_directions() -> None:
    model, _ = _model()
    model.float().train()
    x = _ids()
    loss = model(x, labels=x).loss
    loss.backward()
    mix = model.caduceus.backbone.layers[0].mixer.submodule
    assert mix.mamba_rev.conv1d.weight.grad.abs().sum() > 0 and mix.mamba_fwd.A_log.grad.abs().sum() > 0
