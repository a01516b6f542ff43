"""One TopK SAE (paper Eqs. 4-5, Appendix C.3) whose configurations are the paper's five variants.

z = TopK(W_E h + b_E) with h = x (linear encoder) or h = ReLU(W_1 x + b_1) (two-layer encoder);
x_hat = W_D z + b_D with unit-norm dictionary rows. Latents are kept sparse as (values, indices) pairs:
the fast path decodes only the K active rows and sends the encoder's gradient only to them.
A practice chooses between the paper's equations (`paper`) and what SAE libraries do (`standard`:
x - b_D enters the encoder, W_E starts as W_D^T); we keep both because they change the results.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from eqsae.pipeline.config import PRACTICES, TRAINED_BY, VARIANTS, Objective  # noqa: F401 (re-exported)

Encoder = Literal["linear", "twolayer"]
"""linear: W_E x + b_E; twolayer: W_E ReLU(W_1 x + b_1) + b_E (Appendix C.3)."""
Dictionary = Literal["free", "archetypal"]
"""free: unit-norm rows learnt as they are; archetypal: rows in the hull of anchors (`eqsae.models.archetypal`)."""
TopKActivation = Literal["signed", "relu"]
"""signed: the K largest pre-activations as they are; relu: through a ReLU (`SAEConfig.topk_activation`)."""
WEIGHTS = "sae.safetensors"
"""The weights' file in an SAE's folder, beside cfg.json: safetensors, so loading runs no pickled code."""
LEGACY_WEIGHTS = "sae.pt"
"""What folders written before held instead: a torch state dict, still read (with weights_only=True)."""


@dataclass(frozen=True)
class SAEConfig:
    """Architecture of a TopK SAE."""

    k: int
    """Active latents per input."""
    d_in: int = 256
    d_latent: int = 2048
    """Dictionary size: 8x expansion, |G| x 8 for the wide SAE."""
    encoder: Encoder = "linear"
    d_hidden: int = 512
    """Hidden width of the two-layer encoder (Appendix C.3)."""
    pre_bias: bool = False
    """Subtract b_D from x before the encoder; `train_sae` then starts b_D at the mean training input."""
    tied_init: bool = False
    """Start the linear encoder as W_E = W_D^T, b_E = 0. The two-layer encoder's last layer (d_hidden inputs)
    has no decoder to tie to, so there it is a no-op."""
    dictionary: Dictionary = "free"
    """free: W_D's rows are parameters on the unit sphere; archetypal: rows W C + Lambda in the convex hull of
    anchors C plus a ball of radius relax_delta (the RA-SAE baseline, `eqsae.models.archetypal`)."""
    n_anchors: int = 0
    """Rows of C, the archetypal dictionary's anchors (KMeans centroids); 0 for the free dictionary."""
    relax_delta: float = 0.0
    """Bound on the norm of each row of the archetypal relaxation Lambda; 0 for the free dictionary."""
    topk_activation: TopKActivation = "signed"
    """signed: the K largest pre-activations as they are (the paper's TopK, which names no ReLU; a latent may be
    negative); relu: ReLU applied to the K kept values (SAELens' order), so a kept negative pre-activation gives a
    zero latent, passes no gradient, and counts as not firing (AuxK's dead-latent clock)."""

    def __post_init__(self) -> None:
        if not 0 < self.k <= self.d_latent:
            raise ValueError(f"k must be in 1..d_latent={self.d_latent}, got {self.k}")
        if self.topk_activation not in ("signed", "relu"):
            raise ValueError(f"topk_activation must be 'signed' or 'relu', got {self.topk_activation!r}")
        if self.encoder not in ("linear", "twolayer"):
            raise ValueError(f"encoder must be 'linear' or 'twolayer', got {self.encoder!r}")
        match self.dictionary:
            case "free" if self.n_anchors != 0 or self.relax_delta != 0:
                raise ValueError(f"a free dictionary has no anchors nor relaxation, got n_anchors={self.n_anchors}, "
                                 f"relax_delta={self.relax_delta}")  # fmt: skip
            case "archetypal" if self.n_anchors < 1 or not self.relax_delta >= 0:
                raise ValueError(f"an archetypal dictionary needs n_anchors >= 1 and relax_delta >= 0, got "
                                 f"n_anchors={self.n_anchors}, relax_delta={self.relax_delta}")  # fmt: skip
            case "free" | "archetypal":
                pass
            case other:
                raise ValueError(f"dictionary must be 'free' or 'archetypal', got {other!r}")


