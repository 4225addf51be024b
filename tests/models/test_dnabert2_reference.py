"""DNABERT-2 against outputs of the PUBLISHED reference code, stored in ``golden/dnabert2.safetensors``.

How the fixture was produced (scripts kept outside the repo, /work/scratch/ref_dnabert2/make_golden.py):

- Model: ``bert_layers.py`` + ``bert_padding.py`` + ``configuration_bert.py`` of the hub repo
  ``zhihan1996/DNABERT-2-117M`` at its author's last revision d064dec (2024-03-18; the hub history is mirrored in
  GitHub ``ashal-ali/CS224N_DNABERT2``), on transformers 5.24 / torch CPU. One patch, in ``configuration_bert.py``:
  default ``is_decoder=False`` and ``pad_token_id=None``, which transformers 4.x ``PretrainedConfig`` supplied and
  5.x does not (so, as on the hub, the word embeddings have no ``padding_idx``). triton is not installed, so
  ``flash_attn_qkvpacked_func`` is None and the published PyTorch attention path runs (scores + ALiBi + ``-10000``
  key-padding mask, unpadded tokens). The first upload (634202c1, 2023-06-26) gives the same forward outputs. Our
  model (the config in the metadata: 6 heads so the slopes
  take the non-power-of-two order the 12-head checkpoint uses; sequence length 24 > ``alibi_starting_size`` 16 so
  the reference rebuilds its ALiBi table; seed 0, every parameter moved by 0.1·N(0,1), q/k rows of ``Wqkv`` ×3)
  was loaded into the reference ``BertForMaskedLM`` with ``strict=True`` and no key conversion. Stored outputs
  are the reference's: embeddings, every layer (unpadded states re-padded with zeros), logits, the MLM loss and
  the gradient it gives the word embeddings (an [UNK] in the input), a batch of one without an attention mask,
  and the last hidden state in float64.
- Tokens: the published ``tokenizer.json`` through ``PreTrainedTokenizerFast`` with its ``tokenizer_config.json``
  (what ``AutoTokenizer`` builds). Only its layout is stored (no vocabulary), plus its ids on strings whose ids do
  not depend on the learned merges (single A/C/G/T separated by characters outside the vocabulary).
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

FAM = get_family("dnabert2")
GOLDEN = Path(__file__).parent / "golden" / "dnabert2.safetensors"
ATOL = 1e-5
Golden = tuple[dict[str, torch.Tensor], dict[str, Any]]


@pytest.fixture(scope="module")
def golden() -> Golden:
    with safe_open(str(GOLDEN), "pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not a mapping)
    return tensors, {k: json.loads(v) for k, v in meta.items() if k != "source"}


@pytest.fixture(scope="module")
def model(golden: Golden) -> torch.nn.Module:
    tensors, meta = golden
    m = FAM.build(meta["config"]).eval()
    weights = {k.removeprefix("weight."): v for k, v in tensors.items() if k.startswith("weight.")}
    m.load_state_dict(weights, strict=True)
    return m


def _inputs(t: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {
        "input_ids": t["input_ids"],
        "attention_mask": t["attention_mask"],
        "token_type_ids": t["token_type_ids"],
    }


def test_every_hidden_state_and_logits_equal_the_reference(golden: Golden, model: torch.nn.Module) -> None:
    t, meta = golden
    real = t["attention_mask"].bool()
    assert (~real).any() and (t["token_type_ids"] == 1).any()  # padding and a second segment are exercised
    with torch.no_grad():
        out = model(**_inputs(t), output_hidden_states=True)
    n = meta["config"]["num_hidden_layers"] + 1
    assert len(out.hidden_states) == n
    for i in range(n):  # the reference never computes padded positions inside the encoder
        torch.testing.assert_close(
            out.hidden_states[i][real], t[f"hidden_states.{i}"][real], atol=ATOL, rtol=0
        )
    # padded positions: exactly zero in the published last hidden state, and the head's output on zeros
    torch.testing.assert_close(out.hidden_states[-1], t["last_hidden_state"], atol=ATOL, rtol=0)
    assert (out.hidden_states[-1][~real] == 0).all()
    torch.testing.assert_close(out.logits, t["logits"], atol=ATOL, rtol=0)
    with torch.no_grad():
        alone = model(input_ids=t["input_ids"][:1, :20]).logits  # no attention mask at all
    torch.testing.assert_close(alone, t["nopad_logits"], atol=ATOL, rtol=0)


def test_mlm_loss_scores_only_positive_labels_as_published(golden: Golden, model: torch.nn.Module) -> None:
    t, _ = golden
    labels = t["labels"]
    assert (labels == 0).any() and (labels == -100).any()  # an [UNK] target that the published loss skips
    with torch.no_grad():
        loss = model(**_inputs(t), labels=labels).loss
    torch.testing.assert_close(loss.reshape(1), t["mlm_loss"], atol=ATOL, rtol=0)


def test_mlm_gradient_equals_the_reference(golden: Golden, model: torch.nn.Module) -> None:
    # through the whole backward pass and the tied decoder; the [UNK] row (id 0, in the input) must get its
    # gradient too, as the published config leaves pad_token_id unset (no padding_idx)
    t, _ = golden
    m = copy.deepcopy(model)
    m(**_inputs(t), labels=t["labels"]).loss.backward()
    grad = m.bert.embeddings.word_embeddings.weight.grad
    assert grad is not None and (t["input_ids"] == 0).any()
    assert t["grad.word_embeddings"][0].abs().sum() > 0
    torch.testing.assert_close(grad, t["grad.word_embeddings"], atol=ATOL, rtol=0)


def test_float64_forward_equals_the_reference_to_rounding(golden: Golden, model: torch.nn.Module) -> None:
    # float32 agreement (~1e-6) could hide a small systematic error; in float64 only rounding is left
    t, _ = golden
    m64 = copy.deepcopy(model).double()
    with torch.no_grad():
        got = m64.bert(**_inputs(t)).last_hidden_state
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, t["last_hidden_state_f64"], atol=1e-10, rtol=0)


def test_packed_path_equals_the_reference(golden: Golden, model: torch.nn.Module) -> None:
    t, _ = golden
    real = t["attention_mask"].bool()
    model.bert.attn_path = "packed"
    try:
        with torch.no_grad():
            logits = model(**_inputs(t)).logits
    finally:
        model.bert.attn_path = "padded"
    torch.testing.assert_close(logits[real], t["logits"][real], atol=ATOL, rtol=0)


def test_head_layernorm_eps_is_fixed_as_published() -> None:
    # bert_layers.BertPredictionHeadTransform hard-codes eps=1e-12, whatever layer_norm_eps the config holds
    model = FAM.build({**FAM.tiny_config(), "layer_norm_eps": 1e-5})
    assert model.cls.predictions.transform.LayerNorm.eps == 1e-12
    assert model.bert.embeddings.LayerNorm.eps == 1e-5


def test_tiny_tokenizer_has_the_published_layout(golden: Golden) -> None:
    _, meta = golden
    tok = FAM.tokenizer(None, FAM.tiny_config())
    layout = json.loads(tok.backend_tokenizer.to_str())
    want = meta["tokenizer_layout"]
    assert {a["content"]: a["id"] for a in layout["added_tokens"]} == want["added_tokens"]
    for key in ("normalizer", "pre_tokenizer", "post_processor", "decoder"):
        assert layout[key] == want[key], key
    assert {k: layout["model"][k] for k in want["model"]} == want["model"]
    assert sorted(k for k in tok.get_vocab() if len(k) == 1) == want["single_characters"]


def test_token_ids_equal_the_published_tokenizer(golden: Golden) -> None:
    _, meta = golden
    tok = FAM.tokenizer(None, FAM.tiny_config())
    assert {s: tok(s)["input_ids"] for s in meta["tokens"]} == meta["tokens"]
    pair = tok("AnC", "G", return_token_type_ids=True)
    assert {k: pair[k] for k in ("input_ids", "token_type_ids")} == meta["pair"]
    batch = tok(["A", "ANC-T"], padding=True)
    assert tok.padding_side == meta["batch"]["padding_side"]
    assert batch["input_ids"] == meta["batch"]["input_ids"]
    assert batch["attention_mask"] == meta["batch"]["attention_mask"]
    assert {k: getattr(tok, k + "_token_id") for k in meta["special"]} == meta["special"]
