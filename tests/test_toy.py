"""v2's toy model: the planted features and transformation, the ground-truth metrics, the crosscoder, the tables."""

import numpy as np
import pandas as pd
import pytest

from eqsae.models.crosscoder import crosscoder_inputs, crosscoder_mse
from eqsae.toy.experiment import TOY_SAES, ToySAESettings, run_toy
from eqsae.toy.ground_truth import class_agreement, detection_f1, feature_recovery, match_features
from eqsae.toy.model import ToyConfig, cyclic_permutation, make_toy
from eqsae.toy.tables import summarize_toy, table3


@pytest.mark.parametrize("n", [8, 16, 18, 32])
def test_features_are_near_orthonormal(n):
    data = make_toy(ToyConfig(n, n_train=8, n_test=8))
    gram = data.features @ data.features.T
    np.testing.assert_allclose(np.diag(gram), 1.0, atol=1e-12)
    off = np.abs(gram - np.eye(n)).max()
    assert off < 1e-12 if n <= 16 else off < 0.6  # orthonormal up to d; a low-coherence frame beyond
    if n > 16:  # the frame beats random unit vectors, whose largest |cosine| at N = 32 in R^16 is ~0.7
        assert np.abs(gram - np.eye(n)).mean() < 0.2


@pytest.mark.parametrize("order", [2, 4, 8, 16, 32])
def test_the_transformation_has_the_stated_order_and_moves_the_features(order):
    data = make_toy(ToyConfig(8, order, n_train=8, n_test=8))
    m = data.m
    np.testing.assert_allclose(m @ m.T, np.eye(16), atol=1e-12)  # orthogonal: keeps norms and coefficients
    np.testing.assert_allclose(np.linalg.matrix_power(m, order), np.eye(16), atol=1e-9)
    for k in range(1, order):
        assert np.abs(np.linalg.matrix_power(m, k) - np.eye(16)).max() > 0.1
    moved = data.features @ m.T
    assert np.abs(np.einsum("ij,ij->i", moved, data.features)).max() < 0.9  # no feature stays put


