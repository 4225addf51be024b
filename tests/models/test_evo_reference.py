"""Evo-1 against the published StripedHyena code: stored reference outputs for a tiny random model.

How ``golden/evo.safetensors`` was produced (script kept outside the repo, in ``/work/scratch/ref_evo``):
- reference: ``togethercomputer/stripedhyena`` at commit 7e13f618027fea9625be1f2d2d94f9a361f6bd02
  (``stripedhyena/model.py``, ``engine.py``, ``layers.py``, ``cache.py``, ``generation.py``; the hub's
  ``modeling_hyena.py`` wraps this same ``StripedHyena`` as ``backbone``), attention from flash-attn v2.5.6
  ``flash_attn/modules/mha.py`` + ``flash_attn/layers/rotary.py`` run with ``use_flash_attn=False`` (its pure
  PyTorch softmax attention). Shims, none changing the math: flash-attn's triton ``apply_rotary`` kernel replaced
  by a PyTorch rotate-half of the same contract; all ``*_dtype`` config entries set to float32; CPU.
- model: our tiny config with hidden 16, 2 heads, layer 2 attention, scaled rotary (factor 4), seed 0, then
  D / FIR bias / norm scales / biases / embedding re-drawn so every parameter matters. Our ``state_dict`` was
  loaded into the reference with ``strict=True`` and no key conversion; the file stores it in the published
  layout (``backbone.`` prefix, tied ``unembed.weight`` omitted), as ``weight.*``.
- outputs: reference logits, final-normed hidden state and every block's output for ``input_ids`` (2, 24), and
  the reference ``Generator`` (cached_generation=True, top_k=1, i.e. greedy prefill + recurrent steps) for the
  first 10 tokens as prompt: 8 new ids and their logits. Measured max |ours - reference|: logits 8e-6 (scale 13).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from reference_golden import load_golden

from genomefactory.models.registry import get_family

GOLDEN = Path(__file__).parent / "golden" / "evo.safetensors"
FAM = get_family("evo")
ATOL = 2e-5  # float32 reference; FFT vs FFT and SDPA vs explicit softmax differ in the last bits


@pytest.fixture(scope="module")
def golden() -> tuple[torch.nn.Module, dict[str, torch.Tensor], dict[str, Any]]:
    return load_golden(GOLDEN, FAM)


def test_full_forward_matches_reference_logits_and_block_outputs(golden: Any) -> None:
    model, t, _ = golden
    with torch.no_grad():
        out = model(t["input_ids"], output_hidden_states=True)
    torch.testing.assert_close(out.logits, t["ref.logits"], atol=ATOL, rtol=1e-5)
    torch.testing.assert_close(out.last_hidden_state, t["ref.last_hidden_state"], atol=ATOL, rtol=1e-5)
    for i in range(len(model.blocks) - 1):  # the last block's output is only seen after the final norm
        torch.testing.assert_close(out.hidden_states[i + 1], t[f"ref.block_out.{i}"], atol=ATOL, rtol=1e-5)


def test_left_padded_batch_equals_reference_on_each_unpadded_row(golden: Any) -> None:
    """Row 1 keeps only its first 17 tokens; causal, so the reference logits of that prefix are its answer."""
    model, t, _ = golden
    ids, keep = t["input_ids"].clone(), 17
    mask = torch.ones_like(ids)
    ids[1] = torch.cat([torch.full((ids.shape[1] - keep,), 1), ids[1, :keep]])  # pad id 1, on the left
    mask[1, : ids.shape[1] - keep] = 0
    with torch.no_grad():
        logits = model(ids, attention_mask=mask).logits
    torch.testing.assert_close(logits[0], t["ref.logits"][0], atol=ATOL, rtol=1e-5)
    torch.testing.assert_close(logits[1, -keep:], t["ref.logits"][1, :keep], atol=ATOL, rtol=1e-5)


def test_prefill_and_recurrent_steps_match_reference_generator(golden: Any) -> None:
    model, t, meta = golden
    n = int(meta["prompt_length"])
    prompt, want_ids, want_logits = t["input_ids"][:, :n], t["ref.generated_ids"], t["ref.step_logits"]
    out = FAM.generate(model, prompt, want_ids.shape[1])
    assert torch.equal(out[:, n:], want_ids)
    logits, cache = model.prefill(prompt)
    steps = [logits[:, -1]] + [model.step(want_ids[:, i], cache) for i in range(want_ids.shape[1] - 1)]
    torch.testing.assert_close(torch.stack(steps, 1), want_logits, atol=ATOL, rtol=1e-5)


def test_byte_tokenizer_matches_reference_char_level_tokenizer() -> None:
    """Reference ``CharLevelTokenizer.tokenize``: the UTF-8 bytes, case kept, nothing added; eos 0, pad 1."""
    tok = FAM.tokenizer(None, FAM.tiny_config())
    for text in ("ACGT", "acgtNNnRYKM", "GATTACA-gattaca", "ACGU*"):
        assert tok(text)["input_ids"] == list(text.encode())
    assert (tok.eos_token_id, tok.pad_token_id) == (0, 1)
    batch = tok(["ACGT", "AC"], padding=True)
    assert batch["input_ids"][1] == [1, 1, 65, 67] and batch["attention_mask"][1] == [0, 0, 1, 1]
