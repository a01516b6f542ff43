import numpy as np
import pytest
import torch
from sklearn.metrics import r2_score

from eqsae.fitting.metrics import r2_flat, r2_pooled, r2_uniform
from eqsae.fitting.transform import fit_m, orbit_loss, order_penalty, r2_per_element, result1_table
from eqsae.io import NonFiniteError
from eqsae.pipeline.config import MFitConfig


def planted_order4_map(d: int, rng: np.random.Generator) -> np.ndarray:
    """A random linear map with M^4 = I and no smaller period: quarter turns in random 2-planes."""
    blocks = np.zeros((d, d))
    for i in range(0, d - d % 2, 2):
        blocks[i : i + 2, i : i + 2] = [[0, -1], [1, 0]]
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return q @ blocks @ q.T


def planted_orbits(m0: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    x = rng.normal(size=(n, len(m0))) + rng.normal(size=len(m0))
    return np.stack([x @ np.linalg.matrix_power(m0, p).T for p in range(4)], axis=1).astype(np.float32)


@pytest.fixture
def planted():
    rng = np.random.default_rng(0)
    m0 = planted_order4_map(16, rng)
    return m0, planted_orbits(m0, 512, rng), planted_orbits(m0, 256, rng)


@pytest.mark.slow
def test_fit_m_recovers_a_planted_order4_map(planted):
    m0, train, heldout = planted
    assert np.allclose(np.linalg.matrix_power(m0, 4), np.eye(16)) and not np.allclose(m0 @ m0, np.eye(16))
    m, history = fit_m(train, MFitConfig(epochs=30, batch_size=64, lr=3e-2, seed=0))
    r2 = r2_per_element([m], heldout)
    assert list(r2["element"]) == [1, 2, 3]
    assert (r2[["pooled", "flat", "uniform"]] > 0.999).all().all()
    assert history[-1].loss < 1e-3 * history[0].loss
    np.testing.assert_allclose(m, m0, atol=0.02)


def test_identity_is_a_poor_baseline_on_a_rotating_code(planted):
    m0, _, heldout = planted
    table = result1_table(m0, heldout, "toy")
    assert list(table["element"]) == ["1", "2", "3", "mean", "std"]
    assert {"base_model", "group", "r2_learned", "r2_identity"} <= set(table.columns)
    learned = table.set_index("element")["r2_learned"]
    assert learned["mean"] == pytest.approx(1.0) and learned["std"] == pytest.approx(0.0, abs=1e-9)
    assert (table["r2_identity"].iloc[:3] < 0.5).all()


def test_lstsq_start_is_already_exact(planted):
    m0, train, _ = planted
    m, _ = fit_m(train, MFitConfig(epochs=1, lr=1e-6, init="lstsq"))
    np.testing.assert_allclose(m, m0, atol=1e-3)


@pytest.mark.slow
def test_order_penalty_pulls_m4_towards_identity():
    """Where activations do not transform linearly (here: weak independent noise), Eq. 3 alone shrinks M
    towards zero, so M^4 != I; the penalty keeps M an order-4 map at little cost in fit."""
    rng = np.random.default_rng(1)
    m0 = planted_order4_map(4, rng)
    strong = rng.normal(size=(512, 4))
    orbits = np.concatenate(
        [np.stack([strong @ np.linalg.matrix_power(m0, p).T for p in range(4)], axis=1),
         0.1 * rng.normal(size=(512, 4, 8))], axis=2,
    ).astype(np.float32)  # fmt: skip
    cfg = dict(epochs=30, lr=3e-2)
    free, _ = fit_m(orbits, MFitConfig(**cfg))
    tied, _ = fit_m(orbits, MFitConfig(**cfg, order_penalty=0.01))
    gap = lambda m: float(order_penalty(torch.as_tensor(m)))  # noqa: E731
    assert gap(free) > 1.0
    assert gap(tied) < 0.1 * gap(free)
    strong_fit = lambda m: r2_per_element([m[:4, :4]], orbits[:, :, :4])["pooled"].min()  # noqa: E731
    assert strong_fit(tied) > 0.99 and strong_fit(free) > 0.99


def test_orbit_loss_is_zero_for_the_true_map(planted):
    m0, train, _ = planted
    assert orbit_loss(torch.as_tensor(m0, dtype=torch.float32), torch.as_tensor(train)) < 1e-10
    assert orbit_loss(torch.eye(16), torch.as_tensor(train)) > 0.1


def test_r2_readings_match_their_definitions():
    rng = np.random.default_rng(2)
    y = rng.normal(size=(200, 6)) * rng.uniform(0.1, 5, size=6) + rng.normal(size=6) * 3
    y_hat = y + rng.normal(size=y.shape)
    assert r2_uniform(y, y_hat) == pytest.approx(r2_score(y, y_hat))
    assert r2_flat(y, y_hat) == pytest.approx(r2_score(y.ravel(), y_hat.ravel()))
    ss_res, ss_tot = ((y - y_hat) ** 2).sum(), ((y - y.mean(0)) ** 2).sum()
    assert r2_pooled(y, y_hat) == pytest.approx(1 - ss_res / ss_tot)
    assert r2_pooled(y, np.broadcast_to(y.mean(0), y.shape)) == pytest.approx(0.0, abs=1e-12)
    assert r2_pooled(y, y) == r2_flat(y, y) == r2_uniform(y, y) == 1.0


def test_mean_shift_share_splits_the_residual_into_offset_and_covariance():
    from eqsae.fitting.metrics import mean_shift_share

    rng = np.random.default_rng(3)
    y = rng.normal(size=(300, 5))
    assert mean_shift_share(y, y + np.array([1.0, -2, 0, 0, 3])) == pytest.approx(1.0)  # only an offset
    noise = rng.normal(size=y.shape)
    assert mean_shift_share(y, y + noise - noise.mean(0)) == pytest.approx(0.0, abs=1e-12)  # only covariance
    offset = np.full(5, 0.5)
    ss_res = ((y - (y + noise + offset)) ** 2).sum()
    shifted = len(y) * ((noise.mean(0) + offset) ** 2).sum()
    assert mean_shift_share(y, y + noise + offset) == pytest.approx(shifted / ss_res)


def test_result1_reports_the_shift_share_and_the_readings_after_the_relu(planted):
    from eqsae.paper.tables import beside_paper, identity_reading, result1_over_seeds

    m, _, orbits = planted
    table = result1_table(m, orbits, "mlp", post_relu=True)
    relu = [c for c in table.columns if "_relu" in c]
    assert relu == ["r2_learned_relu", "r2_identity_relu", "r2_learned_relu_flat", "r2_identity_relu_flat",
                    "r2_learned_relu_uniform", "r2_identity_relu_uniform"]  # fmt: skip
    row = table.iloc[0]
    moved = np.maximum(orbits[:, 1], 0)
    assert row.r2_identity_relu == pytest.approx(r2_pooled(moved, np.maximum(orbits[:, 0], 0)))
    assert 0 <= row.shift_share_identity <= 1 and "r2_learned_relu" not in result1_table(m, orbits, "mlp")
    summary = beside_paper(result1_over_seeds(table.assign(seed=0)))
    mean = summary[summary.element == "mean"]
    assert mean.paper_r2_identity.item() == 0.49 and summary[summary.element != "mean"].paper_r2_identity.isna().all()
    sentence = identity_reading(summary, "shapes oriented by image")
    assert sentence.startswith("M = I (shapes oriented by image): the paper's 0.49 for the MLP is nearest our")


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="epochs"):
        MFitConfig(epochs=0)
    with pytest.raises(ValueError, match="init"):
        MFitConfig(init="random")
    with pytest.raises(ValueError, match="order_penalty"):
        MFitConfig(order_penalty=-1)


