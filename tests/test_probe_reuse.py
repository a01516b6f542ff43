"""Work shared between probing tasks gives the numbers of fitting every task from scratch, bit for bit: the kNN
neighbours and the scaler of fixed features, and an equivariant SAE's latent probes copied from its trained SAE's."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import SGDClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from eqsae.fitting.transform import element_matrices
from eqsae.group import ORDER
from eqsae.probing.probe import (
    ProbeConfig,
    Probes,
    latent_rows,
    nearest,
    probe_sae,
    run_tasks,
    split_by_image,
    standardise,
    vote,
)
from eqsae.probing.tasks import make_tasks, orbit_labels


def tied_data(n_train: int, n_test: int, d: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Features on a coarse integer grid: many duplicate rows, so distances tie everywhere and which neighbours
    are kept, and how a split vote falls, are both tested."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, size=(n_train + n_test, d)).astype(np.float32)
    return x[:n_train], x[n_train:]


def label_columns(n: int, seed: int = 1) -> np.ndarray:
    """(n, 6) labels from rare to balanced positives."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.random(n) < rate for rate in (0.05, 0.2, 0.4, 0.5, 0.6, 0.9)], axis=1)


@pytest.mark.parametrize("n_train, n_test, k, chunk", [(300, 150, 16, 64), (2000, 1100, 16, 512), (200, 90, 5, 512)],
                         ids=["small-chunked", "many-test-rows", "odd-k"])  # fmt: skip
def test_one_neighbour_search_votes_as_knn_predict(n_train, n_test, k, chunk):
    """Small sets are where sklearn's kneighbors would search another way than predict does (parallel on the
    training rows); chunks of test rows and an odd k must not matter either."""
    x_train, x_test = tied_data(n_train, n_test)
    neighbours = nearest(x_train, x_test, k, chunk=chunk)
    assert neighbours.shape == (n_test, k)
    for y in label_columns(n_train).T:
        expected = KNeighborsClassifier(k, algorithm="brute").fit(x_train, y).predict(x_test)
        assert np.array_equal(vote(neighbours, y), expected)


def test_a_split_vote_goes_to_the_negative_class():
    y_train = np.array([True, False, True, False])
    neighbours = np.array([[0, 1], [0, 2], [1, 3]])  # one each / two positives / two negatives
    assert vote(neighbours, y_train).tolist() == [False, True, False]
    x_train = np.array([[0.0], [0.0], [5.0], [5.0]], np.float32)  # sklearn agrees: a tie at 0 and at 5
    knn = KNeighborsClassifier(2, algorithm="brute").fit(x_train, y_train)
    assert knn.predict(np.array([[0.0], [5.0]], np.float32)).tolist() == [False, False]


def test_standardising_once_feeds_sgd_what_the_pipeline_does():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(700, 8)) * rng.uniform(0.1, 50, size=8) + 3).astype(np.float32)
    y = x[:, 0] + rng.normal(size=700) * 20 > 3
    x_train, x_test, y_train = x[:500], x[500:], y[:500]
    pipe = make_pipeline(StandardScaler(), SGDClassifier(loss="log_loss", learning_rate="constant", eta0=1e-3,
                                                         alpha=1e-4, random_state=0)).fit(x_train, y_train)  # fmt: skip
    scaled_train, scaled_test = standardise(x_train, x_test)
    assert np.array_equal(scaled_test, pipe[0].transform(x_test))
    sgd = SGDClassifier(loss="log_loss", learning_rate="constant", eta0=1e-3, alpha=1e-4, random_state=0)
    sgd.fit(scaled_train, y_train)
    assert np.array_equal(sgd.coef_, pipe[-1].coef_)
    assert np.array_equal(sgd.predict(scaled_test), pipe.predict(x_test))


