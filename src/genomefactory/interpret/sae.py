"""Sparse auto-encoder over model embeddings (TopK or ReLU + L1).

Shapes: inputs (batch, d_model); latents (batch, d_hidden). Convention: ``x̂ = W_dec z + b_dec`` with ``W_dec``
(d_model, d_hidden) whose columns (the dictionary atoms) are kept at unit norm, so a latent's value is the size
of its atom in the input. Inputs are normalised first (``(x - mean) / scale``, scale such that the mean squared
norm is ``d_model``); reconstructions are mapped back, so ``forward`` works in the caller's units.

Saved as ``sae.safetensors`` (weights and normalisation) + ``sae_config.json`` (:class:`SAEConfig`).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import Tensor, nn

from ..errors import DataError, UserFileNotFoundError
from ..io import atomic_write_text
from .config import SAEConfig

__all__ = ["SparseAutoencoder"]


class SparseAutoencoder(nn.Module):
    input_mean: Tensor
    input_scale: Tensor

    def __init__(self, cfg: SAEConfig) -> None:
        super().__init__()
        if cfg.d_model is None:
            raise DataError("SAEConfig.d_model must be set to build an SAE")
        if cfg.activation == "topk" and cfg.k > cfg.d_hidden:
            raise DataError(f"sae.k={cfg.k} exceeds sae.d_hidden={cfg.d_hidden}")
        self.cfg = cfg
        d, h = cfg.d_model, cfg.d_hidden
        w = torch.randn(d, h)
        w = w / w.norm(dim=0, keepdim=True)
        self.W_dec = nn.Parameter(w)
        self.W_enc = nn.Parameter(w.clone())  # tied initialisation: each latent starts reading its own atom
        self.b_enc = nn.Parameter(torch.zeros(h))
        self.b_dec = nn.Parameter(torch.zeros(d))
        self.register_buffer("input_mean", torch.zeros(d))
        self.register_buffer("input_scale", torch.ones(()))

    # -- normalisation ---------------------------------------------------------------------------------
    @torch.no_grad()
    def fit_normalization(self, x: Tensor) -> None:
        if not self.cfg.normalize:
            return
        mean = x.mean(0)
        self.input_mean.copy_(mean)
        msq = (x - mean).pow(2).sum(-1).mean()
        self.input_scale.copy_((msq / x.shape[1]).sqrt().clamp(min=1e-8))

    def normalize(self, x: Tensor) -> Tensor:
        return (x - self.input_mean) / self.input_scale

    def denormalize(self, xn: Tensor) -> Tensor:
        return xn * self.input_scale + self.input_mean

    # -- encode / decode -------------------------------------------------------------------------------
    def pre_activation(self, xn: Tensor) -> Tensor:
        return (xn - self.b_dec) @ self.W_enc + self.b_enc

    def activate(self, pre: Tensor) -> Tensor:
        if self.cfg.activation == "relu":
            return torch.relu(pre)
        top = torch.topk(pre, self.cfg.k, dim=-1)
        return torch.zeros_like(pre).scatter(-1, top.indices, torch.relu(top.values))

    def encode(self, x: Tensor) -> Tensor:
        """Latents (batch, d_hidden) of raw inputs (batch, d_model)."""
        return self.activate(self.pre_activation(self.normalize(x)))

    def decode_normalized(self, z: Tensor) -> Tensor:
        return z @ self.W_dec.t() + self.b_dec

    def topk_sparse(self, pre: Tensor) -> tuple[Tensor, Tensor]:
        """TopK latents as (indices, values), each (batch, k); values are ReLU'd, so some may be 0."""
        top = torch.topk(pre, self.cfg.k, dim=-1)
        return top.indices, torch.relu(top.values)

    def decode_sparse(self, indices: Tensor, values: Tensor) -> Tensor:
        """``decode_normalized`` of the latents given as (indices, values): a sum over k atoms per row
        (``embedding_bag``), the same result as the dense product at k/d_hidden of its cost, with gradients."""
        atoms = self.W_dec.t().contiguous()
        return nn.functional.embedding_bag(indices, atoms, per_sample_weights=values, mode="sum") + self.b_dec

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(reconstruction in input units, latents)."""
        z = self.encode(x)
        return self.denormalize(self.decode_normalized(z)), z

    # -- constraints -----------------------------------------------------------------------------------
    @torch.no_grad()
    def normalize_decoder(self) -> None:
        self.W_dec.div_(self.W_dec.norm(dim=0, keepdim=True).clamp(min=1e-8))

    @torch.no_grad()
    def project_decoder_grad(self) -> None:
        """Remove the gradient component along each atom: with unit-norm columns it would only change the norm."""
        if self.W_dec.grad is None:
            return
        g = self.W_dec.grad
        g.sub_(self.W_dec * (g * self.W_dec).sum(0, keepdim=True))

    # -- persistence -----------------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        from ..models.weights import save_state_dict

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        save_state_dict(self.state_dict(), d / "sae.safetensors")
        atomic_write_text(d / "sae_config.json", json.dumps(self.cfg.model_dump(), indent=2) + "\n")
        return d

    @classmethod
    def load(cls, directory: str | Path) -> SparseAutoencoder:
        from safetensors.torch import load_file

        from ..config import validate_dict
        from ..models.weights import strict_load

        d = Path(directory)
        for name in ("sae_config.json", "sae.safetensors"):
            if not (d / name).is_file():
                raise UserFileNotFoundError(
                    f"{d} is not an SAE checkpoint (no {name}); train one with `sae_train`"
                )
        cfg = validate_dict(
            SAEConfig, json.loads((d / "sae_config.json").read_text()), str(d / "sae_config.json")
        )
        sae = cls(cfg)
        strict_load(sae, load_file(str(d / "sae.safetensors")), where=str(d))
        return sae.eval()
