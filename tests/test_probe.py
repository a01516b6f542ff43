"""The 180 probing tasks: counts, positive rates, split, truncation, probes, summary."""

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eqsae.fitting.transform import element_matrices
from eqsae.group import ORDER
from eqsae.io import NonFiniteError
from eqsae.paper.tables import probe_summary_over_seeds
from eqsae.probing.probe import (
    PROBES,
    ProbeConfig,
    Probes,
    _f1,
    probe_sae,
    split_by_image,
    summarize,
    truncate,
    truncated_reconstruction,
    write_scores,
)
from eqsae.probing.tasks import make_tasks, orbit_labels, task_labels
from eqsae.sources.shapes import generate, rotate_labels


def test_exactly_180_tasks_with_the_papers_group_counts():
    tasks = make_tasks()
    assert len(tasks) == 180
    assert Counter(t.group for t in tasks) == {"S": 8, "SO": 28, "SP": 32, "SPO": 112}
    assert len({t.name for t in tasks}) == 180


@pytest.fixture(scope="module")
def large_labels():
    """Labels of every rotation of 4,000 generated images, read from the rotated pixels."""
    data = generate(4000, np.random.default_rng(1))
    return make_tasks(), orbit_labels(data.shapes, data.orientations, make_tasks())


def test_positive_rates_match_the_analytic_values(large_labels):
    tasks, labels = large_labels
    rate = labels.mean(0)
    by = lambda group, four=None: [r for t, r in zip(tasks, rate) if t.group == group and  # noqa: E731
                                   (four is None or (t.shape >= 2) == four)]  # fmt: skip
    assert np.allclose(by("S"), 1 - (7 / 8) ** 4, atol=0.02)  # 41.4%
    assert np.allclose(by("SP"), 1 / 8, atol=0.015)  # 12.5%
    assert np.allclose(by("SO", four=True), (1 - (7 / 8) ** 4) / 4, atol=0.015)  # 10.4%
    assert np.allclose(by("SO", four=False), (1 - (7 / 8) ** 4) / 2, atol=0.02)  # 2-orientation shapes
    assert np.allclose(by("SPO", four=True), 1 / 32, atol=0.01)  # 3.1%


def test_task_labels_follow_the_rotation(small_set):
    """A rotated image's SP label is the canonical image's label at the position it came from."""
    tasks = make_tasks()
    canonical = task_labels(tasks, small_set.shapes[:, 0], small_set.orientations[:, 0])
    turned = task_labels(tasks, *rotate_labels(small_set.shapes[:, 0], small_set.orientations[:, 0], 1))
    assert np.array_equal(turned, task_labels(tasks, small_set.shapes[:, 1], small_set.orientations[:, 1]))
    sp = [i for i, t in enumerate(tasks) if t.group == "SP"]
    s_only = [i for i, t in enumerate(tasks) if t.group == "S"]
    assert np.array_equal(turned[:, s_only], canonical[:, s_only])  # only S is invariant
    assert not np.array_equal(turned[:, sp], canonical[:, sp])


def test_split_keeps_whole_orbits_on_one_side():
    is_test = split_by_image(500, ORDER, 0.2, seed=3)
    image_id = np.repeat(np.arange(500), ORDER)
    assert not set(image_id[is_test]) & set(image_id[~is_test])
    assert is_test.sum() == 100 * ORDER
    assert np.array_equal(is_test, split_by_image(500, ORDER, 0.2, seed=3))



@pytest.mark.parametrize("n_images, fraction, n_train, n_test", [(1, 0.2, 0, 1), (2, 0.9, 0, 2), (0, 0.5, 0, 0)])
def test_split_refuses_an_empty_side(n_images, fraction, n_train, n_test):
    with pytest.raises(ValueError, match=f"gives {n_train} training and {n_test} test images"):
        split_by_image(n_images, ORDER, fraction, seed=0)
    assert split_by_image(2, ORDER, 0.5, seed=0).sum() == ORDER  # the smallest split that works


def test_truncation_beyond_the_number_of_latents_is_an_error():
    z, y = np.ones((10, 64), np.float32), np.zeros((10, 2), bool)
    assert truncate(z, y, 64).shape == (2, 64)
    for t in (65, 5000, 0):
        with pytest.raises(ValueError, match=f"truncation {t} must be in 1..64"):
            truncate(z, y, t)


