"""How well a fitted M represents C4 (the atlas' M diagnostics): eigenvalues against the 4th roots of unity,
||M^4 - I|| on and off the activations' span, the per-sample equivariance error.

Apart from eqsae.fitting.transform, which fits M: checking M must not re-run its fit.
"""

from __future__ import annotations

import numpy as np

from eqsae.group import ORDER


def _span(acts: np.ndarray, energy: float) -> np.ndarray:
    """Orthonormal basis (d, r) of the directions holding `energy` of the activations' squared norm."""
    _, s, vt = np.linalg.svd(np.asarray(acts, np.float64), full_matrices=False)
    r = int(np.searchsorted(np.cumsum(s**2) / np.sum(s**2), energy) + 1)
    return vt[: min(r, len(s))].T


def m_diagnostics(m: np.ndarray, orbits: np.ndarray, energy: float = 0.9999) -> tuple[dict, dict[str, np.ndarray]]:
    """How well M represents C4 on held-out orbits (n, |G|, d): its eigenvalues against the |G|-th roots of
    unity, for the whole M and for M on the activations' span (V^T M V, V the directions holding `energy` of
    their squared norm; `span_leak`: RMS ||M v - V V^T M v|| over v in V, 0 when M keeps the span),
    ||M^|G| - I|| per unit direction (RMS) on the span and off it, and the per-sample equivariance error
    ||psi(g^p x) - M^p psi(x)|| / ||psi(g^p x)|| (also for M = I, the baseline). Returns a summary and the
    arrays the figure draws."""
    m64 = np.asarray(m, np.float64)
    eig = np.linalg.eigvals(m64)
    roots = np.exp(2j * np.pi * np.arange(ORDER) / ORDER)
    distance = np.abs(eig[:, None] - roots[None]).min(axis=1)
    x = orbits.reshape(-1, orbits.shape[-1])
    on = _span(x, energy)
    # M on the span, V^T M V: the honest eigenvalues. The full M's are those of a non-normal matrix whose
    # off-span block nothing constrains, and can sit far from the roots while M represents C4 on the data.
    restricted = on.T @ m64 @ on
    eig_on = np.linalg.eigvals(restricted)
    distance_on = np.abs(eig_on[:, None] - roots[None]).min(axis=1)
    leak = np.linalg.norm(m64 @ on - on @ restricted) / np.sqrt(max(on.shape[1], 1))
    off = np.linalg.svd(on, full_matrices=True)[0][:, on.shape[1] :]
    residual = np.linalg.matrix_power(m64, ORDER) - np.eye(len(m64))

    def rms(basis: np.ndarray) -> float | None:
        return float(np.linalg.norm(residual @ basis) / np.sqrt(basis.shape[1])) if basis.shape[1] else None

    errors, identity = {}, {}
    psi = orbits[:, 0].astype(np.float64)
    for p in range(1, ORDER):
        target = orbits[:, p].astype(np.float64)
        scale = np.maximum(np.linalg.norm(target, axis=1), 1e-12)
        errors[p] = np.linalg.norm(target - psi @ np.linalg.matrix_power(m64, p).T, axis=1) / scale
        identity[p] = np.linalg.norm(target - psi, axis=1) / scale
    error, error_identity = np.concatenate(list(errors.values())), np.concatenate(list(identity.values()))
    summary = {
        "eigenvalue_distance_mean": float(distance.mean()),
        "eigenvalues_near_root": float((distance < 0.05).mean()),
        "eigenvalue_distance_mean_on_span": float(distance_on.mean()),
        "eigenvalues_near_root_on_span": float((distance_on < 0.05).mean()),
        "span_rank": int(on.shape[1]),
        "span_leak": float(leak),
        "m4_residual_on_span": rms(on),
        "m4_residual_off_span": rms(off),
        "m4_residual_on_data": float(np.median(np.linalg.norm(x @ residual.T, axis=1) /
                                               np.maximum(np.linalg.norm(x, axis=1), 1e-12))),  # fmt: skip
        "equivariance_error_median": float(np.median(error)),
        "equivariance_error_mean": float(error.mean()),
        **{f"equivariance_error_median_p{p}": float(np.median(e)) for p, e in errors.items()},
        "identity_error_median": float(np.median(error_identity)),
    }
    return summary, {"eigenvalues": eig, "eigenvalues_on_span": eig_on, "error": error,
                     "identity_error": error_identity}
