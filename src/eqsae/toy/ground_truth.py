"""How well an SAE finds features that are known (v2's toy model): recovery, detection, symmetry class.

- Feature recovery: mean cosine between each true feature and the dictionary atom the Hungarian matching
  (one atom per feature, maximising the summed cosine) assigns to it; 1 for a dictionary holding the truth.
- Detection F1: per true feature, the m latents with the largest |mean when present - mean when absent| on
  the training rows (`eqsae.probing.probe.truncate`, the probes' own selection), a logistic probe on them, F1 on the
  test rows; mean over features. v2 reports m = 1 and m = 4.
- Symmetry class: the atlas's class (invariant / period 2 / period 4 / mixed, `eqsae.atlas.features`) of each true
  feature under the true M beside the class of its matched atom; their agreement.
"""

from __future__ import annotations

import numpy as np

from eqsae.group import ORDER
from eqsae.probing.probe import _f1, truncate

DETECTION_M = (1, 4)
"""Latents a detection probe reads per feature (v2 reports m = 1 and m = 4)."""


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def match_features(features: np.ndarray, atoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(atom id per true feature, its cosine): the Hungarian matching of (N, d) features to (L, d) atoms, L >= N,
    maximising the summed cosine (signed: features enter with non-negative coefficients)."""
    from scipy.optimize import linear_sum_assignment

    if len(atoms) < len(features):
        raise ValueError(f"{len(atoms)} atoms cannot match {len(features)} features one to one")
    cos = _unit(features) @ _unit(atoms).T
    rows, cols = linear_sum_assignment(cos, maximize=True)
    matched = np.empty(len(features), dtype=np.int64)
    matched[rows] = cols
    return matched, cos[np.arange(len(features)), matched]


def feature_recovery(features: np.ndarray, atoms: np.ndarray) -> float:
    """Mean cosine of the matched pairs (v2's feature recovery)."""
    return float(match_features(features, atoms)[1].mean())


def detection_f1(
    z_train: np.ndarray, present_train: np.ndarray, z_test: np.ndarray, present_test: np.ndarray, m: int,
    seed: int = 0,
) -> np.ndarray:  # fmt: skip
    """F1 per true feature of a logistic probe on its m most distinguishing latents. z: (rows, d_latent)
    dense latents; present: (rows, N) bool. A feature never (or always) present in training gets the constant
    prediction's F1; one absent from the test rows gets NaN (nothing to detect)."""
    from sklearn.linear_model import LogisticRegression

    chosen = truncate(z_train, present_train, m)
    out = np.empty(present_train.shape[1])
    for i, ids in enumerate(chosen):
        y_train, y_test = present_train[:, i], present_test[:, i]
        if y_train.all() or not y_train.any():
            out[i] = _f1(y_test, np.full(len(y_test), bool(y_train[0])))
            continue
        probe = LogisticRegression(random_state=seed).fit(z_train[:, ids], y_train)
        out[i] = _f1(y_test, probe.predict(z_test[:, ids]).astype(bool))
    return out


def class_agreement(features: np.ndarray, atoms: np.ndarray, m: np.ndarray, cfg=None) -> tuple[float, np.ndarray]:
    """Fraction of true features whose matched atom has the feature's own atlas class under M (C4-sized
    groups: the atlas's profile has p = 1..3), and the true classes."""
    from eqsae.atlas.features import AtlasConfig, classify, symmetry_profile

    cfg = cfg or AtlasConfig()
    matched, _ = match_features(features, atoms)
    truth = classify(symmetry_profile(features, m), cfg)
    found = classify(symmetry_profile(np.asarray(atoms, np.float64)[matched], m), cfg)
    return float(np.mean(truth == found)), truth


def truth_scores(features: np.ndarray, atoms: np.ndarray, m: np.ndarray, z_train: np.ndarray, y_train: np.ndarray,
                 z_test: np.ndarray, y_test: np.ndarray, order: int, seed: int = 0) -> dict[str, float]:  # fmt: skip
    """An SAE against the truth: recovery of the features by its atoms (L, d), detection F1 at each m of
    `DETECTION_M` from its dense latents (rows, L) and the features' presence (rows, N), mean over the features
    present in the test rows, and for |G| = 4 the symmetry classes' agreement under the true M."""
    out = {"feature_recovery": feature_recovery(features, atoms)}
    for k in DETECTION_M:
        out[f"detection_top{k}"] = float(np.nanmean(detection_f1(z_train, y_train, z_test, y_test, k, seed)))
    if order == ORDER:  # the atlas's symmetry profile is written for four elements
        out["class_agreement"] = class_agreement(features, atoms, m)[0]
    return out


def orbit_truth_scores(sae, train: np.ndarray, held_out: np.ndarray, present_train: np.ndarray,
                       present_held_out: np.ndarray, features: np.ndarray, m: np.ndarray,
                       seed: int = 0) -> dict[str, float]:  # fmt: skip
    """A TopK SAE of a source with planted features (the toy source) against its truth (`truth_scores`): recovery
    by its dictionary, detection F1 chosen and fitted on the training orbits' rows and scored on the held-out ones
    (present: (n, |G|, N) bool), and the symmetry classes' agreement under the true M (|G| = 4)."""
    from eqsae.models.sae import encode_orbits

    z_train, z_held = (sae.dense(encode_orbits(sae, orbits)).numpy() for orbits in (train, held_out))
    y_train, y_held = (p.reshape(-1, p.shape[-1]) for p in (present_train, present_held_out))
    atoms = sae.dictionary_rows().detach().cpu().numpy()
    return truth_scores(features, atoms, m, z_train, y_train, z_held, y_held, train.shape[1], seed)