class Latents(NamedTuple):
    """TopK latents in sparse form, what `encode(x, sparse=True)` returns: K (value, latent id) pairs per row,
    the form the training fast path decodes without a (batch, d_latent) matrix. `sae.dense(latents)` scatters
    them into one."""

    values: torch.Tensor
    """(batch, k) the K largest pre-activations, in descending order."""
    indices: torch.Tensor
    """(batch, k) their latent ids."""


class _Rows(NamedTuple):
    """Which latents a batch's `indices` (batch, k) use: `used`, each entry's column among them (`slot`), computed
    once per batch and read by both backward passes (the encoder's and the decoder's)."""

    indices: torch.Tensor
    used: torch.Tensor
    """(n_used,) latent ids, sorted."""
    slot: torch.Tensor
    """(batch, k) the column of each entry in `used`."""


class _Pass(NamedTuple):
    """The last fast TopK under autograd: AuxK reads its pre-activations instead of a second matmul (while W_E is
    unchanged), and the decoder's backward its used rows (one torch.unique a batch)."""

    h: torch.Tensor
    version: int
    """W_E's version counter then: an optimizer step since makes `pre` stale."""
    pre: torch.Tensor
    """(batch, d_latent) W_E h + b_E."""
    rows: _Rows


def _rows_of(indices: torch.Tensor) -> _Rows:
    return _Rows(indices, *torch.unique(indices, return_inverse=True))


def _scatter(slot: torch.Tensor, n_used: int, weights: torch.Tensor) -> torch.Tensor:
    """`weights` (batch, k) as a dense (batch, n_used) matrix over the used latents: the backward passes below are
    then small matmuls over those latents only."""
    return torch.zeros(len(slot), n_used, dtype=weights.dtype, device=weights.device).scatter_(1, slot, weights)


def _rows(used: torch.Tensor, values: torch.Tensor, shape) -> torch.Tensor:
    """A gradient that is zero outside the rows `used`, as the sparse tensor DictionaryAdam reads."""
    return torch.sparse_coo_tensor(used.unsqueeze(0), values, shape, is_coalesced=True, check_invariants=False)


def _encoder_backward(a: torch.Tensor, used: torch.Tensor, h, weight, needs_h: bool) -> tuple:
    """Gradients of h, W_E and b_E from a = dLoss/dpre (batch, n_used) over the rows `used` of W_E."""
    # the paper's linear encoder reads x itself, which needs no gradient
    grad_h = a @ weight.index_select(0, used) if needs_h else None
    return grad_h, _rows(used, a.T @ h, weight.shape), _rows(used, a.sum(0), weight.shape[:1])


class _TopKLinear(torch.autograd.Function):
    """TopK(h W^T + b) with a backward that touches only the rows of W the batch selected (not a dense
    matmul); W's and b's gradients are sparse row tensors, which `DictionaryAdam` turns into row updates.
    Also returns the pre-activations (AuxK selects among them) and, when `rows`, the used latents."""

    @staticmethod
    def forward(ctx, h, weight, bias, k: int, rows: bool):
        pre = torch.addmm(bias, h, weight.T)  # (batch, d_latent)
        values, indices = pre.topk(k, dim=-1, sorted=True)
        used, slot = _rows_of(indices)[1:] if rows else (None, None)
        ctx.save_for_backward(h, weight, indices, used, slot)
        ctx.mark_non_differentiable(indices, pre, *([used, slot] if rows else []))
        return values, indices, pre, used, slot

    @staticmethod
    def backward(ctx, grad_values, *_):
        h, weight, indices, used, slot = ctx.saved_tensors
        if used is None:
            _, used, slot = _rows_of(indices)
        a = _scatter(slot, len(used), grad_values)
        return *_encoder_backward(a, used, h, weight, ctx.needs_input_grad[0]), None, None