def test_truncation_picks_the_planted_latent():
    rng = np.random.default_rng(0)
    y = rng.random((2000, 3)) < 0.3
    z = rng.normal(size=(2000, 64)).astype(np.float32)
    for task, latent in enumerate([5, 17, 42]):
        z[:, latent] += 3.0 * y[:, task]
    assert truncate(z, y, 1)[:, 0].tolist() == [5, 17, 42]
    assert truncate(z, y, 4).shape == (3, 4)


def test_every_probe_solves_a_separable_task():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 5)).astype(np.float32)
    y = x[:, 0] > 0.3
    x[:, 0] += np.where(y, 2.0, -2.0)  # a wide margin
    scores = Probes(ProbeConfig()).scores(x[:500], y[:500], x[500:], y[500:])
    assert set(scores) == set(PROBES)
    assert all(f1 == 1.0 for f1 in scores.values()), scores


def test_one_class_training_split_scores_zero_instead_of_crashing():
    x = np.zeros((20, 3), np.float32)
    scores = Probes(ProbeConfig()).scores(x[:10], np.zeros(10, bool), x[10:], np.ones(10, bool))
    assert scores == {probe: 0.0 for probe in PROBES}


def test_probe_sae_rows_and_equivariant_reconstruction(small_set):
    """Reconstructions use only the T chosen latents; with M, row p is turned by M^p."""
    tasks = make_tasks()[:10]
    n, d, d_latent = len(small_set), 6, 12
    rng = np.random.default_rng(0)
    z = np.maximum(rng.normal(size=(n * ORDER, d_latent)), 0).astype(np.float32)
    decoder, bias = rng.normal(size=(d_latent, d)).astype(np.float32), np.zeros(d, np.float32)
    labels = orbit_labels(small_set.shapes, small_set.orientations, tasks)
    rotations = np.tile(np.arange(ORDER), n)
    cfg = ProbeConfig(xgb_trees=5)
    table = probe_sae(z, decoder, bias, rotations, labels, tasks, [2, 4], cfg,
                      transforms=element_matrices([-np.eye(d, dtype=np.float32)]))
    assert len(table) == (2 * 2 + 1) * len(tasks) * len(PROBES)  # and the reconstruction at T = 0
    assert set(table.representation) == {"latents", "reconstructions"}
    assert set(table[table.truncation == 0].representation) == {"reconstructions"}
    assert (table.n_test == round(0.2 * n) * ORDER).all()
    assert table.f1.between(0, 1).all()

    ids = np.array([3, 7])
    plain = truncated_reconstruction(z, ids, decoder, bias, rotations)
    assert np.allclose(plain, z[:, ids] @ decoder[ids])  # the other latents are zeroed
    turn = rng.normal(size=(d, d)).astype(np.float32)
    turned = truncated_reconstruction(z, ids, decoder, bias, rotations, element_matrices([turn]))
    for p in range(ORDER):
        rows = rotations == p
        assert np.allclose(turned[rows], plain[rows] @ np.linalg.matrix_power(turn, p).T, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_the_leak_rows_are_probes_on_the_bias_turned_by_each_element_and_on_the_element_alone(small_set):
    """T = 0 rows: every task on T_e b_D, nothing else; the group-element rows: on the one-hot element."""
    from eqsae.probing.probe import GROUP_ELEMENT, LEAK_T, probe_group_element, run_tasks, settings_only

    tasks = make_tasks()[:16]  # the 8 S tasks and 8 SO tasks
    n, d = len(small_set), 6
    rng = np.random.default_rng(1)
    z = np.maximum(rng.normal(size=(n * ORDER, 12)), 0).astype(np.float32)
    decoder, bias = rng.normal(size=(12, d)).astype(np.float32), rng.normal(size=d).astype(np.float32)
    turn = np.linalg.qr(rng.normal(size=(d, d)))[0].astype(np.float32)
    transforms, elements = element_matrices([turn]), np.tile(np.arange(ORDER), n)
    labels = orbit_labels(small_set.shapes, small_set.orientations, tasks)
    cfg = ProbeConfig(xgb_trees=5)
    table = probe_sae(z, decoder, bias, elements, labels, tasks, [2], cfg, transforms)
    leak = table[table.truncation == LEAK_T].drop(columns="truncation").reset_index(drop=True)
    x = np.stack([bias @ np.linalg.matrix_power(turn, p).T for p in range(ORDER)])[elements].astype(np.float32)
    is_test = split_by_image(n, ORDER, cfg.test_fraction, cfg.seed)
    direct = pd.DataFrame(run_tasks({"reconstructions": lambda i: x}, labels, is_test, tasks, cfg))
    pd.testing.assert_frame_equal(leak[direct.columns], direct, check_exact=False, atol=1e-9)
    planted = labels.copy()
    planted[:, 0] = elements == 1  # a task that is the turn itself: the one-hot element finds it exactly
    turn_alone = probe_group_element((n, ORDER), planted, tasks, cfg)
    assert set(turn_alone.representation) == {GROUP_ELEMENT} and len(turn_alone) == len(tasks) * len(PROBES)
    assert (turn_alone[turn_alone.task == tasks[0].name].f1 == 1.0).all()
    # a shape task is not a function of the turn: no probe gets it from the element alone
    shapes = turn_alone[(turn_alone.task_group == "S") & (turn_alone.task != tasks[0].name)]
    assert len(shapes) and (shapes.f1 < 0.9).all()
    both = pd.concat([table.assign(sae="regular"), turn_alone.assign(sae=GROUP_ELEMENT, truncation=np.nan)])
    assert set(settings_only(both).truncation) == {2}


def test_summary_takes_the_best_probe_per_task_and_adds_all():
    rows = []
    for task, group, f1s in [("a", "S", (0.2, 0.9, 0.5)), ("b", "SO", (0.4, 0.1, 0.3))]:
        for probe, f1 in zip(PROBES, f1s):
            rows.append(dict(base_model="cnn", sae="base", k=None, representation="activations", task=task,
                             task_group=group, probe=probe, f1=f1, n_pos=1, n_test=2))  # fmt: skip
    summary = summarize(pd.DataFrame(rows)).set_index("task_group")
    assert summary.loc["S", "f1_best"] == 0.9 and summary.loc["S", "f1_xgboost"] == 0.5
    assert summary.loc["all", "f1_best"] == pytest.approx(0.65)
    assert summary.loc["all", "f1_xgboost"] == pytest.approx(0.4)
    assert summary.loc["all", "n_tasks"] == 2


def test_f1_on_a_test_split_without_a_positive_is_missing_and_the_means_say_how_many_tasks_they_cover():
    assert np.isnan(_f1(np.zeros(4, bool), np.array([1, 0, 0, 0], bool)))
    assert np.isnan(_f1(np.zeros(4, bool), np.zeros(4, bool)))
    assert _f1(np.array([1, 0, 0, 0], bool), np.zeros(4, bool)) == 0.0
    rows = []
    for seed, task, f1 in [(0, "a", 0.5), (0, "b", 0.7), (1, "a", 0.6), (1, "b", np.nan)]:
        for probe in PROBES:
            rows.append(dict(seed=seed, base_model="cnn", sae="base", k=None, representation="activations", task=task,
                             task_group="S", probe=probe, f1=f1, n_pos=0 if np.isnan(f1) else 3, n_test=9))
    seeds = summarize(pd.DataFrame(rows)).set_index(["seed", "task_group"])
    assert seeds.loc[(1, "S"), "f1_best"] == 0.6 and seeds.loc[(1, "S"), "n_tasks"] == 1
    assert seeds.loc[(1, "S"), "n_tasks_no_positive"] == 1 and seeds.loc[(0, "S"), "n_tasks"] == 2
    over = probe_summary_over_seeds(seeds.reset_index()).set_index("task_group")
    assert over.loc["S", "f1_best_mean"] == pytest.approx(0.6) and over.loc["S", "n_seeds"] == 2
    assert (over.loc["S", "n_tasks"], over.loc["S", "n_tasks_no_positive"]) == (1, 1)
    with pytest.raises(NonFiniteError, match="column 'f1' is missing in 3 rows whose test split holds positives"):
        write_scores(Path("never.csv"), pd.DataFrame(rows).assign(n_pos=3))


def test_the_probe_device_is_checked():
    with pytest.raises(ValueError, match="device must be cpu or cuda"):
        ProbeConfig(device="gpu")


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA GPU")
def test_xgboost_on_the_gpu_scores_as_on_the_cpu():
    """GPU hist trees are not bit-identical to the CPU's, but a probe's F1 must not move beyond noise."""
    from eqsae.probing.probe import Probes

    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 64)).astype(np.float32)
    y = x[:, :3].sum(axis=1) + 0.3 * rng.normal(size=3000) > 0
    f1 = {}
    for device in ("cpu", "cuda"):
        probes = Probes(ProbeConfig(probes=("xgboost",), device=device))
        f1[device] = probes.scores(x[:2400], y[:2400], x[2400:], y[2400:])["xgboost"]
    assert f1["cpu"] > 0.8 and abs(f1["cpu"] - f1["cuda"]) < 0.02
