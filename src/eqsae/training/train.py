"""Training a TopK SAE on orbits of activations: MSE on augmented inputs, or one of v2's invariance losses.

Our reading: an epoch passes once over the images, each entering with one random group element g; the
augmented objective reconstructs psi(g x) itself; the canonical invariance loss (v1 Eq. 2, objective
`invariant`) reconstructs psi(x) from psi(g x); v2's `latent` and `output` losses reconstruct psi(x) from
psi(x) and pull E(psi(g x)) (latent) or D(E(psi(g x))) (output) towards the canonical one, weighted by lambda.
Standard practice adds AuxK (Gao et al. 2024): dead latents learn to reconstruct what the live ones miss.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import torch

from eqsae.models.autoencoders import EpochRecord, stop_if_diverged, stop_if_worse
from eqsae.models.registry import build_sae
from eqsae.models.sae import Latents, Objective, SAEConfig, TopKSAE
from eqsae.training.optim import DictionaryAdam

log = logging.getLogger(__name__)

OBJECTIVES = ("augmented", "invariant", "latent", "output")
PAIRED = ("latent", "output")
"""Objectives with an invariance term between psi(x) and psi(g x) beside the reconstruction of psi(x)."""


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
    invariance_lambda: float = 1.0
    """lambda of v2's latent and output invariance losses (1 in v2); unused by the other objectives."""

    def __post_init__(self) -> None:
        for key in ("epochs", "batch_size", "lr", "k_aux"):
            if not getattr(self, key) > 0:
                raise ValueError(f"{key} must be positive, got {getattr(self, key)}")
        for key in ("auxk_alpha", "invariance_lambda"):
            if not getattr(self, key) >= 0:
                raise ValueError(f"{key} must be >= 0, got {getattr(self, key)}")


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


@dataclass
class SAETraining:
    """A training run between epochs: `train_sae` steps one to the end; a benchmark interleaves several."""

    sae: TopKSAE
    opt: torch.optim.Optimizer
    data: torch.Tensor
    """(n, |G|, d) the orbits, on the training device."""
    objective: Objective
    train: SAETrainConfig
    gen: torch.Generator
    fast: bool
    since: torch.Tensor | None
    """AuxK's clock: rows seen since each latent last fired; dead after one epoch's rows (len(data)) without."""

    def epoch(self) -> tuple[float, float, float]:
        """One more epoch: its mean reconstruction, AuxK and invariance losses (0 where off)."""
        return train_sae_epoch(self.sae, self.opt, self.data, self.objective, self.train, self.gen, self.fast,
                               self.since)  # fmt: skip


