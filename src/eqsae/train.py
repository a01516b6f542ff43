"""Training a TopK SAE on orbits of activations: MSE on rotation-augmented inputs, or the invariance loss.

SPEC.md reading: an epoch passes once over the images, each entering with one random rotation p; the
augmented objective reconstructs psi(g^p x) itself, the invariance loss (Eq. 2) reconstructs psi(x).
Standard practice adds AuxK (Gao et al. 2024): dead latents learn to reconstruct what the live ones miss.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import torch

from eqsae.autoencoders import EpochRecord, stop_if_diverged
from eqsae.group import ORDER
from eqsae.optim import DictionaryAdam
from eqsae.sae import Latents, Objective, SAEConfig, TopKSAE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SAETrainConfig:
    """SAE training (Appendix C.3)."""

    epochs: int = 500
    batch_size: int = 64
    lr: float = 1e-3
    """Adam learning rate."""
    seed: int = 0
    auxk_alpha: float = 0.0
    """Weight of the AuxK loss; 0 (the paper) turns AuxK off. SAE libraries use 1/32."""
    k_aux: int = 256
    """How many dead latents reconstruct the residual (fewer if fewer are dead)."""

    def __post_init__(self) -> None:
        for key in ("epochs", "batch_size", "lr", "k_aux"):
            if not getattr(self, key) > 0:
                raise ValueError(f"{key} must be positive, got {getattr(self, key)}")
        if not self.auxk_alpha >= 0:
            raise ValueError(f"auxk_alpha must be >= 0, got {self.auxk_alpha}")


def sae_loss(x_hat: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """E ||target - x_hat||^2 over the batch (Eqs. 2 and 6 without the L1 term: TopK sets the sparsity)."""
    return (target - x_hat).square().sum(-1).mean()


@torch.no_grad()
def init_from_data(sae: TopKSAE, inputs: torch.Tensor) -> None:
    """Data-dependent start of standard practice: b_D = mean training input (rows (n, d)) under pre_bias, so
    the encoder sees centred inputs from the first step. A no-op for the paper practice."""
    if sae.cfg.pre_bias:
        sae.b_dec.copy_(inputs.reshape(-1, sae.cfg.d_in).mean(0))


def step_losses(
    sae: TopKSAE,
    x: torch.Tensor,
    target: torch.Tensor,
    fast: bool = True,
    dead: torch.Tensor | None = None,
    k_aux: int = 256,
    auxk_alpha: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor | None, Latents]:
    """The reconstruction loss, the AuxK loss (None when off or no latent is `dead`), and the latents.
    AuxK: the k_aux largest dead pre-activations reconstruct the detached residual target - x_hat,
    decoder without bias, in the reconstruction loss's units."""
    h = sae.encoder_input(x)
    latents = sae.topk(h, fast)
    x_hat = sae.decode(latents, fast)
    loss, aux = sae_loss(x_hat, target), None
    if auxk_alpha > 0 and dead is not None and (n_dead := int(dead.sum())):
        dead_latents = sae.topk(h, fast, among=dead, k=min(k_aux, n_dead))
        aux = auxk_alpha * sae_loss(sae.decode(dead_latents, fast, bias=False), (target - x_hat).detach())
    return loss, aux, latents


def train_sae(
    orbits: np.ndarray,
    cfg: SAEConfig,
    objective: Objective,
    train: SAETrainConfig,
    device: torch.device | str = "cpu",
    fast: bool = True,
) -> tuple[TopKSAE, list[EpochRecord]]:
    """Train on orbits (n, |G|, d), acts[:, p] = psi(g^p x). `fast=False` is the plain PyTorch reference:
    dense decoder, dense encoder gradient, default (per-tensor) Adam. History losses are reconstruction losses."""
    if objective not in ("augmented", "invariant"):
        raise ValueError(f"objective must be 'augmented' or 'invariant', got {objective!r}")
    torch.manual_seed(train.seed)
    sae = TopKSAE(cfg).to(device)
    data = torch.as_tensor(orbits, dtype=torch.float32, device=device)
    init_from_data(sae, data)  # every row the SAE trains on: all rotations
    if fast:
        opt = DictionaryAdam(sae.parameters(), rows=sae.latent_tables(), lr=train.lr, unit_rows=[sae.W_dec])
    else:
        opt = torch.optim.Adam(sae.parameters(), lr=train.lr)
    # AuxK's clock: rows seen since each latent last fired; dead after one epoch's rows (len(data)) without.
    since = torch.zeros(cfg.d_latent, dtype=torch.long, device=device) if train.auxk_alpha > 0 else None
    gen, history = torch.Generator().manual_seed(train.seed), []
    for epoch in range(1, train.epochs + 1):
        start = time.perf_counter()
        loss, aux = train_sae_epoch(sae, opt, data, objective, train, gen, fast, since)
        history.append(EpochRecord(epoch, loss, time.perf_counter() - start))
        log.info("epoch %d/%d loss %.6f aux %.6f seconds %.2f", epoch, train.epochs, loss, aux, history[-1].seconds)
        what = f"SAE {cfg!r}, {objective} objective:"
        stop_if_diverged(loss, f"{what} reconstruction loss", epoch, train)
        stop_if_diverged(aux, f"{what} AuxK loss", epoch, train)
    return sae.eval(), history


def train_sae_epoch(
    sae: TopKSAE,
    opt: torch.optim.Optimizer,
    data: torch.Tensor,
    objective: Objective,
    train: SAETrainConfig,
    gen: torch.Generator,
    fast: bool = True,
    since: torch.Tensor | None = None,
) -> tuple[float, float]:
    """One epoch; returns the mean reconstruction and AuxK losses. `since` (AuxK on) is updated in place."""
    n = len(data)
    order = torch.randperm(n, generator=gen).to(data.device)
    turns = torch.randint(0, ORDER, (n,), generator=gen).to(data.device)
    # One gather per epoch; batches are then contiguous slices.
    inputs = data[order, turns[order]]
    targets = data[order, 0] if objective == "invariant" else inputs
    total, total_aux = torch.zeros((), device=data.device), torch.zeros((), device=data.device)
    for i in range(0, n, train.batch_size):
        x, target = inputs[i : i + train.batch_size], targets[i : i + train.batch_size]
        dead = None if since is None else since >= n
        loss, aux, latents = step_losses(sae, x, target, fast, dead, train.k_aux, train.auxk_alpha)
        opt.zero_grad(set_to_none=True)
        (loss if aux is None else loss + aux).backward()
        opt.step()  # DictionaryAdam keeps the decoder rows it updates unit-norm itself
        if not isinstance(opt, DictionaryAdam):
            sae.normalize_decoder()
        total += loss.detach() * len(x)
        if since is not None:
            since += len(x)
            since[latents.indices.reshape(-1)] = 0
            if aux is not None:
                total_aux += aux.detach() * len(x)
    return total.item() / n, total_aux.item() / n
