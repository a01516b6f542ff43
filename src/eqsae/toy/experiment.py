"""Every SAE type on one toy dataset (v2's Table 3 and its Figure 2/8): train, then score against the truth.

SAE types (v2's names): the equivariant SAE under each invariance loss (`equivariant_canonical`, `_latent`,
`_output`; scored with the true M and, as a second row, with M fitted from the training orbits), the vanilla
two-layer SAE narrow and wide, the archetypal SAE narrow and wide, and the group crosscoder (`eqsae.models.crosscoder`).
Narrow = N latents (one per canonical true feature), wide = wide_factor x N. Every SAE has the two-layer
encoder (v2: hidden 64 on the toy) and TopK.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from eqsae.fitting.transform import element_matrices, fit_generators
from eqsae.models.archetypal import kmeans_anchors
from eqsae.models.crosscoder import crosscoder_atoms, crosscoder_inputs, crosscoder_mse
from eqsae.models.sae import Latents, SAEConfig, TopKSAE
from eqsae.pipeline.config import MFitConfig
from eqsae.toy.ground_truth import truth_scores
from eqsae.toy.model import ToyConfig, ToyData
from eqsae.training.train import SAETrainConfig, train_sae

log = logging.getLogger(__name__)

LOSSES = {"equivariant_canonical": "invariant", "equivariant_latent": "latent", "equivariant_output": "output"}
TOY_SAES = (*LOSSES, "vanilla", "vanilla_wide", "archetypal", "archetypal_wide", "crosscoder")


@dataclass(frozen=True)
class ToySAESettings:
    """v2's toy settings (hidden 64, 256 epochs, lr 5e-4, TopK 3, 256 anchors); v1's M fit. v2 states no batch
    size nor data size: 8,192 orbits at batch 256 (2,048 at batch 64 left the loss still falling at epoch 256)."""

    k: int = 3
    d_hidden: int = 64
    epochs: int = 256
    lr: float = 5e-4
    batch_size: int = 256
    wide_factor: int = 4
    anchors: int = 256
    relax_delta: float = 1.0
    invariance_lambda: float = 1.0
    m_epochs: int = 150
    m_lr: float = 1e-3
    m_batch_size: int = 32


def _sae_config(name: str, toy: ToyConfig, s: ToySAESettings) -> SAEConfig:
    n = toy.n_features * (s.wide_factor if name.endswith("_wide") else 1)
    d_in = toy.d * toy.order if name == "crosscoder" else toy.d
    extra = dict(dictionary="archetypal", n_anchors=s.anchors, relax_delta=s.relax_delta) if "archetypal" in name else {}
    return SAEConfig(k=min(s.k, n), d_in=d_in, d_latent=n, encoder="twolayer", d_hidden=s.d_hidden, **extra)


def train_toy_sae(name: str, data: ToyData, toy: ToyConfig, s: ToySAESettings, anchors=None) -> TopKSAE:
    """One SAE type on the training orbits: the equivariant ones on their loss, the crosscoder on whole orbits
    from their canonical element, the rest on augmented rows."""
    train = SAETrainConfig(epochs=s.epochs, batch_size=s.batch_size, lr=s.lr, seed=toy.seed,
                           invariance_lambda=s.invariance_lambda)  # fmt: skip
    orbits = crosscoder_inputs(data.train)[:, None] if name == "crosscoder" else data.train
    sae, _ = train_sae(orbits, _sae_config(name, toy, s), LOSSES.get(name, "augmented"), train,
                       anchors=anchors if "archetypal" in name else None)  # fmt: skip
    return sae


@torch.inference_mode()
def encode(sae: TopKSAE, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(dense latents (n, L), reconstructions (n, d_in)) of rows (n, d_in)."""
    x_hat, latents = sae(torch.as_tensor(rows, dtype=torch.float32))
    return sae.dense(Latents(latents.values, latents.indices)).numpy(), x_hat.numpy()


