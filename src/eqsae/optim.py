"""Adam for dictionaries: dense Adam's updates, at a cost that follows the latents in use.

A latent outside the TopK gets zero gradient, yet dense Adam keeps moving its rows by
lr * m_hat / (sqrt(v_hat) + eps) while m decays. By Cauchy-Schwarz |m| / sqrt(v) <= (1 - b1) /
sqrt((1 - b2)(1 - b1^2 / b2)) (7.3 at the defaults), and the ratio shrinks by r = b1 / sqrt(b2) per idle
step, so once a latent has had no gradient for `quiet` steps all that dense Adam would still add to its rows
sums to under 1e-12 * 7.3 * lr / (1 - r): far below float32 rounding. Such latents are left alone; their
moments are decayed in closed form (b^s) when they next get a gradient. In the paper's practice 94-99% of
latents die, and the optimizer's (and the decoder normalisation's) cost then follows the few live ones.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

TOLERANCE = 1e-12
"""r^quiet: what is left of a left-alone latent's movement, relative to the bound above."""


class DictionaryAdam(torch.optim.Optimizer):
    """Adam (PyTorch's fused kernel) for `params`; the first dimension of each of `rows` indexes latents, and
    their gradients may arrive sparse (`TopKSAE`'s fast path). `live` holds the latents the last step changed
    (None: all)."""

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        rows: Iterable[torch.Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ):
        params, rows = list(params), list(rows)
        if not rows or len({len(p) for p in rows}) != 1 or any(all(p is not q for q in params) for p in rows):
            raise ValueError("rows must be some of params, all with the same first dimension (the latents)")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps))
        self.rows = rows
        n, device = len(rows[0]), rows[0].device
        self.quiet = math.ceil(math.log(TOLERANCE) / math.log(betas[0] / math.sqrt(betas[1])))
        """Idle steps after which a latent is left alone (264 at the default betas)."""
        self.t = torch.zeros((), dtype=torch.float32)
        self.touched = torch.full((n,), -self.quiet, dtype=torch.long, device=device)
        """Per latent, the step of its last gradient."""
        self.current = torch.zeros(n, dtype=torch.long, device=device)
        """Per latent, the step its moments were last brought up to."""
        self.live: torch.Tensor | None = None

    def _moments(self, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        state = self.state[p]
        if not state:
            state["exp_avg"], state["exp_avg_sq"] = torch.zeros_like(p), torch.zeros_like(p)
        return state["exp_avg"], state["exp_avg_sq"]

    @torch.no_grad()
    def step(self, closure=None) -> None:
        assert closure is None, "DictionaryAdam takes no closure"
        self.t += 1
        (group,) = self.param_groups
        rows = [p for p in self.rows if p.grad is not None]
        other = [p for p in group["params"] if p.grad is not None and all(p is not q for q in rows)]
        if other:
            self._fused(group, other, [p.grad for p in other])
        if rows:
            self._rows_step(group, rows)

    def _rows_step(self, group: dict, rows: list[torch.Tensor]) -> None:
        t, (b1, b2), n = int(self.t), group["betas"], len(self.touched)
        if all(p.grad.is_sparse for p in rows):
            ids = [p.grad._indices()[0] for p in rows]
            self.touched[torch.cat(ids)] = t
        else:
            self.touched[:] = t
        live = (t - self.touched < self.quiet).nonzero().squeeze(1)
        if len(live) > n // 2:  # then gathering and scattering cost more than they save
            live = None
        lag = t - 1 - (self.current if live is None else self.current[live])
        if live is None:
            self.current[:] = t
        else:
            self.current[live] = t
        decay = bool((lag > 0).any())  # dense Adam's moment decay over the steps a latent was left alone
        table = lambda x: x.unsqueeze(1) if x.dim() == 1 else x  # noqa: E731  (a bias is a one-column table)
        moments = [self._moments(p) for p in rows]
        if decay:
            lag = lag.unsqueeze(1).to(rows[0].dtype)
            scale = [b1**lag, b2**lag]
        if live is None:
            if decay:
                for m, v in moments:
                    table(m).mul_(scale[0])
                    table(v).mul_(scale[1])
            self._fused(group, rows, [p.grad.to_dense() for p in rows], moments)
        else:
            slot = torch.empty(n, dtype=torch.long, device=live.device)
            slot[live] = torch.arange(len(live), device=live.device)
            local = [[table(x).index_select(0, live) for x in (p, m, v)] for p, (m, v) in zip(rows, moments)]
            if decay:
                for _, m, v in local:
                    m.mul_(scale[0])
                    v.mul_(scale[1])
            grads = [
                torch.zeros_like(x).index_add_(0, slot[i], table(p.grad._values()))  # sums repeats if uncoalesced
                for (x, _, _), i, p in zip(local, ids, rows)
            ]  # fmt: skip
            self._fused(group, [x for x, _, _ in local], grads, [(m, v) for _, m, v in local])
            for p, (m, v), values in zip(rows, moments, local):
                for full, part in zip((p, m, v), values):
                    table(full).index_copy_(0, live, part)
        self.live = live

    def _fused(self, group: dict, params: list, grads: list, moments: list | None = None) -> None:
        b1, b2 = group["betas"]
        moments = moments if moments is not None else [self._moments(p) for p in params]
        torch._fused_adam_(params, grads, [m for m, _ in moments], [v for _, v in moments], [],
                           [self.t] * len(params), lr=group["lr"], beta1=b1, beta2=b2, weight_decay=0.0,
                           eps=group["eps"], amsgrad=False, maximize=False)  # fmt: skip
