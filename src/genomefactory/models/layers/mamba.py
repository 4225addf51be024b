"""The Mamba (S6) mixer with mamba-ssm's published parameter names, on the pure-PyTorch selective scan.

Parameters (``E = expand · d_model``, ``R = dt_rank``, ``N = d_state``): ``in_proj.weight`` (2E, d_model),
``conv1d.weight`` (E, 1, d_conv) + ``conv1d.bias`` (E), ``x_proj.weight`` (R + 2N, E), ``dt_proj.weight`` (E, R) +
``dt_proj.bias`` (E), ``A_log`` (E, N), ``D`` (E), ``out_proj.weight`` (d_model, E); no bias on in/out/x
projections unless ``bias=True``.

Math: ``[x, z] = in_proj(h)``; ``x = SiLU(causal depthwise conv(x))``; ``[δ, B, C] = x_proj(x)``;
``Δ = softplus(dt_proj(δ))``; ``y = selective_scan(x, Δ, A = -exp(A_log), B, C, D)``; ``out = out_proj(y ⊙ SiLU(z))``.
Every projection is called as a module (never through ``.weight`` directly), so LoRA wrappers take effect.

Padding: with ``mask`` (batch, length), 1 = token, 0 = padding, the mixer zeroes ``x`` at padded positions before
and after the convolution. A padded position then contributes nothing to the convolution or the SSM state, so the
outputs at real tokens equal those of the unpadded sequence for padding *before* the tokens (left padding in the
forward direction); padding after the tokens never reaches them because the mixer is causal. Shapes: input and
output (batch, length, d_model).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...config import ConfigError
from .selective_scan import Backend, selective_scan

__all__ = ["SSM_KEYS", "MambaMixer"]

SSM_KEYS = (
    "d_state",
    "d_conv",
    "expand",
    "dt_rank",
    "dt_min",
    "dt_max",
    "dt_init",
    "dt_scale",
    "dt_init_floor",
    "conv_bias",
    "bias",
    "use_fast_path",
)


class MambaMixer(nn.Module):
    def __init__(
        self,
        d_model: int,
        d_state: int = 16,
        d_conv: int = 4,
        expand: int = 2,
        dt_rank: int | str = "auto",
        dt_min: float = 1e-3,
        dt_max: float = 0.1,
        dt_init: str = "random",
        dt_scale: float = 1.0,
        dt_init_floor: float = 1e-4,
        conv_bias: bool = True,
        bias: bool = False,
        use_fast_path: bool = True,
    ) -> None:
        # use_fast_path is accepted for config compatibility; the kernel choice is made per call by device
        super().__init__()
        self.d_model, self.d_state, self.d_conv = d_model, d_state, d_conv
        self.d_inner = int(expand * d_model)
        self.dt_rank = math.ceil(d_model / 16) if dt_rank == "auto" else int(dt_rank)
        self.scan_backend: Backend = "auto"
        e = self.d_inner
        self.in_proj = nn.Linear(d_model, 2 * e, bias=bias)
        self.conv1d = nn.Conv1d(e, e, d_conv, groups=e, padding=d_conv - 1, bias=conv_bias)
        self.x_proj = nn.Linear(e, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, e, bias=True)
        self.A_log = nn.Parameter(torch.empty(e, d_state))
        self.D = nn.Parameter(torch.empty(e))
        self.out_proj = nn.Linear(e, d_model, bias=bias)
        self._init_ssm(dt_init, dt_scale, dt_min, dt_max, dt_init_floor)

    @torch.no_grad()
    def _init_ssm(self, dt_init: str, dt_scale: float, dt_min: float, dt_max: float, floor: float) -> None:
        """Mamba's initialisation: S4D-real A, D = 1, and a dt bias whose softplus lies in [dt_min, dt_max]."""
        std = self.dt_rank**-0.5 * dt_scale
        if dt_init == "constant":
            nn.init.constant_(self.dt_proj.weight, std)
        elif dt_init == "random":
            nn.init.uniform_(self.dt_proj.weight, -std, std)
        else:
            raise ConfigError(f"ssm_cfg.dt_init must be 'random' or 'constant', got {dt_init!r}")
        dev = self.dt_proj.bias.device
        log_span = math.log(dt_max) - math.log(dt_min)
        dt = torch.exp(torch.rand(self.d_inner, device=dev) * log_span + math.log(dt_min)).clamp(min=floor)
        self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # inverse of softplus
        self.dt_proj.bias._no_reinit = True  # type: ignore[attr-defined]  # keep it out of generic bias zeroing
        a = torch.arange(1, self.d_state + 1, dtype=torch.float32, device=self.A_log.device)
        self.A_log.copy_(torch.log(a).expand(self.d_inner, -1))
        self.D.fill_(1.0)

    def forward(
        self,
        hidden: Tensor,
        mask: Tensor | None = None,
        projections: tuple[nn.Module, nn.Module] | None = None,
    ) -> Tensor:
        """``projections`` = (in_proj, out_proj) modules to use instead of this mixer's own (weight sharing)."""
        length = hidden.shape[1]
        in_proj, out_proj = projections or (self.in_proj, self.out_proj)
        x, z = in_proj(hidden).chunk(2, dim=-1)
        x = x.transpose(1, 2)  # (batch, E, length)
        m = None if mask is None else mask.to(x.dtype).unsqueeze(1)
        if m is not None:
            x = x * m
        x = F.silu(self.conv1d(x)[..., :length])
        if m is not None:
            x = x * m
        dt, b, c = self.x_proj(x.transpose(1, 2)).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = self.dt_proj(dt).transpose(1, 2)
        y = selective_scan(
            x,
            delta,
            -torch.exp(self.A_log.float()),
            b.transpose(1, 2),
            c.transpose(1, 2),
            self.D.float(),
            z.transpose(1, 2),
            delta_softplus=True,
            backend=self.scan_backend,
        )
        assert isinstance(y, Tensor)
        return out_proj(y.transpose(1, 2))  # type: ignore[no-any-return]

    @staticmethod
    def check_config(ssm_cfg: dict[str, Any], where: str) -> None:
        """Reject unknown ``ssm_cfg`` keys with the closest valid one."""
        import difflib

        for key in ssm_cfg:
            if key not in SSM_KEYS:
                close = difflib.get_close_matches(key, SSM_KEYS, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ConfigError(
                    f"{where}: unknown ssm_cfg key {key!r}{hint} (valid: {', '.join(SSM_KEYS)})"
                )
