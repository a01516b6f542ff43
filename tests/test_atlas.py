"""The feature atlas on planted dictionaries with a known M, where every class, partner and split is known."""

import numpy as np
import pandas as pd
import pytest

from eqsae.atlas.features import (
    AtlasConfig,
    activity,
    best_concepts,
    classify,
    examples,
    isotypic_fractions,
    latent_table,
    orbit_match,
    orbit_strip,
    partners,
    rotation_response,
    summary,
    symmetry_profile,
    top_features,  # fmt: skip
)
from eqsae.fitting.diagnostics import m_diagnostics
from eqsae.group import rotate
from eqsae.paper.tables import atlas_census_over_seeds, atlas_redundancy
from eqsae.probing.tasks import Task

D = 12
# Planted atoms in the coordinates where M permutes: an orbit of 4 (e0 -> e1 -> e2 -> e3), an orbit of 2
# (e4 <-> e5), an invariant e6, and a mixed atom (e0 + 2 e6) / sqrt 5 (s_p = 0.8: partly kept).
PLANTED = ["period 4"] * 4 + ["period 2"] * 2 + ["invariant", "mixed"]


def planted(seed: int = 0):
    """(dictionary, M) in a random orthonormal basis, so nothing lines up with the coordinates by accident."""
    perm = np.eye(D)
    perm[:, [0, 1, 2, 3, 4, 5]] = perm[:, [1, 2, 3, 0, 5, 4]]  # M e_i = column i
    atoms = np.eye(D)[:8]
    atoms[7] = (np.eye(D)[0] + 2 * np.eye(D)[6]) / np.sqrt(5)
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(D, D)))
    return atoms @ q.T, q @ perm @ q.T


def test_planted_classes_are_recovered_exactly():
    dictionary, m = planted()
    assert list(classify(symmetry_profile(dictionary, m), AtlasConfig())) == PLANTED


def test_planted_partners_are_recovered_exactly():
    dictionary, m = planted()
    live = np.ones(len(dictionary), bool)
    found = partners(dictionary, m, live)
    # the orbit of 4 turns one step per p; the orbit of 2 swaps at odd p and returns at p = 2; e6 stays
    assert list(found.partner_1[:7]) == [1, 2, 3, 0, 5, 4, 6]
    assert list(found.partner_2[:7]) == [2, 3, 0, 1, 4, 5, 6]
    assert list(found.partner_3[:7]) == [3, 0, 1, 2, 5, 4, 6]
    assert np.allclose(found[[f"partner_cos_{p}" for p in (1, 2, 3)]].to_numpy()[:7], 1)
    # a turned copy exists for the two orbits, not for the invariant atom (only its mixed neighbour, unturned)
    assert np.allclose(found.rotated_partner_cos[:6], 1)  # any other member of its orbit (they tie)
    assert all(j in {0, 1, 2, 3} - {i} for i, j in enumerate(found.rotated_partner[:4]))
    assert list(found.rotated_partner[4:6]) == [5, 4]
    assert abs(found.rotated_partner_gain[6]) < 1e-9 and np.allclose(found.rotated_partner_gain[:6], 1)


def test_isotypic_fractions_sum_to_one_and_split_the_planted_atoms():
    dictionary, m = planted()
    iso = isotypic_fractions(dictionary, m)
    parts = iso[["iso_invariant", "iso_sign", "iso_rotation"]].to_numpy()
    assert np.allclose(parts.sum(axis=1), 1) and np.allclose(iso.iso_raw_total, 1)  # M orthogonal, M^4 = I
    assert np.allclose(parts[0], [0.25, 0.25, 0.5]) and np.allclose(parts[4], [0.5, 0.5, 0])
    assert np.allclose(parts[6], [1, 0, 0])
    assert np.allclose(symmetry_profile(dictionary, m).order_residual, 0, atol=1e-12)


def test_a_non_representation_shows_in_the_order_residual_and_the_raw_total():
    dictionary, m = planted()
    profile = symmetry_profile(dictionary, 1.1 * m)
    assert np.allclose(profile.order_residual, 1.1**4 - 1) and np.allclose(profile.norm_ratio_1, 1.1)
    iso = isotypic_fractions(dictionary, 1.1 * m)
    assert np.allclose(iso[["iso_invariant", "iso_sign", "iso_rotation"]].sum(axis=1), 1)  # normalised anyway
    assert not np.allclose(iso.iso_raw_total, 1)


def test_thresholds_must_leave_a_gap():
    with pytest.raises(ValueError, match="moved < tau"):
        AtlasConfig(tau=0.5, moved=0.6)


# An exactly equivariant linear toy: psi is a 4 x 4 image, the decoder reads it as pixels, M turns it.
SIDE = 4


def pixel_decoder(psi: np.ndarray) -> np.ndarray:
    return psi.reshape(len(psi), SIDE, SIDE)


def pixel_turn() -> np.ndarray:
    basis = np.eye(SIDE * SIDE).reshape(-1, SIDE, SIDE)
    return np.stack([rotate(b, 1).ravel() for b in basis], axis=1)  # column i = M e_i