def test_cyclic_permutation_orders():
    for d, order in [(16, 4), (16, 16), (16, 32), (6, 3)]:
        p = cyclic_permutation(d, order)
        assert np.allclose(np.linalg.matrix_power(p, order), np.eye(d))
        assert not np.allclose(np.linalg.matrix_power(p, order // 2), np.eye(d))


@pytest.mark.parametrize("canonical", ["fixed", "random", "orientation"])
def test_orbits_move_inputs_by_m_and_keep_coefficients(canonical):
    cfg = ToyConfig(16, 4, n_train=200, n_test=50, canonical=canonical, seed=3)
    data = make_toy(cfg)
    for p in range(1, 4):  # element p is M^p of the canonical representative
        np.testing.assert_allclose(data.train[:, p], data.train[:, 0] @ np.linalg.matrix_power(data.m, p).T,
                                   atol=1e-5)  # fmt: skip
    x = data.present_train.astype(float) @ data.features  # the generated input, whose features are canonical
    shifts = [min(range(4), key=lambda r: np.abs(row[0] - np.linalg.matrix_power(data.m, r) @ xi).max())
              for row, xi in zip(data.train, x)]  # fmt: skip
    assert set(shifts) == ({0, 1, 2, 3} if canonical == "random" else {0})
    by_orbit = {}  # random: one representative per orbit (set of present features), whichever row holds it
    for row, r in zip(data.present_train, shifts):
        assert by_orbit.setdefault(row.tobytes(), r) == r
    assert abs(data.present_train.mean() - 1 / 16) < 0.01
    again = make_toy(cfg)
    assert np.array_equal(again.train, data.train) and np.array_equal(again.present_test, data.present_test)


def test_orientation_representatives_turn_each_feature_once_for_the_whole_dataset():
    """Each true feature is the fixed reading's, turned by its own M^(r_i); the turns differ across features, and
    every input of the dataset holds the features in that one frame."""
    fixed, turned = (make_toy(ToyConfig(16, 4, n_train=100, n_test=20, canonical=c, seed=2))
                     for c in ("fixed", "orientation"))  # fmt: skip
    powers = [np.linalg.matrix_power(fixed.m, r) for r in range(4)]
    turns = [next(r for r in range(4) if np.allclose(powers[r] @ v, u, atol=1e-9))
             for v, u in zip(fixed.features, turned.features)]  # fmt: skip
    assert len(set(turns)) > 1
    np.testing.assert_array_equal(turned.present_train, fixed.present_train)
    np.testing.assert_allclose(turned.train[:, 0], turned.present_train @ turned.features, atol=1e-5)


def test_invariant_features_are_fixed_by_m():
    data = make_toy(ToyConfig(8, 4, invariant_features=2, n_train=8, n_test=8))
    np.testing.assert_allclose(data.features[:2] @ data.m.T, data.features[:2], atol=1e-12)
    np.testing.assert_allclose(data.features @ data.features.T, np.eye(8), atol=1e-12)
    agreement, truth = class_agreement(data.features, data.features, data.m)
    assert agreement == 1.0 and list(truth[:2]) == ["invariant", "invariant"] and "invariant" not in truth[2:]


def test_recovery_is_one_for_the_truth_and_matches_one_to_one():
    rng = np.random.default_rng(0)
    features = make_toy(ToyConfig(8, n_train=8, n_test=8)).features
    atoms = np.concatenate([rng.normal(size=(5, 16)), 3 * features[::-1]])  # permuted, scaled, with extras
    assert feature_recovery(features, atoms) == pytest.approx(1.0)
    matched, cos = match_features(features, atoms)
    assert list(matched) == list(range(12, 4, -1)) and np.allclose(cos, 1)
    # signed: the anti-features are worse matches than orthogonal atoms, so each feature gets one of those
    assert feature_recovery(features, -features) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="cannot match"):
        match_features(features, atoms[:3])


def test_detection_f1_is_one_for_a_latent_equal_to_the_indicator():
    rng = np.random.default_rng(0)
    present = rng.random((400, 3)) < 0.3
    z = np.concatenate([rng.random((400, 5)), present.astype(float)], axis=1)  # latents 5, 6, 7 are the truth
    f1 = detection_f1(z[:300], present[:300], z[300:], present[300:], m=1)
    np.testing.assert_allclose(f1, 1.0)
    noise = detection_f1(z[:300, :5], present[:300], z[300:, :5], present[300:], m=1)
    assert noise.max() < 0.8


def test_crosscoder_inputs_are_the_orbit_side_by_side():
    orbits = np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3)
    x = crosscoder_inputs(orbits)
    assert x.shape == (2, 12) and np.array_equal(x[1, 3:6], orbits[1, 1])
    assert crosscoder_mse(orbits, x) == 0.0
    assert crosscoder_mse(orbits, x + 1) == pytest.approx(3.0)  # per element, like an SAE's per-row MSE


def test_every_toy_sae_trains_and_scores():
    toy = ToyConfig(8, 4, n_train=64, n_test=32)
    settings = ToySAESettings(epochs=2, anchors=16, m_epochs=2)
    table = run_toy(make_toy(toy), toy, settings)
    assert list(table.sae.unique()) == list(TOY_SAES)
    equivariant = table[table.sae.str.startswith("equivariant")]
    assert len(equivariant) == 6 and set(equivariant.transformation) == {"true", "fitted"}
    assert table[~table.sae.str.startswith("equivariant")].transformation.isna().all()
    for metric in ("reconstruction_mse", "feature_recovery", "detection_top1", "detection_top4", "class_agreement"):
        assert np.isfinite(table[metric]).all(), metric
    data = make_toy(toy)
    energy = np.square(data.test.astype(np.float64)).sum(-1).mean()
    np.testing.assert_allclose(table.reconstruction_fvu, table.reconstruction_mse / energy)
    np.testing.assert_allclose(table.reconstruction_mse_per_coordinate, table.reconstruction_mse / 16)
    assert ((table.feature_recovery <= 1) & (table.detection_top4 <= 1)).all()


