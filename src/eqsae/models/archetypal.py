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
- Our encoder (TopKSAE's, linear or two-layer) with a dense TopK; decoding computes only the atoms a batch
  uses (W[used] C + Lambda[used], the same numbers at a fraction of the work of W C); Adam is PyTorch's
  fused kernel (the same update as the original's Adam).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from eqsae.models.sae import Latents, SAEConfig, TopKSAE

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
        uniform, so every atom stays in the hull), Lambda's rows scaled down to norm <= delta. Copies."""
        w, relax = self.W.detach().clone(), self.Lambda.detach().clone()
        self._project(w, relax)
        return w, relax

    def _project(self, w: torch.Tensor, relax: torch.Tensor) -> None:
        """The projection in place: the wide dictionary's W is 8,192 x 2,048, and every step projects it, so no
        temporaries of its size."""
        w.clamp_(min=0)
        total = w.sum(-1, keepdim=True)
        w.div_(total.clamp_min(torch.finfo(w.dtype).tiny))
        w[total.squeeze(-1) == 0] = 1.0 / self.cfg.n_anchors
        relax.mul_((self.cfg.relax_delta / relax.norm(dim=-1, keepdim=True).clamp_min(1e-12)).clamp(max=1))

    def dictionary_rows(self, rows: torch.Tensor | None = None) -> torch.Tensor:
        """(d_latent, d_in) atoms W C + Lambda, or only the atoms `rows`. In training mode W and Lambda are
        first projected in place, as the original does before each forward, so Adam's next step starts from
        the constraint set."""
        if not self.training:
            w, relax = self.constrained()
        else:
            with torch.no_grad():
                self._project(self.W, self.Lambda)
            w, relax = self.W, self.Lambda
        if rows is None:
            return w @ self.anchors + relax
        return w[rows] @ self.anchors + relax[rows]

    def topk(
        self, h: torch.Tensor, fast: bool = True, among: torch.Tensor | None = None, k: int | None = None
    ) -> Latents:
        """TopKSAE.topk on the dense path always: its sparse gradients are for DictionaryAdam, not Adam."""
        return super().topk(h, False, among, k)

    def _decode_latents(self, latents: Latents, fast: bool) -> torch.Tensor:
        """z W_D (batch, d_in) from the atoms the batch uses only: W[used] C is K-sparse work instead of the whole
        W C (2,048 x 2,048 x 256 per step), and rows no latent uses get no gradient either way."""
        used, slot = torch.unique(latents.indices, return_inverse=True)
        atoms = self.dictionary_rows(used)[slot]  # (batch, k, d_in)
        return (latents.values.unsqueeze(-1) * atoms).sum(-2)

    def latent_tables(self) -> list[nn.Parameter]:
        return [self.encoder.weight, self.encoder.bias, self.W, self.Lambda]

    def normalize_decoder(self) -> None:
        """A no-op: atoms live in the convex hull of the anchors, not on the unit sphere (nor in the original)."""
