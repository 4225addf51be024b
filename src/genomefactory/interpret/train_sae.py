"""Training a sparse auto-encoder (``genomefactory-cli sae_train``) and the measures the field reports.

Loss (in normalised input units): mean squared reconstruction error, plus ``l1_coeff · Σ|z|`` for the ReLU
variant, plus the auxiliary loss of Gao et al. (2024): the residual ``x - x̂`` is reconstructed from the ``aux_k``
largest pre-activations of *dead* latents (no firing for ``dead_steps`` steps), weighted by ``aux_coeff``, so dead
latents get gradient and can revive. After every step the decoder columns are renormalised to unit norm.

Measures (on all training vectors, raw units): ``mse`` (mean squared error per element), ``fve`` (fraction of
variance explained, ``1 - Σ‖x - x̂‖² / Σ‖x - x̄‖²``), ``mean_l0`` (active latents per input) and
``dead_fraction`` (latents that never fire on the data).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import DataError
from ..io import atomic_write_json, check_output_dir, write_manifest
from ..models.loading import default_device
from .config import SAEConfig, SAETrainConfig
from .sae import SparseAutoencoder

__all__ = ["SAETrainResult", "evaluate_sae", "run_sae_train", "train_sae", "training_vectors"]


@dataclass
class SAETrainResult:
    output: Path
    metrics: dict[str, float]
    seconds: float

    def summary(self) -> str:
        m = self.metrics
        return (
            f"SAE -> {self.output}: FVE {m['fve']:.3f}, MSE {m['mse']:.4g}, mean L0 {m['mean_l0']:.1f}, "
            f"dead {m['dead_fraction']:.1%}, {m['steps_per_s']:.0f} steps/s"
        )


def _aux_loss(
    sae: SparseAutoencoder, xn: torch.Tensor, xhat: torch.Tensor, pre: torch.Tensor, dead: torch.Tensor
) -> torch.Tensor:
    n_dead = int(dead.sum())
    if n_dead == 0 or sae.cfg.aux_k == 0:
        return xn.new_zeros(())
    residual = (xn - xhat).detach()
    masked = pre.masked_fill(~dead, float("-inf"))
    top = torch.topk(masked, min(sae.cfg.aux_k, n_dead), dim=-1)
    z_aux = torch.zeros_like(pre).scatter(-1, top.indices, torch.relu(top.values))
    return (z_aux @ sae.W_dec.t() - residual).pow(2).mean()


def train_sae(
    x: torch.Tensor,
    cfg: SAEConfig,
    steps: int,
    batch_size: int = 256,
    lr: float = 1e-3,
    seed: int = 0,
    device: torch.device | None = None,
) -> tuple[SparseAutoencoder, dict[str, float]]:
    """Train on (n, d_model) vectors; returns the SAE (on the CPU, eval mode) and its measures."""
    if x.dim() != 2 or x.shape[0] < 2:
        raise DataError(f"SAE training needs (n >= 2, d_model) vectors, got shape {tuple(x.shape)}")
    if cfg.d_model is not None and cfg.d_model != x.shape[1]:
        raise DataError(
            f"sae.d_model={cfg.d_model} but the embeddings have width {x.shape[1]}; "
            "remove d_model (it is read from the embeddings) or fix it"
        )
    cfg = cfg.model_copy(update={"d_model": int(x.shape[1])})
    device = device or torch.device("cpu")
    x = x.float()
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        sae = SparseAutoencoder(cfg)
        sae.fit_normalization(x)
        sae.to(device)
        opt = torch.optim.Adam(sae.parameters(), lr=lr)
        gen = torch.Generator().manual_seed(seed)
        since_fired = torch.zeros(cfg.d_hidden, dtype=torch.long, device=device)
        t0 = time.perf_counter()
        for _ in range(steps):
            idx = torch.randint(0, x.shape[0], (min(batch_size, x.shape[0]),), generator=gen)
            xn = sae.normalize(x[idx].to(device))
            pre = sae.pre_activation(xn)
            if cfg.activation == "topk":
                # sparse decode: no (batch, d_hidden) latent tensor, no dense decoder matmuls
                ids, vals = sae.topk_sparse(pre)
                xhat = sae.decode_sparse(ids, vals)
                fired = torch.zeros(cfg.d_hidden, dtype=torch.bool, device=device)
                fired[ids[vals.detach() > 0]] = True
            else:
                z = sae.activate(pre)
                xhat = sae.decode_normalized(z)
                fired = (z > 0).any(0)
            loss = (xhat - xn).pow(2).mean()
            if cfg.activation == "relu":
                loss = loss + cfg.l1_coeff * z.abs().sum(-1).mean()
            since_fired = torch.where(fired, 0, since_fired + 1)
            loss = loss + cfg.aux_coeff * _aux_loss(sae, xn, xhat, pre, since_fired >= cfg.dead_steps)
            opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            sae.project_decoder_grad()
            opt.step()
            sae.normalize_decoder()
        rate = steps / max(time.perf_counter() - t0, 1e-9)
    sae = sae.cpu().eval()
    metrics = evaluate_sae(sae, x)
    metrics["steps_per_s"] = rate
    return sae, metrics


@torch.no_grad()
def evaluate_sae(sae: SparseAutoencoder, x: torch.Tensor, batch: int = 4096) -> dict[str, float]:
    """Measures over all of ``x``, batched and without autograd.

    TopK latents are decoded sparsely (``embedding_bag`` over the k chosen atoms: the same sum as the dense
    ``z @ W_dec.T``, at k/d_hidden of its cost) and never materialised as a (batch, d_hidden) tensor.
    """
    sq_err = 0.0
    l0 = 0.0
    h = sae.cfg.d_hidden
    fired = torch.zeros(h, dtype=torch.bool)
    atoms = sae.W_dec.t().contiguous() if sae.cfg.activation == "topk" else None
    for i in range(0, x.shape[0], batch):
        xb = x[i : i + batch].float()
        pre = sae.pre_activation(sae.normalize(xb))
        if atoms is not None:
            ids, vals = sae.topk_sparse(pre)
            xn_hat = torch.nn.functional.embedding_bag(ids, atoms, per_sample_weights=vals, mode="sum")
            active = vals > 0
            l0 += float(active.sum())
            fired[ids[active]] = True
        else:
            z = sae.activate(pre)
            xn_hat = z @ sae.W_dec.t()
            l0 += float((z > 0).sum())
            fired |= (z > 0).any(0)
        xhat = sae.denormalize(xn_hat + sae.b_dec)
        sq_err += float((xhat - xb).pow(2).sum())
    xf = x.float()
    total_var = float((xf - xf.mean(0)).pow(2).sum())
    n = x.shape[0]
    return {
        "mse": sq_err / (n * x.shape[1]),
        "fve": 1.0 - sq_err / max(total_var, 1e-12),
        "mean_l0": l0 / n,
        "dead_fraction": float((~fired).float().mean()),
        "n_vectors": float(n),
    }


def training_vectors(cfg: SAETrainConfig) -> torch.Tensor:
    """(n, d_model) training vectors: every token's (or every sequence's) embedding."""
    if (cfg.embeddings is None) == (cfg.data_file is None):
        raise DataError(
            "sae_train: set exactly one of `embeddings` (an embedding file) or `data_file` (sequences)"
        )
    if cfg.embeddings is not None:
        from ..infer.store import read_embeddings

        table = read_embeddings(cfg.embeddings)
        vecs: Any = table.vectors
    else:
        from ..infer.embed import Embedder, iter_records, load_for_inference

        device = torch.device(cfg.device) if cfg.device else default_device()
        emb = Embedder(
            load_for_inference(cfg.model, cfg.seed),
            "token" if cfg.level == "token" else "mean",
            cfg.layer,
            device=device,
        )
        vecs = []
        for chunk in iter_records(cfg.data_file or "", 256, what="data_file"):
            vecs.extend(emb.embed([r.sequence for r in chunk])[0])
    if isinstance(vecs, list):
        vecs = np.concatenate([v.reshape(-1, v.shape[-1]) for v in vecs])
    return torch.from_numpy(np.ascontiguousarray(vecs, dtype=np.float32))


def run_sae_train(cfg: SAETrainConfig) -> SAETrainResult:
    """Train and save an SAE; the output folder is checked first (empty, or ``overwrite``) and made last."""
    t0 = time.perf_counter()
    check_output_dir(cfg.output, cfg.overwrite, "output")
    if (cfg.embeddings is None) == (cfg.data_file is None):
        raise DataError(
            "sae_train: set exactly one of `embeddings` (an embedding file) or `data_file` (sequences)"
        )
    x = training_vectors(cfg)
    device = torch.device(cfg.device) if cfg.device else default_device()
    sae, metrics = train_sae(x, cfg.sae, cfg.steps, cfg.batch_size, cfg.lr, cfg.seed, device)
    out = sae.save(cfg.output)
    atomic_write_json(out / "metrics.json", metrics)
    write_manifest(
        out,
        cfg.model_dump(mode="json"),
        [p for p in (cfg.embeddings, cfg.data_file) if p],
        cfg.seed,
        "sae_train",
    )
    return SAETrainResult(out, metrics, time.perf_counter() - t0)
