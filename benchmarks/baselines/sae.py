"""SAE-training baseline: the plain PyTorch loop a user writes for a TopK sparse autoencoder.

Same architecture and objective as the project's TopK SAE (pre-encoder bias, ReLU then top-k, tied-init
decoder with unit-norm columns, MSE reconstruction), Adam at the same rate and batch size, shuffled minibatches,
decoder columns renormalised after each step. No auxiliary dead-latent loss (a user's first loop rarely has one),
so the baseline does a little less work per step than the project.
"""

from __future__ import annotations

import torch


def plain_topk_sae(x: torch.Tensor, d_hidden: int, k: int, steps: int, batch: int, lr: float = 1e-3) -> float:
    g = torch.Generator().manual_seed(0)
    d = x.shape[1]
    w_dec = torch.nn.Parameter(torch.nn.functional.normalize(torch.randn(d, d_hidden, generator=g), dim=0))
    w_enc = torch.nn.Parameter(w_dec.detach().t().clone())
    b_enc = torch.nn.Parameter(torch.zeros(d_hidden))
    b_dec = torch.nn.Parameter(x.mean(0).clone())
    opt = torch.optim.Adam([w_enc, b_enc, w_dec, b_dec], lr=lr)
    loss = torch.zeros(())
    for _ in range(steps):
        xb = x[torch.randint(0, x.shape[0], (batch,), generator=g)]
        pre = torch.relu((xb - b_dec) @ w_enc.t() + b_enc)
        val, idx = pre.topk(k, dim=-1)
        codes = torch.zeros_like(pre).scatter(-1, idx, val)
        loss = (codes @ w_dec.t() + b_dec - xb).pow(2).sum(-1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            w_dec.div_(w_dec.norm(dim=0, keepdim=True).clamp_min(1e-8))
    return float(loss)