def _mse(orbits: np.ndarray, x_hat: np.ndarray, transforms: list | None = None) -> float:
    """Mean over rows of ||x - x_hat||^2; with T_p = M^p the equivariant reconstruction M^p x_hat of element p."""
    x_hat = x_hat.reshape(orbits.shape).astype(np.float64)
    if transforms is not None:
        x_hat = np.stack([x_hat[:, p] if t is None else x_hat[:, p] @ t.T for p, t in enumerate(transforms)], 1)
    return float(np.square(orbits - x_hat).sum(-1).mean())


def score(name: str, sae: TopKSAE, data: ToyData, toy: ToyConfig, generators: dict) -> list[dict]:
    """Rows for one trained SAE: MSE (per transformation for the equivariant ones) per row, as the fraction of
    variance unexplained (MSE / E||x||^2) and per coordinate (MSE / d), recovery, detection."""
    if name == "crosscoder":
        z_train, _ = encode(sae, crosscoder_inputs(data.train))
        z_test, x_hat = encode(sae, crosscoder_inputs(data.test))
        y_train, y_test, atoms = data.present_train, data.present_test, crosscoder_atoms(sae, toy.d)
        mses = {None: crosscoder_mse(data.test, x_hat)}
    else:
        z_train, _ = encode(sae, data.train.reshape(-1, toy.d))
        z_test, x_hat = encode(sae, data.test.reshape(-1, toy.d))
        y_train, y_test = (np.repeat(p, toy.order, axis=0) for p in (data.present_train, data.present_test))
        atoms = sae.dictionary_rows().detach().numpy()
        if name in LOSSES:
            mses = {how: _mse(data.test, x_hat, element_matrices([m], toy.group)) for how, m in generators.items()}
        else:
            mses = {None: _mse(data.test, x_hat)}
    # a feature absent from the test rows has no F1 (eqsae.probing.probe._f1): the mean is over the features present
    common = truth_scores(data.features, atoms, data.m, z_train, y_train, z_test, y_test, toy.order, toy.seed)
    energy = float(np.square(data.test.astype(np.float64)).sum(-1).mean())  # E||x||^2 over test rows
    return [dict(sae=name, transformation=how, reconstruction_mse=mse, reconstruction_fvu=mse / energy,
                 reconstruction_mse_per_coordinate=mse / toy.d, **common) for how, mse in mses.items()]


def run_toy(data: ToyData, toy: ToyConfig, s: ToySAESettings, saes=TOY_SAES) -> pd.DataFrame:
    """Train and score every SAE type in `saes` on one dataset; M is fitted from the training orbits."""
    unknown = set(saes) - set(TOY_SAES)
    if unknown:
        raise ValueError(f"unknown toy SAE types {sorted(unknown)}; known: {TOY_SAES}")
    start = time.perf_counter()
    fitted, _ = fit_generators(data.train, MFitConfig(epochs=s.m_epochs, batch_size=s.m_batch_size, lr=s.m_lr,
                                                      seed=toy.seed), group=toy.group)  # fmt: skip
    generators = {"true": data.m.astype(np.float64), "fitted": fitted[0].astype(np.float64)}
    anchors = None
    if any("archetypal" in name for name in saes):
        anchors = kmeans_anchors(data.train.reshape(-1, toy.d), s.anchors, seed=toy.seed)
    rows = []
    for name in saes:
        t0 = time.perf_counter()
        sae = train_toy_sae(name, data, toy, s, anchors)
        rows += [r | dict(seconds=time.perf_counter() - t0) for r in score(name, sae, data, toy, generators)]
        log.info("%s: %s (%.0f s)", name, rows[-1], rows[-1]["seconds"])
    log.info("toy N=%d |G|=%d %s seed %d: %.0f s", toy.n_features, toy.order, toy.canonical, toy.seed,
             time.perf_counter() - start)  # fmt: skip
    return pd.DataFrame(rows)
