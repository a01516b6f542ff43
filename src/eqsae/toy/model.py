"""v2's toy model with planted features: inputs x = sum_i c_i v_i in R^d whose true features are known, and a
known transformation M of order |G| that moves the features and keeps the coefficients.

Our reading of v2 (it gives no formulas): the N canonical features v_i are near-orthonormal (exactly
orthonormal for N <= d, a low-coherence unit-norm frame beyond); c_i ~ Bernoulli(1/N) independently; M = Q P Q^T
with Q a random rotation and P a permutation of the coordinates in cycles of length |G| (for |G| <= d dividing
d; a signed d-cycle, order 2d, for |G| = 2d), so M is orthogonal with M^|G| = I and moves a generic feature to
|G| distinct directions. An orbit is {M^p x0 : p < |G|} around its canonical representative x0: the generated
x itself (`fixed`), M^r x with r a random function of the orbit (`random`, v2's Table 3), or the x made of the
features each in a seeded random orientation M^(r_i) v_i, drawn once per dataset (`orientation`: one
representative per orbit in a consistent frame, where under `random` each feature appears in the canonical
inputs in all |G| orientations while recovery is scored against the unturned ones). Under `orientation` the
true features are the turned ones, as the canonical inputs hold them. With binary
coefficients an orbit is its set of present features, so r is drawn once per such set (a seeded hash of it):
the same orbit always has the same representative, which the input determines. Drawing r afresh for every
sample instead would make the target unidentifiable (the best reconstruction would be the orbit's mean, an MSE
of about 1 - 1/|G| of ||x||^2), which v2's Table 3 (MSE ~0.1 at every N) rules out. Everything is seeded.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Literal

import numpy as np

from eqsae.group import Group

Canonical = Literal["fixed", "random", "orientation"]
CANONICAL: tuple[str, ...] = ("fixed", "random", "orientation")
FRAME_ITERATIONS = 100
"""Alternating projections towards a unit-norm tight frame (over-complete features only)."""


@dataclass(frozen=True)
class ToyConfig:
    """One toy dataset: N features in R^d, orbits of |G| = `order`, n_train + n_test orbits."""

    n_features: int
    order: int = 4
    d: int = 16
    n_train: int = 8192
    n_test: int = 1024
    canonical: Canonical = "fixed"
    invariant_features: int = 0
    """How many of the N features lie in M's fixed subspace (M v = v); 0 in v2."""
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_features < 1 or self.d < 2 or self.n_train < 1 or self.n_test < 1:
            raise ValueError(f"toy sizes must be positive (n_features, n_train, n_test >= 1, d >= 2), got {self}")
        if not (self.order >= 2 and (self.d % self.order == 0 or self.order == 2 * self.d)):
            raise ValueError(f"toy order {self.order} must divide d = {self.d} or be 2d = {2 * self.d}")
        fixed_dim = self.d // self.order if self.d % self.order == 0 else 0
        if not 0 <= self.invariant_features <= min(fixed_dim, self.n_features):
            raise ValueError(f"invariant_features must be in 0..{min(fixed_dim, self.n_features)} (M's fixed "
                             f"subspace has dimension {fixed_dim}), got {self.invariant_features}")  # fmt: skip
        if self.canonical not in CANONICAL:
            raise ValueError(f"canonical must be one of {CANONICAL}, got {self.canonical!r}")

    @property
    def group(self) -> Group:
        """The cyclic group of the orbits (one generator, M)."""
        return Group(f"C{self.order}", (self.order,))


@dataclass(frozen=True)
class ToyData:
    features: np.ndarray
    """(N, d) the true features as the canonical inputs hold them, unit norm: v_i (under `orientation`
    M^(r_i) v_i)."""
    m: np.ndarray
    """(d, d) the true transformation, orthogonal, M^|G| = I."""
    train: np.ndarray
    """(n_train, |G|, d) float32 orbits, element p = M^p x0 (x0 the canonical representative)."""
    test: np.ndarray
    present_train: np.ndarray
    """(n_train, N) bool: c_i, the same for every element of an orbit (M keeps the coefficients)."""
    present_test: np.ndarray


def cyclic_permutation(d: int, order: int) -> np.ndarray:
    """(d, d) P: coordinates in cycles of length `order` (signed d-cycle for order 2d), P^order = I."""
    p = np.zeros((d, d))
    if d % order == 0:
        for i in range(d):
            start = i - i % order
            p[start + (i - start + 1) % order, i] = 1.0
    else:  # order == 2d: e_i -> e_{i+1}, e_{d-1} -> -e_0
        for i in range(d):
            p[(i + 1) % d, i] = 1.0 if i < d - 1 else -1.0
    return p