class _TopKAmong(torch.autograd.Function):
    """AuxK's TopK among the latents `ids` (the dead ones), read off the main pass's pre-activations `pre` (no
    second matmul); the backward is a dense matmul over the rows `ids` only, W's and b's gradients sparse rows."""

    @staticmethod
    def forward(ctx, pre, h, weight, bias, ids, k: int):
        values, slot = pre.index_select(1, ids).topk(k, dim=-1, sorted=True)
        ctx.save_for_backward(h, weight, ids, slot)
        indices = ids[slot]
        ctx.mark_non_differentiable(indices, slot)
        return values, indices, slot

    @staticmethod
    def backward(ctx, grad_values, *_):
        h, weight, ids, slot = ctx.saved_tensors
        a = _scatter(slot, len(ids), grad_values)
        return None, *_encoder_backward(a, ids, h, weight, ctx.needs_input_grad[1]), None, None


class _Decode(torch.autograd.Function):
    """sum_j values[b, j] * W_D[indices[b, j]]: only the K active dictionary rows, gradient sparse in rows."""

    @staticmethod
    def forward(ctx, values, indices, weight, used, slot):
        ctx.save_for_backward(values, indices, weight, used, slot)
        return F.embedding_bag(indices, weight, per_sample_weights=values, mode="sum")

    @staticmethod
    def backward(ctx, grad_out):
        values, indices, weight, used, slot = ctx.saved_tensors
        if used is None:
            _, used, slot = _rows_of(indices)
        grad_values = (grad_out @ weight.index_select(0, used).T).gather(1, slot)
        return grad_values, None, _rows(used, _scatter(slot, len(used), values).T @ grad_out, weight.shape), None, None


