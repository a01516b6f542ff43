"""Mean, standard error and n over seeds, and comparisons decided beyond noise."""

import math

import numpy as np
import pandas as pd
import pytest

from eqsae.stats import FAILS, HOLDS, ONE_SEED, WITHIN_NOISE, compare, counts, over_seeds, overall, standard_error
from eqsae.tables import best_per_task, result1_over_seeds


def test_standard_error_is_the_sample_std_over_root_n():
    values = [0.91, 0.95, 0.90]
    assert standard_error(values) == pytest.approx(np.std(values, ddof=1) / math.sqrt(3))
    assert math.isnan(standard_error([0.9]))  # one replicate has no error bar, not a zero one


def test_over_seeds_gives_mean_se_and_n_per_setting():
    rng = np.random.default_rng(0)
    rows = [dict(seed=s, model=m, k=k, l1=rng.normal(), fvu=rng.normal()) for s in (0, 1, 2) for m in ("a", "b")
            for k in (8, 16)]  # fmt: skip
    seeds = pd.DataFrame(rows)
    table = over_seeds(seeds, ["l1", "fvu"])
    assert list(table.columns) == ["model", "k", "n_seeds", "l1_mean", "l1_se", "fvu_mean", "fvu_se"]
    assert len(table) == 4 and (table.n_seeds == 3).all()
    for row in table.itertuples():
        values = seeds[(seeds.model == row.model) & (seeds.k == row.k)].l1
        assert row.l1_mean == pytest.approx(values.mean())
        assert row.l1_se == pytest.approx(values.std(ddof=1) / math.sqrt(len(values)))


def test_over_seeds_keeps_missing_keys_and_refuses_a_setting_twice_in_one_seed():
    seeds = pd.DataFrame(dict(seed=[0, 1], sae=["base", "base"], k=[np.nan, np.nan], f1=[0.5, 0.7]))
    assert over_seeds(seeds, ["f1"]).f1_mean.tolist() == [pytest.approx(0.6)]
    with pytest.raises(ValueError, match="appears twice"):
        over_seeds(pd.concat([seeds, seeds]), ["f1"])


def test_compare_holds_within_noise_and_fails():
    noise = np.array([0.01, -0.01, 0.0, 0.005, -0.005, 0.0])
    assert compare(0.05 + noise).verdict == HOLDS
    assert compare(noise).verdict == WITHIN_NOISE
    assert compare(-0.05 + noise).verdict == FAILS
    c = compare([0.2, 0.1, 0.3])
    assert (c.difference, c.n) == (pytest.approx(0.2), 3) and c.se == pytest.approx(0.1 / math.sqrt(3))
    assert c.verdict == HOLDS  # 0.2 > 2 * 0.0577
    assert compare([0.02, -0.01, 0.05]).verdict == WITHIN_NOISE  # mean 0.02, SE 0.017
    assert compare([0.3]).verdict == ONE_SEED
    with pytest.raises(ValueError, match="non-finite"):
        compare([0.1, np.nan])


def test_a_claim_in_every_setting():
    assert overall([HOLDS, HOLDS]) == HOLDS
    assert overall([HOLDS, WITHIN_NOISE]) == WITHIN_NOISE
    assert overall([HOLDS, WITHIN_NOISE, FAILS]) == FAILS
    assert counts([HOLDS, WITHIN_NOISE, HOLDS]) == "holds 2, within noise 1, fails 0 of 3 settings"


def test_result1_over_seeds_keeps_the_spread_over_elements_apart():
    rows = []
    for seed, shift in ((0, 0.0), (1, 0.01), (2, -0.01)):
        r2 = np.array([0.97, 0.98, 0.99]) + shift
        rows += [dict(seed=seed, base_model="cnn", element=str(p), r2_learned=v, r2_identity=0.1) for p, v in
                 zip((1, 2, 3), r2)]  # fmt: skip
        rows += [dict(seed=seed, base_model="cnn", element="mean", r2_learned=r2.mean(), r2_identity=0.1),
                 dict(seed=seed, base_model="cnn", element="std", r2_learned=r2.std(), r2_identity=0.0)]
    table = result1_over_seeds(pd.DataFrame(rows)).set_index("element")
    assert list(table.index) == ["1", "2", "3", "mean"]
    assert table.loc["mean", "r2_learned_mean"] == pytest.approx(0.98)
    assert table.loc["mean", "r2_learned_se"] == pytest.approx(0.01 / math.sqrt(3))  # the seed spread
    assert table.loc["mean", "r2_learned_element_std"] == pytest.approx(np.std([0.97, 0.98, 0.99]))
    assert math.isnan(table.loc["1", "r2_learned_element_std"])


def test_best_per_task_takes_the_best_probe():
    scores = pd.DataFrame(dict(seed=0, sae="base", task=["t1"] * 3 + ["t2"] * 3, probe=["knn", "logreg", "xgboost"] * 2,
                               f1=[0.5, 0.9, 0.7, 0.2, 0.1, 0.3], n_pos=1, n_test=2))  # fmt: skip
    assert best_per_task(scores).f1_best.tolist() == [0.9, 0.3]