def test_a_diverging_m_fit_stops_with_its_settings(planted):
    _, train, _ = planted
    with pytest.raises(NonFiniteError, match=r"fit M: training loss (nan|inf) at epoch 1/3 with MFitConfig\(epochs=3"):
        fit_m(train, MFitConfig(epochs=3, lr=1e30))



def test_an_m_fit_that_diverges_and_stays_finite_stops_with_its_numbers(planted):
    """Learning rate 10 ends 1e13 times above the loss of M = 0, finite; learning rate 1 is bad but still falling."""
    from eqsae.io import DivergedError

    _, train, _ = planted
    with pytest.raises(DivergedError, match=r"fit M: training loss ended at [0-9.e+]+ after 5 epochs, [0-9.e+]+ times "
                                            r"the loss of M = 0 .*MFitConfig\(epochs=5.*lower m_fit.lr"):
        fit_m(train, MFitConfig(epochs=5, lr=10.0))
    fit_m(train, MFitConfig(epochs=5, lr=1.0))


def test_a_non_finite_m_is_refused_even_when_the_logged_loss_is_finite(planted, monkeypatch):
    import eqsae.fitting.transform

    # the order penalty is not part of the logged loss: one step on an infinite penalty leaves M NaN
    monkeypatch.setattr(eqsae.fitting.transform, "order_penalty", lambda m, order=4: (m * float("inf")).sum())
    _, train, _ = planted
    with pytest.raises(NonFiniteError, match=r"fit M: M has 256 non-finite entries after 1 epochs"):
        fit_m(train, MFitConfig(epochs=1, batch_size=len(train), order_penalty=1.0))


