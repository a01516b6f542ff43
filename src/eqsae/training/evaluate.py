"""Metrics of an SAE on held-out orbits (RESULT 3): FVU, L0, L1, dead latents, invariance, spliced loss.

Every SAE is scored against what the base model really produced for g^p h^q x. The invariant SAE reconstructs
the canonical activation, so it pays for not transforming; the equivariant SAE is the same SAE with M^p R^q
applied to its reconstruction, using each row's own group element (element-aware, as in the paper).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch
from torch.nn import functional as F

from eqsae.fitting.transform import apply_elements, as_generators, element_matrices
from eqsae.group import C4, Group
from eqsae.io import NonFiniteError
from eqsae.models.autoencoders import BaseAutoencoder, to_input
from eqsae.models.sae import Latents, TopKSAE


class Reconstruction(NamedTuple):
    x_hat: torch.Tensor
    """(n, |G|, d) reconstruction of psi(g^p h^q x)."""
    values: torch.Tensor
    """(n, |G|, k) active latent values."""
    indices: torch.Tensor
    """(n, |G|, k) active latent ids."""


@torch.inference_mode()
def reconstruct(sae: TopKSAE, orbits: torch.Tensor, transforms: list | None = None) -> Reconstruction:
    """SAE reconstruction of every element; with T_e = M^p R^q (`element_matrices`), the equivariant
    reconstruction M^p R^q D(E(psi(g^p h^q x)))."""
    x_hat, latents = sae(orbits.flatten(0, 1))
    x_hat = x_hat.view_as(orbits)
    if transforms is not None:
        x_hat = apply_elements(x_hat, transforms)
    shape = (*orbits.shape[:2], -1)
    return Reconstruction(x_hat, latents.values.view(shape), latents.indices.view(shape))


@torch.inference_mode()
def sae_metrics(
    sae: TopKSAE,
    orbits: np.ndarray,
    base: BaseAutoencoder | torch.nn.Module | None,
    images: np.ndarray | None,
    m: np.ndarray | list[np.ndarray] | None = None,
    chunk: int = 250,
    group: Group = C4,
    to_pixels: Callable[[torch.Tensor], torch.Tensor] = to_input,
) -> dict[str, float]:
    """Held-out metrics over every element of every image (orbits (n, |G|, d), images (n, H, W)); m: M, or
    [M, R] for a group of two generators. The spliced and base losses need the base network's decoder (`base`,
    any module with `decode`) and the images, which `to_pixels` turns into what it decodes to (the Shapes':
    `to_input`); without them (a table with no network) they are left out."""
    data = torch.as_tensor(orbits, dtype=torch.float32)
    transforms = None
    if m is not None:
        transforms = element_matrices([torch.as_tensor(x, dtype=torch.float32) for x in as_generators(m)], group)
    mean = data.flatten(0, 1).mean(0)
    d_latent = sae.cfg.d_latent
    sums = dict(res=0.0, tot=0.0, l0=0.0, l1=0.0, spliced=0.0, base=0.0, cos=0.0)
    active = torch.zeros(d_latent, dtype=torch.bool)
    for i in range(0, len(data), chunk):
        x = data[i : i + chunk]
        rec = reconstruct(sae, x, transforms)
        sums["res"] += (x - rec.x_hat).square().sum().item()
        sums["tot"] += (x - mean).square().sum().item()
        sums["l0"] += (rec.values != 0).sum().item()
        sums["l1"] += rec.values.abs().sum().item()
        active[rec.indices[rec.values != 0]] = True
        z = sae.dense(Latents(rec.values, rec.indices))  # (chunk, |G|, d_latent)
        sums["cos"] += F.cosine_similarity(z[:, 1:], z[:, :1], dim=-1).sum().item()
        if base is not None:
            pixels = to_pixels(torch.from_numpy(group.orbit(images[i : i + chunk])))
            sums["spliced"] += F.mse_loss(base.decode(rec.x_hat.flatten(0, 1)), pixels, reduction="sum").item()
            sums["base"] += F.mse_loss(base.decode(x.flatten(0, 1)), pixels, reduction="sum").item()
    order = group.order
    rows = data.shape[0] * order
    metrics = {
        "fvu": sums["res"] / sums["tot"],
        "l0": sums["l0"] / rows,
        "l1": sums["l1"] / rows,
        "dead_fraction": 1 - active.float().mean().item(),
        "latent_invariance": sums["cos"] / (data.shape[0] * (order - 1)),
    }
    if base is not None:
        n_pixels = rows * images.shape[-1] * images.shape[-2]
        metrics |= {"spliced_loss": sums["spliced"] / n_pixels, "base_loss": sums["base"] / n_pixels}
    for name, value in metrics.items():
        if not math.isfinite(value):
            raise NonFiniteError(f"SAE metric {name} is {value} ({sae.cfg!r}{'' if m is None else ', with M'})")
    return metrics


def orbit_sae_metrics(sae: TopKSAE, orbits: np.ndarray, generators: list[np.ndarray] | None, group: Group,
                      network: tuple | None = None, images: np.ndarray | None = None) -> dict[str, float]:  # fmt: skip
    """RESULT 3's metrics of `sae` on held-out orbits (n, |G|, d), read through M (and R) where `generators` are
    given (an equivariant SAE): FVU, L0, L1, dead share, latent invariance and, where the source has a base
    network (`eqsae.sources.networks.source_network`) and the orbits' images, the spliced loss beside the base
    network's own."""
    base, to_pixels = network if network is not None else (None, to_input)  # no network: no pixels are read
    return sae_metrics(sae.cpu(), orbits, base, images, generators, group=group, to_pixels=to_pixels)
