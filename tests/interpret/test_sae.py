"""SAE: recovers a planted sparse dictionary; constraints, metrics and checkpoint round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from genomefactory.interpret.config import SAEConfig
from genomefactory.interpret.sae import SparseAutoencoder
from genomefactory.interpret.train_sae import train_sae


def _planted(
    n: int = 6000, d: int = 24, atoms: int = 48, active: int = 3
) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    dictionary = torch.randn(d, atoms, generator=g)
    dictionary /= dictionary.norm(dim=0, keepdim=True)
    codes = torch.zeros(n, atoms)
    idx = torch.stack([torch.randperm(atoms, generator=g)[:active] for _ in range(n)])
    codes.scatter_(1, idx, 0.5 + torch.rand(n, active, generator=g))
    return codes @ dictionary.t() + 2.0, dictionary  # an offset the normalisation must remove


def _recovery(sae: SparseAutoencoder, dictionary: torch.Tensor) -> torch.Tensor:
    cos = dictionary.t() @ sae.W_dec.detach()  # (atoms, latents); decoder columns are unit norm
    return cos.max(dim=1).values


@pytest.mark.parametrize(("activation", "extra"), [("topk", {"k": 3}), ("relu", {"l1_coeff": 3e-2})])
def test_recovers_planted_dictionary(activation: str, extra: dict[str, float]) -> None:
    x, dictionary = _planted()
    cfg = SAEConfig(d_hidden=96, activation=activation, aux_k=32, dead_steps=50, **extra)  # type: ignore[arg-type]
    sae, m = train_sae(x, cfg, steps=600, batch_size=256, lr=5e-3)
    best = _recovery(sae, dictionary)
    assert float(best.mean()) > 0.9 and float((best > 0.8).float().mean()) > 0.85, best
    assert m["fve"] > 0.8
    torch.testing.assert_close(sae.W_dec.norm(dim=0), torch.ones(96), atol=1e-5, rtol=0)
    if activation == "topk":
        assert m["mean_l0"] <= 3.0
    random_sae = SparseAutoencoder(cfg.model_copy(update={"d_model": 24}))
    assert float(_recovery(random_sae, dictionary).mean()) < 0.7  # the check is not trivially met


def test_checkpoint_round_trip_and_width_check(tmp_path: Path) -> None:
    x, _ = _planted(n=500)
    sae, _ = train_sae(x, SAEConfig(d_hidden=32, k=4), steps=20)
    loaded = SparseAutoencoder.load(sae.save(tmp_path / "sae"))
    torch.testing.assert_close(loaded.encode(x[:10]), sae.encode(x[:10]))
    with pytest.raises(ValueError, match="d_model=7"):
        train_sae(x, SAEConfig(d_model=7, d_hidden=32), steps=1)
    with pytest.raises(FileNotFoundError, match="not an SAE checkpoint"):
        SparseAutoencoder.load(tmp_path)
