"""Adam for dictionaries: dense Adam's updates, at a cost that follows the latents in use.

A latent outside the TopK gets zero gradient, yet dense Adam keeps moving its rows by
lr * m_hat / (sqrt(v_hat) + eps) while m decays. By Cauchy-Schwarz |m| / sqrt(v) <= (1 - b1) /
sqrt((1 - b2)(1 - b1^2 / b2)) (7.3 at the defaults), and the ratio shrinks by r = b1 / sqrt(b2) per idle
step, so once a latent has had no gradient for `quiet` steps all that dense Adam would still add to its rows
sums to under 1e-12 * 7.3 * lr / (1 - r): far below float32 rounding. Such latents are left alone; their
moments are decayed in closed form (b^s) when they next get a gradient. In the paper's practice 94-99% of
latents die, and the optimizer's cost then follows the few live ones.

The moments of the latent tables are kept in slot order, live latents first, so that PyTorch's fused Adam
kernel runs on one contiguous block of them; a latent changes slot only when it wakes or falls quiet.
While at least half the latents are live (standard practice keeps nearly all alive), every latent is: the
quiet ones are brought up to date as when they wake, the moments are put in latent order, and the kernel runs
on the tables in place, which is dense Adam itself and spares gathering the live rows and writing them back.
It goes back to the live block when fewer than a quarter are live.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

TOLERANCE = 1e-12
"""r^quiet: what is left of a left-alone latent's movement, relative to the bound above."""
DENSE_FROM, DENSE_UNTIL = 1 / 2, 1 / 4
"""Shares of live latents at which every latent becomes live (updated in place), and at which that ends."""