def test_the_orbit_strips_rows_agree_for_an_exactly_equivariant_decoder():
    rng = np.random.default_rng(0)
    dictionary, a_bar, alpha = rng.normal(size=(5, SIDE * SIDE)), rng.normal(size=SIDE * SIDE), rng.uniform(1, 3, 5)
    through_m, by_pixels = orbit_strip(pixel_decoder, a_bar, dictionary, pixel_turn(), alpha)
    assert through_m.shape == (5, 4, SIDE, SIDE) and np.allclose(through_m, by_pixels)
    assert np.allclose(orbit_match(pixel_decoder, a_bar, dictionary, pixel_turn(), alpha), 1)
    # M = I draws the same picture at every p: it matches rot90^p only where the picture is symmetric
    assert (orbit_match(pixel_decoder, a_bar, dictionary, np.eye(SIDE * SIDE), alpha) < 0.9).all()


def test_activity_and_best_concept_from_topk_latents():
    # 4 rows, K = 2, 3 latents: latent 0 fires on rows 0 and 1 (values 2 and 4), latent 2 on row 3, 1 never
    values = np.array([[2.0, 0.0], [4.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
    indices = np.array([[0, 1], [0, 1], [1, 2], [2, 1]])
    act = activity(values, indices, 3)
    assert list(act.density) == [0.5, 0, 0.25] and list(act.dead) == [False, True, False]
    assert list(act.mean_activation) == [3, 0, 1] and list(act.max_activation) == [4, 0, 1]
    labels = np.array([[1, 0], [1, 0], [0, 0], [0, 1]], bool)
    tasks = [Task("S", 0), Task("S", 1)]
    concepts = best_concepts(values, indices, 3, labels, tasks)
    assert list(concepts.concept) == [tasks[0].name, tasks[0].name, tasks[1].name]
    assert list(concepts.concept_f1) == [1, 0, 1]


def test_examples_and_rotation_response_read_the_right_rows():
    column = np.zeros(12)  # 3 images x 4 rotations
    column[[1, 6, 11]] = [5.0, 3.0, 1.0]
    shown = examples(column, 1, 2, np.random.default_rng(0))
    assert list(shown["top"]) == [1] and list(shown["quantiles"]) == [6, 11] and set(shown["random"]) <= {1, 6, 11}
    column[0] = 4.0  # the same image as row 1, less active: shown once, at row 1
    assert list(examples(column, 3, 0, np.random.default_rng(0))["top"]) == [1, 6, 11]
    # row 6 is image 1 at p0 = 2: its response runs over rows 6, 7, 4, 5
    column[[7, 4, 5]] = [0.5, 0.25, 0.125]
    assert list(rotation_response(column, np.array([6]))[0]) == [3.0, 0.5, 0.25, 0.125]


def test_latent_table_and_census_on_the_planted_dictionary():
    dictionary, m = planted()
    rows = 8
    indices = np.tile(np.arange(8), (rows, 1))[:, :2] + np.arange(rows)[:, None] % 4 * 2  # every atom fires
    values = np.ones(indices.shape)
    labels = np.zeros((rows, 1), bool)
    decode = lambda psi: np.pad(psi.reshape(len(psi), 3, 4), ((0, 0), (0, 1), (0, 0)))  # noqa: E731 (square)
    table = latent_table(dictionary, m, values, indices, labels, [Task("S", 0)], decode, np.zeros(D), AtlasConfig())
    assert list(table["class"]) == PLANTED and not table.dead.any()
    census = summary(table, AtlasConfig())
    assert census["n_live"] == 8 and census["n_period4"] == 4 and census["n_invariant"] == 1
    assert census["redundancy"] == 6 / 8  # the two orbits hold their turned copies; e6 and the mixed atom do not
    assert table.orbit_corr_unturned.notna().all()
    assert top_features(table, 3) == [0, 1, 2] or len(top_features(table, 3)) == 3


def test_census_tables_carry_the_seed_spread():
    seeds = pd.DataFrame([dict(seed=s, base_model="cnn", sae_training="paper", variant=v, k=16, n_live=50 + s,
                               redundancy=r + 0.01 * s, orbit_match=0.5) for v, r in (("regular", 0.7),
                               ("equivariant", 0.0)) for s in range(3)])  # fmt: skip
    census = atlas_census_over_seeds(seeds)
    assert list(census.n_seeds) == [3, 3] and np.allclose(census.redundancy_se, 0.01 / np.sqrt(3))
    assert list(atlas_redundancy(census).columns[-6:]) == ["n_live_mean", "n_live_se", "redundancy_mean",
                                                          "redundancy_se", "orbit_match_mean", "orbit_match_se"]
    assert "n_seeds" in atlas_redundancy(census) and "variant" in atlas_redundancy(census)


def test_m_diagnostics_of_an_exact_representation():
    rng = np.random.default_rng(0)
    m = pixel_turn()
    psi = rng.normal(size=(50, SIDE * SIDE))
    orbits = np.stack([psi @ np.linalg.matrix_power(m, p).T for p in range(4)], axis=1)
    summary_, arrays = m_diagnostics(m, orbits)
    assert summary_["eigenvalue_distance_mean"] < 1e-9 and summary_["eigenvalues_near_root"] == 1
    assert summary_["eigenvalue_distance_mean_on_span"] < 1e-9 and summary_["span_leak"] < 1e-9
    assert summary_["m4_residual_on_span"] < 1e-9 and summary_["equivariance_error_median"] < 1e-9
    assert summary_["identity_error_median"] > 0.5 and len(arrays["error"]) == 150