class TopKSAE(nn.Module):
    """The TopK SAE `cfg` describes (`build_sae` also makes the archetypal one). Inputs are rows (batch, d_in) or
    any (..., d_in); latents are dense (..., d_latent) with K non-zero entries per row, or `Latents` (sparse).

    >>> import torch
    >>> from eqsae.models.sae import SAEConfig, TopKSAE
    >>> sae = TopKSAE(SAEConfig(k=2, d_in=8, d_latent=32)).eval()
    >>> x = torch.randn(5, 8)
    >>> z = sae.encode(x)  # (5, 32): the 2 largest pre-activations of each row, zeros elsewhere
    >>> z.shape, (z != 0).sum(-1).tolist()
    (torch.Size([5, 32]), [2, 2, 2, 2, 2])
    >>> values, indices = sae.encode(x, sparse=True)  # (5, 2) each, the same latents
    >>> torch.equal(sae.dense(sae.encode(x, sparse=True)), z)
    True
    >>> sae.decode(z).shape  # W_D z + b_D
    torch.Size([5, 8])
    >>> torch.allclose(sae.decode(z), sae.decode(sae.encode(x, sparse=True)), atol=1e-6)
    True
    >>> torch.allclose(sae.encode(x, batch_size=2), z, atol=1e-6)  # 2 rows at a time (matmul's last bits may move)
    True
    """

    def __init__(self, cfg: SAEConfig):
        super().__init__()
        self.cfg = cfg
        d_enc = cfg.d_hidden if cfg.encoder == "twolayer" else cfg.d_in
        self.hidden = nn.Sequential(nn.Linear(cfg.d_in, cfg.d_hidden), nn.ReLU()) if cfg.encoder == "twolayer" else None
        self.encoder = nn.Linear(d_enc, cfg.d_latent)
        # PyTorch's default init of Linear(d_latent, d_in), stored as dictionary rows (our reading of the paper).
        self.W_dec = nn.Parameter(nn.Linear(cfg.d_latent, cfg.d_in).weight.detach().T.contiguous())
        self.b_dec = nn.Parameter(torch.zeros(cfg.d_in))
        self.normalize_decoder()
        self._last: _Pass | None = None
        if cfg.tied_init and self.hidden is None:
            with torch.no_grad():  # W_dec holds W_D^T (one dictionary row per latent), so W_E = W_D^T is a copy
                self.encoder.weight.copy_(self.W_dec)
                self.encoder.bias.zero_()

    def encoder_input(self, x: torch.Tensor) -> torch.Tensor:
        """h (batch, d_in or d_hidden), what the last encoder layer reads: x (batch, d_in) (minus b_D under
        pre_bias), through the hidden layer if any."""
        if self.cfg.pre_bias:
            x = x - self.b_dec
        return self.hidden(x) if self.hidden is not None else x

    def topk(
        self, h: torch.Tensor, fast: bool = True, among: torch.Tensor | None = None, k: int | None = None
    ) -> Latents:
        """The k (default K) largest of W_E h + b_E (h (batch, d) from `encoder_input`) as Latents (batch, k), or
        of those latents the mask `among` (d_latent,) keeps (AuxK's dead); under `topk_activation="relu"` their
        values through a ReLU. `fast`: the sparse-gradient path training uses (same values)."""
        k = self.cfg.k if k is None else k
        if fast:
            latents = self._fast_topk(h, k, among)
        else:
            pre = self.encoder(h)
            if among is not None:
                pre = pre.masked_fill(~among, float("-inf"))
            latents = Latents(*pre.topk(k, dim=-1, sorted=True))
        if self.cfg.topk_activation == "relu":
            return Latents(F.relu(latents.values), latents.indices)
        return latents

    def fired(self, latents: Latents) -> torch.Tensor:
        """The latent ids (n,) that fired in a batch's Latents (AuxK's clock): every kept one, or under ReLU the
        positive ones."""
        if self.cfg.topk_activation == "relu":
            return latents.indices[latents.values > 0]
        return latents.indices.reshape(-1)

    def _fast_topk(self, h: torch.Tensor, k: int, among: torch.Tensor | None) -> Latents:
        weight, bias, training = self.encoder.weight, self.encoder.bias, torch.is_grad_enabled()
        if among is None:
            values, indices, pre, used, slot = _TopKLinear.apply(h, weight, bias, k, training)
            self._last = _Pass(h, weight._version, pre, _Rows(indices, used, slot)) if training else None
            return Latents(values, indices)
        # AuxK: k_aux ~ 256 rows per input are too many for the sparse backward; dense over the dead rows only
        ids, last = among.nonzero().squeeze(1), self._last
        if last is not None and last.h is h and last.version == weight._version:
            pre = last.pre
        else:
            pre = F.linear(h.detach(), weight.detach(), bias.detach())
        values, indices, slot = _TopKAmong.apply(pre, h, weight, bias, ids, k)
        self._last = _Pass(h, weight._version, pre, _Rows(indices, ids, slot)) if training else None
        return Latents(values, indices)

    def __getstate__(self) -> dict:
        return {**super().__getstate__(), "_last": None}  # a batch's pass is no part of the model

    def encode(
        self, x: torch.Tensor, *, sparse: bool = False, batch_size: int | None = None, fast: bool = True
    ) -> torch.Tensor | Latents:
        """The latents of x (..., d_in): dense z (..., d_latent), zero outside each row's TopK, or with `sparse`
        Latents (..., k). `batch_size` encodes that many rows at a time, so no (rows, d_latent) pre-activation of
        all rows exists at once (with `sparse`, nothing of that size at all): for large inputs, under
        torch.no_grad() unless you need gradients."""
        if x.ndim != 2:  # the fast TopK's matmul and the decoder's embedding_bag take rows
            flat = self.encode(x.reshape(-1, x.shape[-1]), sparse=sparse, batch_size=batch_size, fast=fast)
            return _unflatten(flat, x.shape[:-1])
        if batch_size is not None and len(x) > batch_size:
            parts = [self.encode(x[i : i + batch_size], sparse=sparse, fast=fast) for i in range(0, len(x), batch_size)]
            return Latents(*map(torch.cat, zip(*parts))) if sparse else torch.cat(parts)
        latents = self.topk(self.encoder_input(x), fast)
        return latents if sparse else self.dense(latents)

    def decode(self, z: torch.Tensor | Latents, fast: bool = True, bias: bool = True) -> torch.Tensor:
        """x_hat = W_D z + b_D (..., d_in) from dense z (..., d_latent) or Latents (..., k); without b_D
        (bias=False) for AuxK's reconstruction of the residual. Latents decode only their K dictionary rows."""
        if isinstance(z, torch.Tensor):
            x_hat = z @ self.dictionary_rows()
        elif (values := z[0]).ndim == 2:
            x_hat = self._decode_latents(Latents(*z), fast)
        else:  # the decoder's embedding_bag takes rows
            x_hat = self._decode_latents(Latents(*(t.reshape(-1, t.shape[-1]) for t in z)), fast)
            x_hat = x_hat.reshape(*values.shape[:-1], -1)
        return x_hat + self.b_dec if bias else x_hat

    def _decode_latents(self, latents: Latents, fast: bool) -> torch.Tensor:
        """W_D z (batch, d_in) of Latents (batch, k)."""
        if not fast:
            return self.dense(latents) @ self.W_dec
        rows = self._last.rows if self._last is not None and self._last.rows.indices is latents.indices else None
        used, slot = (rows.used, rows.slot) if rows is not None else (None, None)
        return _Decode.apply(latents.values, latents.indices, self.W_dec, used, slot)

    def dense(self, latents: Latents | torch.Tensor) -> torch.Tensor:
        """z (..., d_latent) with zeros outside the TopK, from Latents (..., k); a dense z is returned as it is."""
        if isinstance(latents, torch.Tensor):
            return latents
        z = torch.zeros(*latents.values.shape[:-1], self.cfg.d_latent, dtype=latents.values.dtype,
                        device=latents.values.device)  # fmt: skip
        return z.scatter(-1, latents.indices, latents.values)

    def forward(self, x: torch.Tensor, fast: bool = True) -> tuple[torch.Tensor, Latents]:
        """(x_hat (..., d_in), Latents (..., k)) of x (..., d_in): the sparse latents, which training and the
        metrics read; `encode` gives the dense ones."""
        latents = self.encode(x, sparse=True, fast=fast)
        return self.decode(latents, fast), latents

    def latent_tables(self) -> list[nn.Parameter]:
        """The parameters whose first dimension indexes latents (encoder rows (d_latent, d), biases (d_latent,),
        dictionary rows (d_latent, d_in)): `DictionaryAdam`'s `rows`."""
        return [self.encoder.weight, self.encoder.bias, self.W_dec]

    def dictionary_rows(self) -> torch.Tensor:
        """(d_latent, d_in) decoder rows W_D^T, one atom per latent: read the dictionary through this, since an
        archetypal dictionary computes its rows."""
        return self.W_dec

    @torch.no_grad()
    def normalize_decoder(self) -> None:
        """Dictionary rows W_dec (d_latent, d_in) back to unit norm, in place (the plain training path's step)."""
        self.W_dec.div_(self.W_dec.norm(dim=-1, keepdim=True).clamp_min(1e-12))


def _unflatten(flat: torch.Tensor | Latents, lead: torch.Size) -> torch.Tensor | Latents:
    """Encoded rows (n, m) back to the input's leading shape (..., m)."""
    if isinstance(flat, torch.Tensor):
        return flat.reshape(*lead, -1)
    return Latents(*(t.reshape(*lead, -1) for t in flat))


@torch.inference_mode()
def encode_orbits(sae: TopKSAE, orbits) -> Latents:
    """TopK latents of every row of orbits (n, |G|, d) as (n * |G|, k), orbit-major, on the CPU; encoded on the
    SAE's device."""
    rows = torch.as_tensor(orbits.reshape(-1, orbits.shape[-1]), dtype=torch.float32, device=sae.b_dec.device)
    return Latents(*(t.cpu() for t in sae.encode(rows, sparse=True)))
