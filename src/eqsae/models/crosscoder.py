"""The group crosscoder baseline (Gorton 2024, "Group Crosscoders for Mechanistic Analysis of Symmetry"; v2
uses it on the toy model only): a TopK SAE whose input is a whole orbit, psi(g^0 x0), ..., psi(g^(|G|-1) x0)
concatenated from its canonical representative x0, so each dictionary vector has |G| blocks, one per element.

Gorton's code is not public; we followed the paper's description: concatenate the transformed activations,
encode them together, decode every block, train on the summed squared error (our TopKSAE on |G| d inputs,
unit-norm dictionary vectors over all blocks). The feature a latent stands for is its canonical block.
"""

from __future__ import annotations

import numpy as np


def crosscoder_inputs(orbits: np.ndarray) -> np.ndarray:
    """(n, |G| d): each orbit's elements side by side, the canonical one first."""
    return np.ascontiguousarray(orbits.reshape(len(orbits), -1))


def crosscoder_atoms(sae, d: int) -> np.ndarray:
    """(L, d) the canonical block of every dictionary vector: the feature each latent reads."""
    return sae.dictionary_rows().detach().numpy()[:, :d]


def crosscoder_mse(orbits: np.ndarray, x_hat: np.ndarray) -> float:
    """Mean over orbit elements of ||x - x_hat||^2, comparable with an SAE's per-row MSE."""
    x_hat = np.asarray(x_hat, np.float64).reshape(orbits.shape)
    return float(np.square(orbits - x_hat).sum(-1).mean())
