"""Nucleotide Transformer v2 against outputs of the PUBLISHED reference code, stored in ``golden/nt_v2.safetensors``.

How the fixture was produced (scripts kept outside the repo, /work/scratch/ref_nt_v2/make_golden.py):

- Model: the hub repos' ``modeling_esm.py`` is transformers' ESM file with the feed-forward replaced
  (``EsmIntermediate``: H→2I with ``bias=add_bias_fnn``, ``SiLU(x1) * x2``; ``EsmOutput``: ``bias=add_bias_fnn``).
  The reference was rebuilt from transformers **4.32.1** ``models/esm/modeling_esm.py`` with exactly those edits
  (as found in two public NT-v2-derived copies) and ``add_bias_fnn`` added to its config; the only other patch
  moves the ``find_pruneable_heads_and_indices`` import to ``transformers.pytorch_utils``. It ran on transformers
  4.57.6, CPU, in float32 and (last hidden state only) float64. Our tiny model (seed 0; every parameter, the pad
  embedding row included, moved by 0.1·N(0,1), then q/k weights ×3 so that attention is sharp and rotary
  positions matter) was loaded into it with ``strict=True`` and no key conversion; the stored outputs are the
  reference's.
- Tokens: transformers 4.57.6 ``EsmTokenizer`` (``eos_token=None``, as the NT hub tokenizers have no eos) on a
  ``vocab.txt`` written from InstaDeep's ``compute_tokens_to_ids_v2(6)`` (instadeepai/nucleotide-transformer
  2dc37b8), checked against InstaDeep's ``FixedSizeNucleotidesKmersTokenizer`` on every A/C/G/T/N string.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors import safe_open

from genomefactory.models import get_family

FAM = get_family("nucleotide_transformer_v2")
GOLDEN = Path(__file__).parent / "golden" / "nt_v2.safetensors"
ATOL = 1e-5


@pytest.fixture(scope="module")
def golden() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    with safe_open(str(GOLDEN), "pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not a mapping)
    return tensors, {k: json.loads(v) for k, v in meta.items() if k != "source"}


@pytest.fixture(scope="module")
def model(golden: tuple[dict[str, torch.Tensor], dict[str, Any]]) -> torch.nn.Module:
    tensors, meta = golden
    m = FAM.build(meta["config"]).eval()
    weights = {k.removeprefix("weight."): v for k, v in tensors.items() if k.startswith("weight.")}
    m.load_state_dict(weights, strict=True)
    return m


def test_logits_and_every_hidden_state_equal_the_reference(golden: Any, model: torch.nn.Module) -> None:
    t, meta = golden
    ids, mask = t["input_ids"], t["attention_mask"]
    assert (mask == 0).any() and (ids[mask == 0] == 1).all()  # the batch is right-padded with <pad>
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    n = meta["config"]["num_hidden_layers"] + 1
    assert len(out.hidden_states) == n
    for i in range(n):  # padded positions included: the reference's values there are deterministic too
        torch.testing.assert_close(out.hidden_states[i], t[f"hidden_states.{i}"], atol=ATOL, rtol=0)
    torch.testing.assert_close(out.logits, t["logits"], atol=ATOL, rtol=0)
    with torch.no_grad():
        alone = model(input_ids=ids[:1, :-3]).logits  # no attention mask at all
    torch.testing.assert_close(alone, t["nopad_logits"], atol=ATOL, rtol=0)


def test_float64_forward_equals_the_reference_to_rounding(golden: Any, model: torch.nn.Module) -> None:
    # float32 agreement (~1e-6) could hide a small systematic error; in float64 only rounding is left
    t, _ = golden
    m64 = copy.deepcopy(model).double()
    with torch.no_grad():
        got = m64.esm(t["input_ids"], t["attention_mask"]).last_hidden_state
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, t["last_hidden_state_f64"], atol=1e-10, rtol=0)


def test_packed_path_equals_the_reference(golden: Any, model: torch.nn.Module) -> None:
    t, _ = golden
    real = t["attention_mask"].bool()
    model.esm.attn_path = "packed"
    try:
        with torch.no_grad():
            logits = model(input_ids=t["input_ids"], attention_mask=t["attention_mask"]).logits
    finally:
        model.esm.attn_path = "padded"
    torch.testing.assert_close(logits[real], t["logits"][real], atol=ATOL, rtol=0)


def test_token_ids_equal_the_published_tokenizer(golden: Any) -> None:
    _, meta = golden
    tok = FAM.tokenizer(None, FAM.published_config("50m"))
    got = {seq: tok(seq)["input_ids"] for seq in meta["tokens"]}
    assert got == meta["tokens"]
    batch = tok(meta["batch"]["sequences"], padding=True)
    assert batch["input_ids"] == meta["batch"]["input_ids"]
    assert batch["attention_mask"] == meta["batch"]["attention_mask"]
    assert {k: getattr(tok, k + "_token_id") for k in meta["special"]} == meta["special"]
