"""HyenaDNA against the published ``-hf`` modeling code: stored reference outputs for a tiny random model.

How ``golden/hyenadna.safetensors`` was produced (script kept outside the repo, ``/work/scratch/ref_hyenadna``):
- reference: the hub's ``modeling_hyena.py`` + ``configuration_hyena.py`` of ``LongSafari/hyenadna-*-hf`` (the
  hub is unreachable; taken from the verbatim copy in GitHub ``shubhamtkr/checkpoint-62500`` at commit
  22f96459d32d1b300fc75b225c53495e7a96ec2b, checked line by line against a second GitHub copy). One patch, not
  changing the math: ``pos_emb.z`` is an ``nn.Parameter`` (as in the second copy) instead of a buffer, so
  gradients could be compared too. Run unmodified otherwise with transformers 5.24, float32, CPU.
  Tokenizer: ``tokenization_hyena.py``'s ``CharacterTokenizer`` (characters ``ACGTN``) rebuilt from its GitHub
  copies (``list(text)``, ids + ``[SEP]``, pair ``A [SEP] B [SEP]``, left padding).
- model: ``tiny_config()`` with ``max_seq_len`` 66 and ``d_inner`` 64, seed 0, then every parameter except
  ``pos_emb.z`` perturbed so that biases, norm affines, ``D`` and ``freq`` all matter. Our ``state_dict`` was
  loaded into the reference with ``strict=True`` and no key conversion; the file stores it in the published
  checkpoint layout (shared ``freq`` under slot 1 only) as ``weight.*``.
- outputs: reference logits, all ``n_layer + 2`` hidden states, the loss, the logits of row 1's first 17 tokens
  alone, 8 greedy tokens (full re-forward: the reference has no cache) after a 10-token prompt, and tokenizer ids.
  Measured max |ours - reference|: logits 6e-7 (scale 1.9), hidden states 1.1e-6, gradients 1.9e-6.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from reference_golden import load_golden

from genomefactory.models.registry import get_family

GOLDEN = Path(__file__).parent / "golden" / "hyenadna.safetensors"
FAM = get_family("hyenadna")
ATOL = 1e-5


@pytest.fixture(scope="module")
def golden() -> tuple[torch.nn.Module, dict[str, torch.Tensor], dict[str, Any]]:
    return load_golden(GOLDEN, FAM)


def _close(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a, b, atol=ATOL, rtol=1e-5)


def test_logits_and_hidden_states_match_reference(golden: Any) -> None:
    model, t, _ = golden
    n_layer = len(FAM.blocks(FAM.base(model)))
    with torch.no_grad():
        out = model(t["input_ids"], output_hidden_states=True)
        last = FAM.base(model)(input_ids=t["input_ids"]).last_hidden_state
    _close(out.logits, t["ref.logits"])
    ref_states = [t[f"ref.hidden_states.{i}"] for i in range(n_layer + 2)]
    _close(last, ref_states[-1])
    # ours: embeddings, blocks 1..n-1, final-normed (n+1); the reference adds the raw last block before ln_f
    assert len(out.hidden_states) == n_layer + 1
    for i in range(n_layer):
        _close(out.hidden_states[i], ref_states[i])
    _close(out.hidden_states[-1], ref_states[-1])


def test_training_mode_forward_and_loss_match_reference(golden: Any) -> None:
    """The published forward applies no embedding dropout (hyena_dropout is 0): train mode = eval mode."""
    model, t, _ = golden
    model.train()
    try:
        out = model(t["input_ids"], labels=t["labels"])
    finally:
        model.eval()
    _close(out.logits.detach(), t["ref.logits"])
    _close(out.loss.detach().reshape(1), t["ref.loss"])


def test_left_padded_row_equals_reference_on_the_unpadded_prefix(golden: Any) -> None:
    model, t, meta = golden
    ids, keep = t["input_ids"].clone(), int(meta["keep"])
    mask = torch.ones_like(ids)
    ids[1] = torch.cat([torch.full((ids.shape[1] - keep,), 4), ids[1, :keep]])  # [PAD] = 4, on the left
    mask[1, : ids.shape[1] - keep] = 0
    with torch.no_grad():
        logits = model(ids, attention_mask=mask).logits
    _close(logits[0], t["ref.logits"][0])
    _close(logits[1, -keep:], t["ref.prefix_logits"])


def test_greedy_generation_matches_reference(golden: Any) -> None:
    model, t, meta = golden
    n, want = int(meta["prompt_length"]), t["ref.generated_ids"]
    out = FAM.generate(model, t["input_ids"][:, :n], want.shape[1])
    assert torch.equal(out[:, n:], want)


def test_tokenizer_ids_match_reference_character_tokenizer(golden: Any) -> None:
    _, _, meta = golden
    ref = json.loads(meta["tokenizer"])
    tok = FAM.tokenizer(None, json.loads(meta["config"]))
    for text, ids in ref["single"].items():  # lowercase and non-ACGTN characters are [UNK] (6), case kept
        assert tok(text)["input_ids"] == ids, text
    assert tok("ACGTN", "GG")["input_ids"] == ref["pair"]
    assert tok(["ACGTN", "A"], padding=True)["input_ids"] == ref["batch"]
    assert (tok.pad_token_id, tok.eos_token_id, tok.sep_token_id) == (ref["pad"], ref["eos"], ref["sep"])


def test_short_filter_width_other_than_three_is_rejected() -> None:
    with pytest.raises(ValueError, match="short_filter_order=4"):
        FAM.build({**FAM.tiny_config(), "short_filter_order": 4})
