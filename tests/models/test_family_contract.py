"""The declared ``ModelFamily`` members hold for every registered family (tiny random models, CPU).

Each declaration is checked against what the model does: ``is_decoder`` against causality, ``rc_equivariant``
against embeddings of a sequence and its reverse complement, ``tokenizer_kind``/``kmer`` against the tokenizer,
``mask_token`` against the vocabulary, ``block_types`` against the module tree, ``generate`` against decoding.
"""

from __future__ import annotations

import pytest
import torch

from genomefactory.models import ModelConfig, load_backbone
from genomefactory.models.pooling import pool
from genomefactory.models.registry import Backbone, all_families, get_family
from genomefactory.sequence import reverse_complement

torch.set_num_threads(1)
FAMILIES = [f.name for f in all_families()]
SEQ = "ACGTTGCAAGGCTTAACCGTAGCATCGATCGGATCCATGCAAGT"


def _tiny(name: str) -> Backbone:
    torch.manual_seed(0)
    bb = load_backbone(ModelConfig(family=name, init="tiny"))
    bb.model.eval()
    return bb


def _hidden(bb: Backbone, ids: list[int]) -> torch.Tensor:
    t = torch.tensor([ids])
    with torch.no_grad():
        return bb.family.encode(bb.base, t, torch.ones_like(t)).last_hidden_state[0]  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", FAMILIES)
def test_is_decoder_means_causal(name: str) -> None:
    """A decoder's states at positions before t ignore token t; an encoder's do not (bidirectional)."""
    bb = _tiny(name)
    ids = bb.tokenizer(SEQ, add_special_tokens=False)["input_ids"]
    other = bb.tokenizer("T" if SEQ[-1] != "T" else "A", add_special_tokens=False)["input_ids"]
    changed = [*ids[:-1], other[-1]]
    a, b = _hidden(bb, ids), _hidden(bb, changed)
    same_prefix = torch.allclose(a[:-1], b[:-1], atol=1e-4)  # FFT convolutions round at ~1e-6
    assert same_prefix == bb.family.is_decoder(bb.config)
    assert (bb.family.kind == "decoder") == bb.family.is_decoder(bb.config) or bb.family.supports_remote_code


@pytest.mark.parametrize("name", FAMILIES)
def test_rc_equivariant_families_embed_a_sequence_and_its_reverse_complement_alike(name: str) -> None:
    bb = _tiny(name)
    fwd = bb.tokenizer(SEQ, add_special_tokens=False)["input_ids"]
    rev = bb.tokenizer(reverse_complement(SEQ), add_special_tokens=False)["input_ids"]
    a = pool(_hidden(bb, fwd)[None], None, "mean")
    b = pool(_hidden(bb, rev)[None], None, "mean")
    assert torch.allclose(a, b, atol=1e-5) == bb.family.rc_equivariant(bb.config)


@pytest.mark.parametrize("name", FAMILIES)
def test_tokenizer_kind_says_how_tokens_map_to_bases(name: str) -> None:
    fam = get_family(name)
    bb = _tiny(name)
    seq = SEQ[:42]  # a multiple of 6
    tokens = bb.tokenizer.convert_ids_to_tokens(bb.tokenizer(seq, add_special_tokens=False)["input_ids"])
    assert (fam.kmer is not None) == (fam.tokenizer_kind == "kmer")
    if fam.tokenizer_kind == "char":
        assert len(tokens) == len(seq)
    elif fam.tokenizer_kind == "kmer":
        assert tokens == [seq[i : i + fam.kmer] for i in range(0, len(seq), fam.kmer)]  # type: ignore[operator]
    elif fam.tokenizer_kind == "bpe":
        assert "".join(tokens) == seq and len(tokens) < len(seq)


@pytest.mark.parametrize("name", FAMILIES)
def test_mask_token_is_the_tokenizers_and_the_model_predicts_it(name: str) -> None:
    fam = get_family(name)
    if fam.mask_token is None:
        pytest.skip(f"{name} declares no masked-LM objective")
    bb = _tiny(name)
    assert bb.tokenizer.mask_token == fam.mask_token
    assert not fam.is_decoder(bb.config)
    ids = bb.tokenizer(SEQ)["input_ids"]
    pos = 3
    ids[pos] = bb.tokenizer.mask_token_id
    with torch.no_grad():
        logits = bb.model(input_ids=torch.tensor([ids])).logits
    # (NT v1's head has no rows for <eos>/<bos>, which are never fed)
    assert logits.shape[1] == len(ids) and logits.shape[-1] > bb.tokenizer.mask_token_id


@pytest.mark.parametrize("name", FAMILIES)
def test_block_types_are_the_classes_of_the_repeated_blocks(name: str) -> None:
    bb = _tiny(name)
    blocks = bb.family.blocks(bb.base)
    types = bb.family.block_types(bb.base)
    assert blocks and set(types) == {type(b) for b in blocks} and len(types) == len(set(types))
    owned = {id(m) for m in bb.base.modules()}
    assert all(id(b) in owned for b in blocks)


@pytest.mark.parametrize("name", FAMILIES)
def test_generate_is_the_familys_own_loop_or_none(name: str) -> None:
    bb = _tiny(name)
    ids = torch.tensor([bb.tokenizer(SEQ[:10], add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        out = bb.family.generate(bb.model, ids, 4)
    if out is None:  # transformers' generate, or no generation at all
        assert not bb.family.is_decoder(bb.config) or callable(getattr(bb.model, "generate", None))
    else:
        assert bb.family.is_decoder(bb.config)
        assert out.shape == (1, ids.shape[1] + 4) and torch.equal(out[:, : ids.shape[1]], ids)


def test_learning_rate_defaults() -> None:
    for fam in all_families():
        assert fam.default_learning_rate("pretrained") == fam.learning_rate
        assert fam.default_learning_rate("tiny") == fam.default_learning_rate("random")
        assert fam.default_learning_rate("random") == fam.learning_rate_from_scratch > 0
    assert get_family("evo").hub_revision == "1.1_fix" and get_family("dnabert2").hub_revision is None
    assert [f.name for f in all_families() if f.supports_remote_code] == ["hf_auto"]