def planted_d4(d: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """M (order 4) and R (order 2) with R M R^-1 = M^-1, in a random orthonormal basis: a representation of D4."""
    basis = np.linalg.qr(rng.normal(size=(d, d)))[0]
    rot, flip = np.array([[0.0, -1.0], [1.0, 0.0]]), np.diag([1.0, -1.0])
    m, r = np.zeros((d, d)), np.zeros((d, d))
    for i in range(0, d, 2):
        m[i : i + 2, i : i + 2], r[i : i + 2, i : i + 2] = rot, flip
    return basis @ m @ basis.T, basis @ r @ basis.T


@pytest.mark.slow
def test_fit_generators_recovers_planted_m_and_r():
    from eqsae.fitting.transform import element_matrices, fit_generators
    from eqsae.group import D4

    rng = np.random.default_rng(0)
    m0, r0 = planted_d4(16, rng)
    mats = [np.eye(16), *element_matrices([m0, r0], D4)[1:]]
    assert np.allclose(r0 @ m0 @ r0, np.linalg.inv(m0))

    def orbits(n):
        psi = rng.normal(size=(n, 16))
        return np.stack([psi @ t.T for t in mats], 1).astype(np.float32)

    generators, _ = fit_generators(orbits(512), MFitConfig(epochs=40, batch_size=64, lr=3e-2, seed=0), group=D4)
    table = result1_table(generators, orbits(256), "toy", D4)
    per_element = table[~table.element.isin(["mean", "std"])]
    assert list(per_element.element) == [str(e) for e in range(1, 8)] and set(table.group) == {"D4"}
    assert (per_element.r2_learned > 0.999).all()
    assert (per_element.r2_identity < 0.5).all()
    np.testing.assert_allclose(generators[1], r0, atol=0.02)


def test_elements_act_by_the_products_the_fit_trained():
    """v2's Eq. 8 trains M^p R^q with p in 1..4, q in 1..2: a rotation as M^p R^2 and the flip as M^4 R. A fitted
    M^4 or R^2 is only near I, so an element must act (R^2, equivariant reconstructions) by the very product
    its loss term trained, not by M^p alone: with M, R that are no representation, the loss equals the mean
    over elements of the error of element_matrices (plus the identity's term M^4 R^2)."""
    from eqsae.fitting.transform import element_matrices, group_orbit_loss
    from eqsae.group import D4

    rng = np.random.default_rng(3)
    d = 6
    m, r = (np.eye(d) + 0.3 * rng.normal(size=(d, d)) for _ in range(2))
    orbits = rng.normal(size=(50, D4.order, d))
    mats = element_matrices([m, r], D4)
    assert np.allclose(mats[1], m @ r @ r) and np.allclose(mats[4], np.linalg.matrix_power(m, 4) @ r)
    assert np.allclose(mats[5], m @ r)
    identity = np.linalg.matrix_power(m, 4) @ r @ r
    errors = [np.mean((orbits[:, e] - orbits[:, 0] @ (identity if e == 0 else mats[e]).T) ** 2) for e in range(8)]
    loss = group_orbit_loss([torch.as_tensor(x) for x in (m, r)], torch.as_tensor(orbits), D4)
    np.testing.assert_allclose(float(loss), np.mean(errors), rtol=1e-10)
    r2 = r2_per_element([m, r], orbits, D4)
    np.testing.assert_allclose(r2.pooled, [r2_pooled(orbits[:, e], orbits[:, 0] @ mats[e].T) for e in range(1, 8)])