class DictionaryAdam(torch.optim.Optimizer):
    """Adam for `params`; the first dimension of each of `rows` indexes latents, and their gradients may arrive
    sparse (`TopKSAE`'s fast path). Rows of `unit_rows` are projected back to unit norm after each update (the
    SAE's decoder constraint). `live` holds the latents the last step updated."""

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        rows: Iterable[torch.Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        unit_rows: Iterable[torch.Tensor] = (),
    ):
        params, rows, unit_rows = list(params), list(rows), list(unit_rows)
        if not rows or len({len(p) for p in rows}) != 1 or any(all(p is not q for q in params) for p in rows):
            raise ValueError("rows must be some of params, all with the same first dimension (the latents)")
        if any(all(p is not q for q in rows) for p in unit_rows):
            raise ValueError("unit_rows must be some of rows")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps))
        self.rows, self.unit_rows = rows, unit_rows
        n, device = len(rows[0]), rows[0].device
        self.quiet = math.ceil(math.log(TOLERANCE) / math.log(betas[0] / math.sqrt(betas[1])))
        """Idle steps after which a latent is left alone (264 at the default betas)."""
        self.t = torch.zeros((), dtype=torch.float32, device=device)  # the fused kernel's step, on its device
        self.touched = torch.full((n,), -self.quiet, dtype=torch.long, device=device)
        """Per latent, the step of its last gradient."""
        self.current = torch.zeros(n, dtype=torch.long, device=device)
        """Per latent outside the live block, the step its moments were last brought up to."""
        self.order = torch.arange(n, device=device)
        """The latent in each slot of the moments; slots [0, n_live) hold the live latents."""
        self.slot = torch.arange(n, device=device)
        self.n_live = 0
        self.in_place = False
        """Every latent is live and the moments are in latent order: the kernel updates the tables in place."""
        self._grads: dict[torch.Tensor, torch.Tensor] = {}
        """Per latent table, a zero table that a sparse step's gradient is added into."""
        self._written: list[tuple[torch.Tensor, torch.Tensor]] = []
        """(gradient buffer, its rows) a sparse step wrote: zeroed after the kernel, so that a step clears the
        rows it used instead of a whole table."""

    def load_state_dict(self, state_dict) -> None:
        raise NotImplementedError("DictionaryAdam keeps latent bookkeeping outside state_dict; it cannot resume")

    @property
    def live(self) -> torch.Tensor:
        return self.order[: self.n_live]

    def _moments(self, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        state = self.state[p]
        if not state:
            state["exp_avg"], state["exp_avg_sq"] = torch.zeros_like(p), torch.zeros_like(p)
        return state["exp_avg"], state["exp_avg_sq"]

    def _dense_grad(self, p: torch.Tensor, at: torch.Tensor) -> torch.Tensor:
        """p's sparse row gradient as the first n_live rows of a zero table, its rows at slots `at`."""
        if (buffer := self._grads.get(p)) is None:
            buffer = self._grads[p] = torch.zeros_like(_table(p))
        self._written.append((buffer, at))
        return buffer[: self.n_live].index_add_(0, at, _table(p.grad._values()))

    @torch.no_grad()
    def step(self, closure=None) -> None:
        assert closure is None, "DictionaryAdam takes no closure"
        self.t += 1
        (group,) = self.param_groups
        rows = [p for p in self.rows if p.grad is not None]
        if rows and len(rows) != len(self.rows):  # their moments share one slot order
            raise RuntimeError("DictionaryAdam: every table in `rows` needs a gradient in a step, or none does")
        other = [p for p in group["params"] if p.grad is not None and all(p is not q for q in rows)]
        params, grads, moments = other, [p.grad for p in other], [self._moments(p) for p in other]
        local = []
        if rows:  # one fused kernel call for all: the live block's rows, gathered, and the other parameters
            local, local_grads, local_moments = self._live_rows(group, rows)
            params, grads, moments = params + local, grads + local_grads, moments + local_moments
        b1, b2 = group["betas"]
        torch._fused_adam_(params, grads, [m for m, _ in moments], [v for _, v in moments], [],
                           [self.t] * len(params), lr=group["lr"], beta1=b1, beta2=b2, weight_decay=0.0,
                           eps=group["eps"], amsgrad=False, maximize=False)  # fmt: skip
        for buffer, at in self._written:
            buffer.index_fill_(0, at, 0.0)
        self._written.clear()
        for p, x in zip(rows, local):
            if any(p is q for q in self.unit_rows):
                x.div_(x.norm(dim=-1, keepdim=True).clamp_min(1e-12))
            if not self.in_place:
                _table(p).index_copy_(0, self.live, x)

    def _live_rows(self, group: dict, rows: list[torch.Tensor]) -> tuple[list, list, list]:
        """The live latents' rows of every table, their gradients, and their (contiguous) moments."""
        t = int(self.t)
        sparse = all(p.grad.is_sparse for p in rows)
        if sparse:
            ids = [p.grad._indices()[0] for p in rows]
            self.touched[torch.cat(ids)] = t
        else:
            self.touched[:] = t
        moments = [tuple(_table(x) for x in self._moments(p)) for p in rows]
        is_live, n = self.touched > t - self.quiet, len(self.touched)
        share = int(is_live.sum()) / n
        if share >= DENSE_FROM or (self.in_place and share >= DENSE_UNTIL):
            is_live = torch.ones_like(is_live)
        self._regroup(is_live, t, group["betas"], moments)
        if self.n_live == n and not self.in_place:
            self._latent_order(moments)
        self.in_place = self.n_live == n
        live, n_live = self.live, self.n_live
        # in place, slot j holds latent j: the tables themselves and their gradients in latent order
        local = [_table(p) if self.in_place else _table(p).index_select(0, live) for p in rows]
        if sparse:
            grads = [self._dense_grad(p, i if self.in_place else self.slot[i]) for i, p in zip(ids, rows)]
        else:
            grads = [_table(p.grad.to_dense()) if self.in_place else _table(p.grad.to_dense()).index_select(0, live)
                     for p in rows]  # fmt: skip
        return local, grads, [(m[:n_live], v[:n_live]) for m, v in moments]

    def _latent_order(self, moments: list) -> None:
        """Put the moments of all latents (all live) in latent order: slot j then holds latent j."""
        for m, v in moments:
            for x in (m, v):
                x.copy_(x.index_select(0, self.slot))
        self.order.copy_(torch.arange(len(self.order), device=self.order.device))
        self.slot.copy_(self.order)

    def _regroup(self, is_live: torch.Tensor, t: int, betas: tuple[float, float], moments: list) -> None:
        """Move the moments of the latents that woke into the live block (decayed as dense Adam would have
        over the steps they were left alone) and of those that fell quiet out of it."""
        n_live, was_live = int(is_live.sum()), self.slot < self.n_live
        if n_live == self.n_live and bool((is_live == was_live).all()):
            return
        self.current[was_live & ~is_live] = t - 1
        woke = (is_live & ~was_live).nonzero().squeeze(1)
        in_block = self.slot < n_live
        enter, leave = (is_live & ~in_block).nonzero().squeeze(1), (~is_live & in_block).nonzero().squeeze(1)
        a, b = self.slot[leave], self.slot[enter]
        ab, ba = torch.cat([a, b]), torch.cat([b, a])
        for m, v in moments:
            for x in (m, v):
                x.index_copy_(0, ab, x.index_select(0, ba))
        self.order[ab] = self.order[ba]
        self.slot[self.order[ab]] = ab
        self.n_live = n_live
        if len(woke):
            lag = (t - 1 - self.current[woke]).unsqueeze(1).to(moments[0][0].dtype)
            at = self.slot[woke]
            for m, v in moments:
                m.index_copy_(0, at, m.index_select(0, at) * betas[0] ** lag)
                v.index_copy_(0, at, v.index_select(0, at) * betas[1] ** lag)


def _table(x: torch.Tensor) -> torch.Tensor:
    """A latent table as (latents, features): a bias is a one-column table."""
    return x.unsqueeze(1) if x.dim() == 1 else x
