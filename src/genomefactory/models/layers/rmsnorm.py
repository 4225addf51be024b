"""Root-mean-square layer norm with the epsilon *inside* the square root (Mamba / Caduceus convention).

``y = x / sqrt(mean(x², last dim) + eps) · weight``, computed in float32 (float64 for float64 input) and returned in the input dtype, as
mamba-ssm's Triton ``rms_norm_fn`` does. Shapes: any (..., hidden); the statistic is over the last dimension.
(Evo's RMSNorm puts eps outside the root; it is a different function and lives with that family.)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["RMSNorm", "rms_norm"]


def rms_norm(x: Tensor, weight: Tensor, eps: float) -> Tensor:
    """Functional form of :class:`RMSNorm` (float32 statistics, or float64 for float64; output in ``x``'s dtype)."""
    work = torch.promote_types(x.dtype, torch.float32)
    xf = x.to(work)
    y = xf * torch.rsqrt(xf.pow(2).mean(dim=-1, keepdim=True) + eps)
    return (y * weight.to(work)).to(x.dtype)


class RMSNorm(nn.Module):
    """RMSNorm with a learned per-channel scale ``weight`` (no bias), published parameter name ``weight``."""

    def __init__(self, hidden_size: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(hidden_size))

    def forward(self, x: Tensor) -> Tensor:
        return rms_norm(x, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}"
