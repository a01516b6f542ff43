"""The Archetypal SAE baseline (RA-SAE; Fel et al. 2025, arXiv:2502.12892): dictionary rows W C + Lambda.

C holds anchors (KMeans centroids of the training activations), W (d_latent, n_anchors) is row-stochastic
and each row of Lambda has norm <= delta, so every atom lies within delta of the convex hull of the anchors.

Followed: KempnerInstitute/overcomplete, `overcomplete/sae/archetypal_dictionary.py`
(RelaxedArchetypalDictionary) and `overcomplete/sae/rasae.py` (RATopKSAE):
- C is a buffer; W and Lambda are free parameters trained by plain Adam on the reconstruction loss alone.
- In training mode, before the dictionary is read, W and Lambda are projected in place (no gradient):
  W <- relu(W) / row sums, Lambda rows scaled by min(1, delta / ||row||). Adam thus steps from the constraint
  set and sees the identity Jacobian, as in the original. No step in the training loop is needed.
- Atoms are not normalised (they live in the hull, not on the sphere): `normalize_decoder` is a no-op.
- W starts as eye(d_latent, n_anchors) (atom i = anchor i), Lambda at zero.

Deviations, and why:
- No learnable multiplier exp(m) (the library's `use_multiplier`, on by default): a common scale is absorbed
  by the encoder of a TopK SAE, whose codes are unconstrained, and it would take atoms off the hull that
  the paper we reproduce describes.
- More latents than anchors (the wide SAE): eye() leaves rows beyond n_anchors zero, i.e. zero atoms outside
  the hull; here latent i starts at anchor i mod n_anchors. A row the projection would zero becomes uniform.
- Out of training mode the projection is applied to a copy (outputs never mutate parameters) and there is
  no fused-dictionary cache: W C + Lambda is recomputed per call.
- Our encoder (TopKSAE's, linear or two-layer) and no fast sparse path: topk and decode are always dense.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from eqsae.sae import Latents, SAEConfig, TopKSAE

KMEANS_MAX_ITER = 100
"""Lloyd iterations at most (~1.6 s each for 80,000 x 256 rows and 2,048 centroids on one core)."""
PLUSPLUS_ROWS = 4
"""k-means++ seeds from a subsample of this many rows per anchor: on all 80,000 rows it costs ~4 minutes."""


def kmeans_anchors(acts: np.ndarray, n_anchors: int, seed: int, threads: int = 1) -> np.ndarray:
    """(n_anchors, d) float32 KMeans centroids of the rows of `acts` (n, d): the archetypal anchors C.
    Exact Lloyd (sklearn: deterministic for a seed, empty clusters relocated) from k-means++ on a subsample."""
    from sklearn.cluster import KMeans, kmeans_plusplus
    from threadpoolctl import threadpool_limits

    acts = np.ascontiguousarray(acts, dtype=np.float32)
    if acts.ndim != 2:
        raise ValueError(f"acts must be rows (n, d), got shape {acts.shape}")
    if not 1 <= n_anchors <= len(acts):
        raise ValueError(f"n_anchors must be in 1..{len(acts)} (the rows given), got {n_anchors}")
    rng = np.random.default_rng(seed)
    sub = acts[np.sort(rng.permutation(len(acts))[: min(len(acts), PLUSPLUS_ROWS * n_anchors)])]
    with threadpool_limits(threads):
        init, _ = kmeans_plusplus(sub, n_anchors, random_state=seed)
        km = KMeans(n_anchors, init=init, n_init=1, max_iter=KMEANS_MAX_ITER, random_state=seed).fit(acts)
    return km.cluster_centers_.astype(np.float32)


class ArchetypalSAE(TopKSAE):
    """TopKSAE whose dictionary rows are W C + Lambda: W (d_latent, n_anchors) row-stochastic, C the anchors
    (buffer `anchors`, saved in the state dict), ||Lambda_i|| <= cfg.relax_delta."""

    def __init__(self, cfg: SAEConfig, anchors: np.ndarray | torch.Tensor):
        anchors = torch.as_tensor(anchors, dtype=torch.float32)
        if cfg.dictionary != "archetypal":
            raise ValueError(f"ArchetypalSAE needs dictionary='archetypal', got {cfg.dictionary!r}")
        if anchors.shape != (cfg.n_anchors, cfg.d_in):
            want, got = (cfg.n_anchors, cfg.d_in), tuple(anchors.shape)
            raise ValueError(f"anchors must be (n_anchors, d_in) = {want}, got {got}")
        super().__init__(cfg)
        del self.W_dec  # the free dictionary: reading it now fails instead of returning unused random rows
        self.register_buffer("anchors", anchors.clone())
        # (d_latent, n_anchors) one-hot: the original's eye(), tiled when there are more latents than anchors
        start = F.one_hot(torch.arange(cfg.d_latent) % cfg.n_anchors, cfg.n_anchors).to(anchors.dtype)
        self.W = nn.Parameter(start)
        self.Lambda = nn.Parameter(torch.zeros(cfg.d_latent, cfg.d_in))
        if cfg.tied_init and self.hidden is None:  # W_E = W_D^T, as TopKSAE ties to its own dictionary
            with torch.no_grad():
                self.encoder.weight.copy_(self.dictionary_rows())

    def constrained(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(W, Lambda) projected as the original does: relu(W) with rows summed to 1 (an all-zero row becomes
        uniform, so every atom stays in the hull), Lambda's rows scaled down to norm <= delta."""
        w = self.W.relu()
        total = w.sum(-1, keepdim=True)
        w = torch.where(total > 0, w / total.clamp_min(torch.finfo(w.dtype).tiny), 1.0 / self.cfg.n_anchors)
        scale = (self.cfg.relax_delta / self.Lambda.norm(dim=-1, keepdim=True).clamp_min(1e-12)).clamp(max=1)
        return w, self.Lambda * scale

    def dictionary_rows(self) -> torch.Tensor:
        """(d_latent, d_in) atoms W C + Lambda. In training mode W and Lambda are first projected in place,
        as the original does before each forward, so Adam's next step starts from the constraint set."""
        if not self.training:
            w, relax = self.constrained()
            return w @ self.anchors + relax
        with torch.no_grad():
            w, relax = self.constrained()
            self.W.copy_(w)
            self.Lambda.copy_(relax)
        return self.W @ self.anchors + self.Lambda

    def topk(
        self, h: torch.Tensor, fast: bool = True, among: torch.Tensor | None = None, k: int | None = None
    ) -> Latents:
        """TopKSAE.topk on the dense path always: its sparse gradients are for DictionaryAdam, not Adam."""
        return super().topk(h, False, among, k)

    def decode(self, latents: Latents, fast: bool = True, bias: bool = True) -> torch.Tensor:
        """z W_D + b_D on the dense path always (the atoms are computed, there are no rows to pick)."""
        x_hat = self.dense(latents) @ self.dictionary_rows()
        return x_hat + self.b_dec if bias else x_hat

    def latent_tables(self) -> list[nn.Parameter]:
        return [self.encoder.weight, self.encoder.bias, self.W, self.Lambda]

    def normalize_decoder(self) -> None:
        """A no-op: atoms live in the convex hull of the anchors, not on the unit sphere (nor in the original)."""
