"""Training a TopK SAE on orbits of activations: MSE on rotation-augmented inputs, or the invariance loss.

SPEC.md reading: an epoch passes once over the images, each entering with one random rotation p; the
augmented objective reconstructs psi(g^p x) itself, the invariance loss (Eq. 2) reconstructs psi(x).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import torch

from eqsae.autoencoders import EpochRecord
from eqsae.group import ORDER
from eqsae.sae import Objective, SAEConfig, TopKSAE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SAETrainConfig:
    """SAE training (Appendix C.3)."""

    epochs: int = 500
    batch_size: int = 64
    lr: float = 1e-3
    """Adam learning rate."""
    seed: int = 0

    def __post_init__(self) -> None:
        for key in ("epochs", "batch_size", "lr"):
            if not getattr(self, key) > 0:
                raise ValueError(f"{key} must be positive, got {getattr(self, key)}")


def sae_loss(x_hat: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """E ||target - x_hat||^2 over the batch (Eqs. 2 and 6 without the L1 term: TopK sets the sparsity)."""
    return (target - x_hat).square().sum(-1).mean()


def train_sae(
    orbits: np.ndarray,
    cfg: SAEConfig,
    objective: Objective,
    train: SAETrainConfig,
    device: torch.device | str = "cpu",
    fast: bool = True,
) -> tuple[TopKSAE, list[EpochRecord]]:
    """Train on orbits (n, |G|, d), acts[:, p] = psi(g^p x). `fast=False` is the plain PyTorch reference:
    dense decoder, dense encoder gradient, per-tensor Adam."""
    if objective not in ("augmented", "invariant"):
        raise ValueError(f"objective must be 'augmented' or 'invariant', got {objective!r}")
    torch.manual_seed(train.seed)
    sae = TopKSAE(cfg).to(device)
    opt = torch.optim.Adam(sae.parameters(), lr=train.lr, fused=fast)
    data = torch.as_tensor(orbits, dtype=torch.float32, device=device)
    gen, history = torch.Generator().manual_seed(train.seed), []
    for epoch in range(1, train.epochs + 1):
        start = time.perf_counter()
        loss = train_sae_epoch(sae, opt, data, objective, train.batch_size, gen, fast)
        history.append(EpochRecord(epoch, loss, time.perf_counter() - start))
        log.info("epoch %d/%d loss %.6f seconds %.2f", epoch, train.epochs, loss, history[-1].seconds)
    return sae.eval(), history


def train_sae_epoch(
    sae: TopKSAE,
    opt: torch.optim.Optimizer,
    data: torch.Tensor,
    objective: Objective,
    batch_size: int,
    gen: torch.Generator,
    fast: bool = True,
) -> float:
    n = len(data)
    order = torch.randperm(n, generator=gen).to(data.device)
    turns = torch.randint(0, ORDER, (n,), generator=gen).to(data.device)
    # One gather per epoch; batches are then contiguous slices.
    inputs = data[order, turns[order]]
    targets = data[order, 0] if objective == "invariant" else inputs
    total = torch.zeros((), device=data.device)
    for i in range(0, n, batch_size):
        x, target = inputs[i : i + batch_size], targets[i : i + batch_size]
        x_hat, _ = sae(x, fast)
        loss = sae_loss(x_hat, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sae.normalize_decoder()
        total += loss.detach() * len(x)
    return total.item() / n