def test_shared_features_score_every_task_as_fitting_it_alone():
    """Probes.share (neighbours, scaled features, quantised matrix once) against every probe fitted per task."""
    x_train, x_test = tied_data(400, 120, d=4)
    x_train += np.random.default_rng(2).normal(size=x_train.shape).astype(np.float32) * 0.01  # XGBoost needs bins
    probes = Probes(ProbeConfig(xgb_trees=10))
    shared = probes.share(x_train, x_test)
    y_train, y_test = label_columns(400).T, label_columns(120, seed=3).T
    for train, test in zip(y_train, y_test):
        assert probes.scores(x_train, train, x_test, test, shared) == probes.scores(x_train, train, x_test, test)


def test_fixed_features_give_the_table_of_per_task_fits(small_set):
    tasks = make_tasks()[::12]
    labels = orbit_labels(small_set.shapes, small_set.orientations, tasks)
    x = np.random.default_rng(0).normal(size=(len(labels), 6)).astype(np.float32)
    is_test = split_by_image(len(small_set), ORDER, 0.2, seed=0)
    cfg = ProbeConfig(xgb_trees=5)
    tables = [pd.DataFrame(run_tasks({"activations": lambda i: x}, labels, is_test, tasks, cfg, feature_key=key))
              for key in (lambda i: None, None)]  # fmt: skip
    assert tables[0].equals(tables[1])


def test_tasks_that_share_features_give_the_table_of_per_task_fits(small_set):
    """As an SAE's truncations do at small T: some tasks pick the same latents. Rows stay in task order."""
    tasks = make_tasks()[::9]
    labels = orbit_labels(small_set.shapes, small_set.orientations, tasks)
    xs = np.random.default_rng(1).normal(size=(3, len(labels), 5)).astype(np.float32)
    is_test = split_by_image(len(small_set), ORDER, 0.2, seed=0)
    cfg = ProbeConfig(xgb_trees=5)
    reps = {"latents": lambda i: xs[i % 3], "reconstructions": lambda i: 2 * xs[i % 3]}
    keyed = pd.DataFrame(run_tasks(reps, labels, is_test, tasks, cfg, feature_key=lambda i: i % 3))
    alone = pd.DataFrame(run_tasks(reps, labels, is_test, tasks, cfg))
    assert keyed.equals(alone)
    per_representation = {"latents": lambda i: i % 3, "reconstructions": lambda i: -(i % 3)}
    assert pd.DataFrame(run_tasks(reps, labels, is_test, tasks, cfg, feature_key=per_representation)).equals(alone)
    assert keyed.task.tolist()[: 3 * len(tasks)] == [t.name for t in tasks for _ in range(3)]


@pytest.fixture
def sae_inputs(small_set):
    n, d, d_latent = len(small_set), 6, 12
    rng = np.random.default_rng(0)
    z = np.maximum(rng.normal(size=(n * ORDER, d_latent)), 0).astype(np.float32)
    decoder, bias = rng.normal(size=(d_latent, d)).astype(np.float32), rng.normal(size=d).astype(np.float32)
    tasks = make_tasks()[::15]
    labels = orbit_labels(small_set.shapes, small_set.orientations, tasks)
    return z, decoder, bias, np.tile(np.arange(ORDER), n), labels, tasks


@pytest.mark.slow
def test_an_equivariant_sae_copies_its_trained_saes_latent_rows(sae_inputs):
    """The copied table equals the one fitted from scratch: its latent rows (the same latents), its reconstruction
    rows (fitted), the row order and the dtypes."""
    cfg, transforms = ProbeConfig(xgb_trees=5), element_matrices([np.eye(6, dtype=np.float32)[::-1]])
    invariant = probe_sae(*sae_inputs, [2, 4], cfg)
    fitted = probe_sae(*sae_inputs, [2, 4], cfg, transforms)
    stored = invariant.assign(sae="invariant", seed=0)  # the trained SAE's table as its job writes it
    copied = probe_sae(*sae_inputs, [2, 4], cfg, transforms, latent_scores=stored)
    assert copied.equals(fitted)
    reconstructions = ProbeConfig(xgb_trees=5, representations=("reconstructions",))
    alone = probe_sae(*sae_inputs, [2, 4], reconstructions, transforms, latent_scores=stored)
    assert alone.equals(fitted[fitted.representation == "reconstructions"].reset_index(drop=True))


