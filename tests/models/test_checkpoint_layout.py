"""Checkpoint directories in the published layouts, and the paper's Table 5 variant names.

Weight files: ``model.safetensors`` / ``pytorch_model.bin``, their sharded forms with an ``*.index.json``, and
directories that also hold unrelated weight files (a LoRA ``adapter_model.safetensors``) which must not be read.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from genomefactory.models.loading import ModelConfig, load_backbone, load_state_dict_file, resolve_variant
from genomefactory.models.registry import get_family

torch.set_num_threads(1)

# the paper's Table 5 (model, variants) as printed
TABLE5 = {
    "hyenadna": {
        "1K": "tiny-1k",
        "16K": "tiny-16k",
        "32K": "small-32k",
        "160K": "medium-160k",
        "450K": "medium-450k",
        "1M": "large-1m",
    },
    "dnabert2": {"117M": "117M"},
    "nucleotide_transformer_v2": {"50M": "50m", "100M": "100m", "250M": "250m", "500M": "500m"},
    "evo": {"8K": "8k", "131K": "131k"},
}


@pytest.mark.parametrize("family", sorted(TABLE5))
def test_table5_variant_names_resolve_to_published_hub_ids(family: str) -> None:
    fam = get_family(family)
    for table_name, key in TABLE5[family].items():
        assert resolve_variant(fam, table_name) == key
        assert fam.variants[key]  # a hub id to fetch


def test_ambiguous_or_unknown_variant_names_are_errors_listing_the_choices() -> None:
    with pytest.raises(ValueError, match=r"'131K' .*ambiguous.*ph-131k, ps-131k"):
        resolve_variant(get_family("caduceus"), "131K")
    with pytest.raises(ValueError, match=r"'500M' .*ambiguous.*500m-human-ref, 500m-1000g"):
        resolve_variant(get_family("nucleotide_transformer"), "500M")
    with pytest.raises(ValueError, match=r"no variant '1B'; variants: 50m, 100m, 250m, 500m"):
        resolve_variant(get_family("nucleotide_transformer_v2"), "1B")


def test_random_init_takes_a_table5_name() -> None:
    fam = get_family("hyenadna")
    cfg = ModelConfig(family="hyenadna", variant="1K", init="random")
    with torch.device("meta"):
        backbone = load_backbone(cfg)
    assert backbone.variant == "tiny-1k"
    assert backbone.config == fam.published_config("tiny-1k")


def _saved(tmp_path: Path, family: str = "nucleotide_transformer_v2") -> tuple[Path, dict[str, torch.Tensor]]:
    fam = get_family(family)
    cfg = fam.tiny_config()
    torch.manual_seed(0)
    model = fam.build(cfg)
    directory = tmp_path / "ckpt"
    fam.save(model, cfg, directory)
    return directory, {k: v.clone() for k, v in model.state_dict().items()}


def _shard(directory: Path, ext: str) -> None:
    """Rewrite the single weight file as two shards + index, the way save_pretrained shards."""
    state = load_state_dict_file(directory)
    (directory / "model.safetensors").unlink()
    keys = sorted(state)
    stem = "model" if ext == "safetensors" else "pytorch_model"
    names = [f"{stem}-0000{i}-of-00002.{ext}" for i in (1, 2)]
    parts = [keys[: len(keys) // 2], keys[len(keys) // 2 :]]
    for name, part in zip(names, parts, strict=True):
        tensors = {k: state[k].contiguous() for k in part}
        if ext == "safetensors":
            save_file(tensors, str(directory / name), metadata={"format": "pt"})
        else:
            torch.save(tensors, directory / name)
    weight_map = {k: name for name, part in zip(names, parts, strict=True) for k in part}
    (directory / f"{stem}.{ext}.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": weight_map})
    )


@pytest.mark.parametrize("ext", ["safetensors", "bin"])
@pytest.mark.parametrize("family", ["nucleotide_transformer_v2", "evo"])
def test_sharded_checkpoints_load_bit_exact(tmp_path: Path, ext: str, family: str) -> None:
    directory, want = _saved(tmp_path, family)
    _shard(directory, ext)
    backbone = load_backbone(ModelConfig(family=family, path=str(directory)))
    got = backbone.model.state_dict()
    assert set(got) == set(want)
    assert all(torch.equal(got[k], v) for k, v in want.items())


def test_unrelated_weight_files_beside_the_checkpoint_are_not_read(tmp_path: Path) -> None:
    directory, want = _saved(tmp_path)
    save_file({"base_model.lora_A.weight": torch.zeros(2, 2)}, str(directory / "adapter_model.safetensors"))
    backbone = load_backbone(ModelConfig(family="nucleotide_transformer_v2", path=str(directory)))
    assert all(torch.equal(backbone.model.state_dict()[k], v) for k, v in want.items())


def test_safetensors_is_preferred_over_pytorch_model_bin(tmp_path: Path) -> None:
    directory, want = _saved(tmp_path)
    torch.save({k: torch.zeros_like(v) for k, v in want.items()}, directory / "pytorch_model.bin")
    state = load_state_dict_file(directory)
    assert all(torch.equal(state[k], v) for k, v in want.items())


def test_index_naming_a_missing_shard_is_a_clear_error(tmp_path: Path) -> None:
    directory, _ = _saved(tmp_path)
    _shard(directory, "safetensors")
    (directory / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(
        FileNotFoundError, match=r"model\.safetensors\.index\.json lists shards .*model-00002"
    ):
        load_state_dict_file(directory)


def test_tensor_repeated_across_shards_is_an_error(tmp_path: Path) -> None:
    directory, want = _saved(tmp_path)
    _shard(directory, "safetensors")
    key = sorted(want)[0]
    save_file(
        {key: want[key].contiguous(), "esm.extra": torch.zeros(1)},
        str(directory / "model-00002-of-00002.safetensors"),
    )
    with pytest.raises(ValueError, match=rf"repeats tensors .*{key}"):
        load_state_dict_file(directory)


def test_directory_without_weights_says_which_files_it_expects(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match=r"expected model\.safetensors, pytorch_model\.bin"):
        load_state_dict_file(tmp_path)
