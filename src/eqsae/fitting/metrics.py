"""R^2 between true and predicted activations, in the three readings we report (the paper is silent).

All take (n, d) arrays: n samples, d activation coordinates.
"""

from __future__ import annotations

import numpy as np

R2_KINDS = ("pooled", "flat", "uniform")


def r2_pooled(y: np.ndarray, y_hat: np.ndarray) -> float:
    """1 - SS_res / SS_tot summed over coordinates, SS_tot about each coordinate's mean (primary)."""
    y, y_hat = np.asarray(y, np.float64), np.asarray(y_hat, np.float64)
    return float(1 - ((y - y_hat) ** 2).sum() / ((y - y.mean(axis=0)) ** 2).sum())


def r2_flat(y: np.ndarray, y_hat: np.ndarray) -> float:
    """As pooled, but SS_tot about one global mean (what r2_score on flattened arrays gives)."""
    y, y_hat = np.asarray(y, np.float64), np.asarray(y_hat, np.float64)
    return float(1 - ((y - y_hat) ** 2).sum() / ((y - y.mean()) ** 2).sum())


def r2_uniform(y: np.ndarray, y_hat: np.ndarray) -> float:
    """Mean of per-coordinate R^2 (sklearn's default); a constant coordinate scores 1 if matched, else 0."""
    y, y_hat = np.asarray(y, np.float64), np.asarray(y_hat, np.float64)
    ss_res = ((y - y_hat) ** 2).sum(axis=0)
    ss_tot = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    constant = ss_tot == 0
    per_coord = np.where(constant, (ss_res == 0).astype(float), 1 - ss_res / np.where(constant, 1, ss_tot))
    return float(per_coord.mean())


def r2_all(y: np.ndarray, y_hat: np.ndarray) -> dict[str, float]:
    return {"pooled": r2_pooled(y, y_hat), "flat": r2_flat(y, y_hat), "uniform": r2_uniform(y, y_hat)}


def mean_shift_share(y: np.ndarray, y_hat: np.ndarray) -> float:
    """The share of SS_res that is the shift between the means, n ||mean(y) - mean(y_hat)||^2 / SS_res; the
    rest is the covariance part, the residual of the centred predictions. A prediction that is right up to a
    constant offset has a share of 1."""
    y, y_hat = np.asarray(y, np.float64), np.asarray(y_hat, np.float64)
    ss_res = ((y - y_hat) ** 2).sum()
    shift = len(y) * ((y.mean(axis=0) - y_hat.mean(axis=0)) ** 2).sum()
    return float(shift / ss_res) if ss_res else 0.0