def test_a_probe_table_of_other_tasks_is_not_copied(sae_inputs):
    cfg = ProbeConfig(xgb_trees=5, probes=("knn",))
    table = probe_sae(*sae_inputs, [2], cfg)
    tasks = sae_inputs[-1]
    assert latent_rows(table, 2, tasks, cfg).equals(
        table[table.representation == "latents"].drop(columns="truncation").reset_index(drop=True))
    for other_tasks, other_cfg, t in [(tasks[:-1], cfg, 2), (tasks, ProbeConfig(probes=("knn", "logreg")), 2),
                                      (tasks, cfg, 4)]:  # fmt: skip
        with pytest.raises(ValueError, match="other latent rows at T = "):
            latent_rows(table, t, other_tasks, other_cfg)


@pytest.mark.parametrize("equivariant", [False, True], ids=["trained", "equivariant"])
def test_every_truncated_reconstruction_lies_in_its_span(equivariant):
    """kNN searches the span's coordinates: the rows must lie in it (else distances shrink) and keep their
    distances; a span as wide as the features is no saving and is not made."""
    from eqsae.probing.probe import reconstruction_span, truncated_reconstruction

    rng = np.random.default_rng(4)
    n, d, d_latent, ids = 200, 64, 40, np.array([7, 3, 31, 12])
    z = np.maximum(rng.normal(size=(n * ORDER, d_latent)), 0).astype(np.float32)
    decoder, bias = rng.normal(size=(d_latent, d)).astype(np.float32), rng.normal(size=d).astype(np.float32)
    m = np.linalg.qr(rng.normal(size=(d, d)))[0].astype(np.float32)  # a generic M: its powers move every row
    transforms = element_matrices([m]) if equivariant else None
    x = truncated_reconstruction(z, ids, decoder, bias, np.tile(np.arange(ORDER), n), transforms).astype(np.float64)
    basis = reconstruction_span(decoder[ids], bias, transforms)
    assert basis.shape == (d, (ORDER if equivariant else 1) * (len(ids) + 1))
    np.testing.assert_allclose(basis.T @ basis, np.eye(basis.shape[1]), atol=1e-12)
    np.testing.assert_allclose(x @ basis @ basis.T, x, atol=1e-4 * np.abs(x).max())
    y = x @ basis
    np.testing.assert_allclose(np.linalg.norm(y[:50, None] - y[None, 50:], axis=-1),
                               np.linalg.norm(x[:50, None] - x[None, 50:], axis=-1),
                               rtol=1e-5, atol=1e-6 * np.abs(x).max())  # fmt: skip  # rows with no live id coincide
    rows = rng.normal(size=(d, d))
    assert reconstruction_span(rows[:63], bias) is None  # 64 generators of 64 features
    assert reconstruction_span(rows[:62], bias).shape == (d, d - 1)


@pytest.mark.parametrize("probe_name", ["knn", "logreg"])
def test_knn_and_logreg_in_the_span_score_as_in_the_features(sae_inputs, probe_name):
    """probe_sae's reconstruction rows with the probe in the span against the probe on the d features, every
    task."""
    import eqsae.probing.probe as probe

    z, decoder, bias, elements, labels, tasks = sae_inputs
    decoder = np.hstack([decoder, decoder @ np.random.default_rng(5).normal(size=(6, 30)).astype(np.float32)])
    bias = np.concatenate([bias, np.zeros(30, np.float32)])
    cfg = ProbeConfig(probes=(probe_name,), representations=("reconstructions",))
    widths, in_span = [], probe.in_span
    try:  # which coordinates the probe fitted on
        probe.in_span = lambda train, test, basis=None: (
            widths.append(train.shape[1] if basis is None else basis.shape[1]) or in_span(train, test, basis)
        )
        spanned = probe_sae(z, decoder, bias, elements, labels, tasks, [2, 3], cfg)
    finally:
        probe.in_span = in_span
    assert widths and max(widths) <= 4 < decoder.shape[1]  # T + 1 of the 36 features
    original = probe.reconstruction_span
    try:
        probe.reconstruction_span = lambda *args: None
        plain = probe_sae(z, decoder, bias, elements, labels, tasks, [2, 3], cfg)
    finally:
        probe.reconstruction_span = original
    assert spanned.equals(plain)