def test_summary_se_and_table3_beside_the_paper():
    rows = [dict(canonical="random", order=4, n_features=8, sae="equivariant_latent", transformation="true",
                 seed=s, reconstruction_mse=0.1 + 0.01 * s, feature_recovery=0.8, detection_top1=0.6,
                 detection_top4=0.9, class_agreement=1.0) for s in range(5)]  # fmt: skip
    summary = summarize_toy(pd.DataFrame(rows))
    mse = [0.1 + 0.01 * s for s in range(5)]
    assert summary.reconstruction_mse_se.item() == pytest.approx(np.std(mse, ddof=1) / np.sqrt(5))
    assert summary.reconstruction_mse_std.item() == pytest.approx(np.std(mse, ddof=1))
    t3 = table3(summary)
    assert len(t3) == 1 and t3.loss.item() == "latent" and t3.paper_feature_recovery.item() == 0.825
    assert t3.canonical.item() == "random"
    assert t3.feature_recovery_diff.item() == pytest.approx(0.8 - 0.825)


def test_the_toy_as_an_orbit_table_carries_its_features_and_truth(tmp_path):
    """orbits.source: toy: the training orbits then the test orbits, a yes/no label per planted feature on every
    element of its orbits, and the truth beside them, as `make_toy` draws them."""
    from eqsae.io import UnreadableFileError
    from eqsae.sources.orbit_table import read_orbit_table
    from eqsae.sources.toy import read_truth, toy_orbit_table

    cfg = ToyConfig(n_features=8, n_train=40, n_test=10, seed=3)
    assert toy_orbit_table(cfg, tmp_path / "t.parquet", tmp_path / "truth.npz") == 50
    data, table = make_toy(cfg), read_orbit_table(tmp_path / "t.parquet", order=4)
    np.testing.assert_array_equal(table.acts, np.concatenate([data.train, data.test]))
    assert sorted(table.labels) == sorted(f"feature_{i}" for i in range(8))
    present = np.concatenate([data.present_train, data.present_test])
    for i in range(8):
        assert (table.labels[f"feature_{i}"] == present[:, i : i + 1]).all()  # every element of the orbit
    features, m = read_truth(tmp_path / "truth.npz")
    np.testing.assert_array_equal(features, data.features)
    np.testing.assert_array_equal(m, data.m)
    np.savez(tmp_path / "bad.npz", features=features)
    with pytest.raises(UnreadableFileError, match="bad.npz: a toy source's truth needs arrays 'features' and 'm'"):
        read_truth(tmp_path / "bad.npz")


def test_truth_scores_of_an_sae_holding_the_truth():
    """A dictionary that is the truth recovers it (cosine 1), its latents detect each feature and its atoms have
    the features' own symmetry classes: the orbits branch's toy scores reach their ceiling."""
    from eqsae.toy.ground_truth import truth_scores

    data = make_toy(ToyConfig(n_features=8, n_train=400, n_test=200))
    y_train, y_test = (np.repeat(p, 4, axis=0) for p in (data.present_train, data.present_test))
    z_train, z_test = y_train.astype(float), y_test.astype(float)  # one latent per feature, its indicator
    atoms = np.concatenate([data.features, np.eye(16)[:4]])  # the truth and four spare atoms
    scores = truth_scores(data.features, atoms, data.m, z_train, y_train, z_test, y_test, order=4)
    assert scores["feature_recovery"] == pytest.approx(1.0)
    assert scores["detection_top1"] == pytest.approx(1.0) and scores["class_agreement"] == 1.0
    assert "class_agreement" not in truth_scores(data.features, atoms, data.m, z_train, y_train, z_test, y_test, 8)