def random_rotation(d: int, rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(d, d)))
    return q * np.sign(np.diag(r))  # Haar: fix the signs QR leaves arbitrary


def toy_transformation(d: int, order: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """M = Q P Q^T and a basis (d // order, d) of its fixed subspace (empty for the signed cycle)."""
    q = random_rotation(d, rng)
    m = q @ cyclic_permutation(d, order) @ q.T
    if d % order:
        return m, np.zeros((0, d))
    sums = np.zeros((d // order, d))
    for c in range(d // order):
        sums[c, c * order : (c + 1) * order] = 1 / np.sqrt(order)  # the sum of a cycle's coordinates is fixed
    return m, sums @ q.T


def near_orthonormal(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """(n, d) unit rows: orthonormal for n <= d, else a unit-norm frame pushed towards tight (low coherence)."""
    v = rng.normal(size=(max(n, d), d))
    if n <= d:
        return random_rotation(d, rng)[:n] if n == d else np.linalg.qr(v[:d].T)[0].T[:n]
    for _ in range(FRAME_ITERATIONS):
        u, _, wt = np.linalg.svd(v, full_matrices=False)
        v = u @ wt
        v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


def toy_features(cfg: ToyConfig, m: np.ndarray, fixed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """N canonical features: the first `invariant_features` orthonormal in M's fixed subspace, the rest
    near-orthonormal (orthogonal to those) and generic, so M moves them."""
    k = cfg.invariant_features
    inv = (random_rotation(len(fixed), rng)[:k] @ fixed) if k else np.zeros((0, cfg.d))
    moved = near_orthonormal(cfg.n_features - k, cfg.d, rng)
    if k and cfg.n_features - k <= cfg.d - k:  # keep the moved features orthogonal to the invariant ones
        basis = np.linalg.qr(np.concatenate([inv, rng.normal(size=(cfg.d - k, cfg.d))]).T)[0].T[k:]
        moved = near_orthonormal(cfg.n_features - k, cfg.d - k, rng) @ basis
    return np.concatenate([inv, moved]).astype(np.float64)


def representatives(present: np.ndarray, order: int, seed: int) -> np.ndarray:
    """r per row: a seeded hash of the set of present features mod |G|, the same for every row with that set."""
    salt = int(seed).to_bytes(8, "little")
    packed = np.packbits(present, axis=1)
    return np.array([zlib.crc32(salt + row.tobytes()) % order for row in packed], dtype=np.int64)


def turned(features: np.ndarray, m: np.ndarray, turns: np.ndarray) -> np.ndarray:
    """Each feature v_i turned to M^(turns_i) v_i."""
    out = features.copy()
    for i, r in enumerate(turns):
        for _ in range(int(r)):
            out[i] = m @ out[i]
    return out


def _orbits(cfg: ToyConfig, features: np.ndarray, m: np.ndarray, n: int, rng: np.random.Generator):
    present = rng.random((n, cfg.n_features)) < 1 / cfg.n_features
    x = present.astype(np.float64) @ features
    powers = [np.eye(cfg.d)]
    for _ in range(cfg.order - 1):
        powers.append(m @ powers[-1])
    shift = representatives(present, cfg.order, cfg.seed) if cfg.canonical == "random" else np.zeros(n, dtype=int)
    orbits = np.empty((n, cfg.order, cfg.d), dtype=np.float32)
    for p in range(cfg.order):
        for r in np.unique(shift):
            rows = shift == r
            orbits[rows, p] = x[rows] @ powers[(p + r) % cfg.order].T
    return orbits, present


def make_toy(cfg: ToyConfig) -> ToyData:
    """The dataset `cfg` describes; the same config gives the same arrays."""
    rng = np.random.default_rng([cfg.seed, cfg.n_features, cfg.order])
    m, fixed = toy_transformation(cfg.d, cfg.order, rng)
    features = toy_features(cfg, m, fixed, rng)
    if cfg.canonical == "orientation":  # its own stream: the same orbits as `fixed`, features turned
        turns = np.random.default_rng([cfg.seed, cfg.n_features, cfg.order, 1]).integers(0, cfg.order, len(features))
        features = turned(features, m, turns)
    train, present_train = _orbits(cfg, features, m, cfg.n_train, rng)
    test, present_test = _orbits(cfg, features, m, cfg.n_test, rng)
    return ToyData(features, m, train, test, present_train, present_test)