def test_truncations_that_pick_the_same_latents_share_their_reconstructions(sae_inputs):
    """In any order, the same latents give bit-identical reconstructions, so their tasks share one quantised
    matrix; the table equals fitting every task alone."""
    from eqsae.probing.probe import truncated_reconstruction

    z, decoder, bias, elements, labels, tasks = sae_inputs
    transforms = element_matrices([np.eye(6, dtype=np.float32)[::-1]])
    ids = np.array([9, 2, 5, 11, 0])
    assert np.array_equal(truncated_reconstruction(z, ids, decoder, bias, elements, transforms),
                          truncated_reconstruction(z, ids[::-1], decoder, bias, elements, transforms))  # fmt: skip
    cfg = ProbeConfig(xgb_trees=5, representations=("reconstructions",))
    shared = probe_sae(z, decoder, bias, elements, labels, tasks, [6, 12], cfg, transforms)
    import eqsae.probing.probe as probe

    original = probe.run_tasks
    try:
        probe.run_tasks = lambda *args, feature_key=None, **kwargs: original(*args, **kwargs)
        alone = probe_sae(z, decoder, bias, elements, labels, tasks, [6, 12], cfg, transforms)
    finally:
        probe.run_tasks = original
    assert shared.equals(alone)


def test_sgd_on_the_scaled_spans_coordinates_takes_the_same_steps():
    """Rows in a 6-d subspace of 40 features (5 directions and an offset), columns on very different scales:
    standardised, they lie in the span of basis / std; SGD there gives the same margins and predictions."""
    rng = np.random.default_rng(6)
    scale = rng.uniform(0.1, 30, size=40)
    directions = np.hstack([np.linalg.qr(rng.normal(size=(40, 5)))[0], np.ones((40, 1))]) * scale[:, None]
    x = np.hstack([rng.normal(size=(900, 5)) * [5, 3, 1, 0.5, 0.1], np.full((900, 1), 2.0)]) @ directions.T
    x = x.astype(np.float32)
    score = x @ rng.normal(size=40) + rng.normal(size=900) * x.std()
    y = score > np.median(score)
    basis = np.linalg.qr(directions)[0]
    x_train, x_test, y_train = x[:600], x[600:], y[:600]
    plain, spanned = standardise(x_train, x_test), standardise(x_train, x_test, basis)
    assert spanned[0].shape == (600, 6)
    np.testing.assert_allclose(spanned[0] @ spanned[1].T, plain[0] @ plain[1].T.astype(np.float64), atol=1e-3)
    fits = [SGDClassifier(loss="log_loss", learning_rate="constant", eta0=1e-3, alpha=1e-4, random_state=0)
            .fit(train, y_train) for train, _ in (plain, spanned)]  # fmt: skip
    margins = [fit.decision_function(test) for fit, (_, test) in zip(fits, (plain, spanned))]
    np.testing.assert_allclose(margins[1], margins[0], rtol=1e-3, atol=1e-3)  # float32 rounding, over 61 epochs
    assert fits[0].n_iter_ == fits[1].n_iter_ and 0.2 < y_train.mean() < 0.8
    assert np.array_equal(fits[0].predict(plain[1]), fits[1].predict(spanned[1]))