def start_sae_training(
    orbits: np.ndarray,
    cfg: SAEConfig,
    objective: Objective,
    train: SAETrainConfig,
    device: torch.device | str = "cpu",
    fast: bool = True,
    anchors: np.ndarray | None = None,
) -> SAETraining:
    """An SAE training on orbits (n, |G|, d), acts[:, p] = psi(g^p x), before its first epoch. `fast=False` is the
    plain PyTorch reference: dense decoder, dense encoder gradient, default (per-tensor) Adam. An archetypal SAE
    (cfg.dictionary) needs its `anchors` (n_anchors, d) and always takes the plain path."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    torch.manual_seed(train.seed)
    sae = build_sae(cfg, anchors).to(device)
    fast = fast and cfg.dictionary == "free"  # the archetypal dictionary has no sparse path: plain Adam (original)
    data = torch.as_tensor(orbits, dtype=torch.float32, device=device)
    init_from_data(sae, data)  # every row the SAE trains on: all rotations
    if fast:
        opt = DictionaryAdam(sae.parameters(), rows=sae.latent_tables(), lr=train.lr, unit_rows=[sae.W_dec])
    else:
        # the archetypal dictionary's Adam is dense over W (latents x anchors): PyTorch's fused kernel, same update
        opt = torch.optim.Adam(sae.parameters(), lr=train.lr, **({"fused": True} if cfg.dictionary != "free" else {}))
    since = torch.zeros(cfg.d_latent, dtype=torch.long, device=device) if train.auxk_alpha > 0 else None
    return SAETraining(sae, opt, data, objective, train, torch.Generator().manual_seed(train.seed), fast, since)


def train_sae(orbits: np.ndarray, cfg: SAEConfig, objective: Objective, train: SAETrainConfig,
              device: torch.device | str = "cpu", fast: bool = True, anchors: np.ndarray | None = None,
              ) -> tuple[TopKSAE, list[EpochRecord]]:  # fmt: skip
    """An SAE trained for train.epochs on orbits (n, |G|, d), acts[:, e] = psi(element e of x) (one row per image:
    `start_sae_training` says what each argument does): the SAE, in eval mode on `device`, and its history, whose
    losses are reconstruction losses."""
    run, history = start_sae_training(orbits, cfg, objective, train, device, fast, anchors), []
    cfg, objective, train = run.sae.cfg, run.objective, run.train
    for epoch in range(1, train.epochs + 1):
        start = time.perf_counter()
        loss, aux, inv = run.epoch()
        history.append(EpochRecord(epoch, loss, time.perf_counter() - start))
        log.info("epoch %d/%d loss %.6f aux %.6f%s seconds %.2f", epoch, train.epochs, loss, aux,
                 f" invariance {inv:.6f}" if objective in PAIRED else "", history[-1].seconds)  # fmt: skip
        what = f"SAE {cfg!r}, {objective} objective:"
        stop_if_diverged(loss, f"{what} reconstruction loss", epoch, train)
        stop_if_diverged(aux, f"{what} AuxK loss", epoch, train)
        stop_if_diverged(inv, f"{what} invariance loss", epoch, train)
    stop_if_worse(history, f"SAE {cfg!r}, {objective} objective: reconstruction loss", train)
    return run.sae.eval(), history


def invariance_term(
    sae: TopKSAE, canonical: Latents, x: torch.Tensor, objective: Objective, fast: bool = True
) -> torch.Tensor:
    """v2's invariance penalty between psi(x) (its latents `canonical`) and psi(g x) = x: ||E(psi(x)) -
    E(psi(g x))||^2 (latent: no dictionary in it, so the dictionary never learns from transformed inputs) or
    ||D(E(psi(x))) - D(E(psi(g x)))||^2 (output), summed over coordinates, mean over the batch."""
    turned = sae.encode(x, sparse=True, fast=fast)
    match objective:
        case "latent":
            return (sae.dense(canonical) - sae.dense(turned)).square().sum(-1).mean()
        case "output":
            return (sae.decode(canonical, fast) - sae.decode(turned, fast)).square().sum(-1).mean()
        case other:
            raise ValueError(f"no invariance term for objective {other!r}; it is one of {PAIRED}")


def train_sae_epoch(
    sae: TopKSAE,
    opt: torch.optim.Optimizer,
    data: torch.Tensor,
    objective: Objective,
    train: SAETrainConfig,
    gen: torch.Generator,
    fast: bool = True,
    since: torch.Tensor | None = None,
) -> tuple[float, float, float]:
    """One epoch; returns the mean reconstruction, AuxK and invariance losses (0 where off). `since` (AuxK on)
    is updated in place."""
    n = len(data)
    order = torch.randperm(n, generator=gen).to(data.device)
    turns = torch.randint(0, data.shape[1], (n,), generator=gen).to(data.device)
    # One gather per epoch; batches are then contiguous slices.
    inputs = data[order, turns[order]]
    targets = inputs if objective == "augmented" else data[order, 0]
    total, total_aux, total_inv = (torch.zeros((), device=data.device) for _ in range(3))
    for i in range(0, n, train.batch_size):
        x, target = inputs[i : i + train.batch_size], targets[i : i + train.batch_size]
        dead = None if since is None else since >= n
        # the paired losses reconstruct psi(x) from psi(x) itself; the others from x
        source = target if objective in PAIRED else x
        loss, aux, latents = step_losses(sae, source, target, fast, dead, train.k_aux, train.auxk_alpha)
        objective_value = loss if aux is None else loss + aux
        inv = None
        if objective in PAIRED:
            inv = train.invariance_lambda * invariance_term(sae, latents, x, objective, fast)
            objective_value = objective_value + inv
        opt.zero_grad(set_to_none=True)
        objective_value.backward()
        opt.step()  # DictionaryAdam keeps the decoder rows it updates unit-norm itself
        if not isinstance(opt, DictionaryAdam):
            sae.normalize_decoder()
        total += loss.detach() * len(x)
        if inv is not None:
            total_inv += inv.detach() * len(x)
        if since is not None:
            since += len(x)
            since[sae.fired(latents)] = 0
            if aux is not None:
                total_aux += aux.detach() * len(x)
    return total.item() / n, total_aux.item() / n, total_inv.item() / n
