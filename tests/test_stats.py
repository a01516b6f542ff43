"""Mean, standard error and n over seeds, and the rule that decides comparisons: its error rates simulated."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from eqsae.paper.stats import (
    FAILS,
    HOLDS,
    NOT_ESTABLISHED,
    ONE_SEED,
    average,
    counts,
    detectable,
    equivalent,
    every,
    greater,  # fmt: skip
    holm,
    over_seeds,
    per_seed,
    standard_error,
)
from eqsae.paper.tables import best_per_task, result1_over_seeds


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


def test_greater_uses_the_t_quantile_of_n_minus_1_degrees_of_freedom():
    c = greater([0.2, 0.1, 0.3])
    assert (c.difference, c.n, c.df) == (pytest.approx(0.2), 3, 2) and c.se == pytest.approx(0.1 / math.sqrt(3))
    assert c.high - c.difference == pytest.approx(4.3027 * c.se, rel=1e-4)  # t(0.975, 2), not 2 SE
    assert c.verdict == NOT_ESTABLISHED  # 3.5 SE above zero: "beyond 2 SE" before, not at 4.30
    assert c.p == pytest.approx(2 * stats.t.sf(0.2 / c.se, 2))
    assert greater([0.2, 0.21, 0.19]).verdict == HOLDS and greater([-0.2, -0.21, -0.19]).verdict == FAILS
    assert greater([0.2, 0.21, 0.19], margin=0.3).verdict == FAILS  # below the stated margin
    assert greater([0.3]).verdict == ONE_SEED and math.isnan(greater([0.3]).se)
    with pytest.raises(ValueError, match="non-finite"):
        greater([0.1, np.nan])


def test_the_detectable_difference_has_80_percent_power():
    se, n = 0.01, 5
    delta = detectable(se, n)
    crit = stats.t.ppf(0.975, n - 1)
    assert stats.nct.sf(crit, n - 1, delta / se) == pytest.approx(0.8, abs=1e-6)
    assert 3.3 < detectable(1.0, 5) < 3.9 and 5 < detectable(1.0, 3) < 6  # fewer seeds, larger
    assert math.isnan(detectable(0.01, 1)) and detectable(0.0, 3) == 0.0


def simulate(rng, claims, seeds, tasks, effect=0.0, task_sd=1.0, seed_sd=0.0):
    """Per claim, per-task differences: a seed-level effect shared by a seed's tasks, plus task noise."""
    shared = effect + seed_sd * rng.normal(size=(claims, seeds, 1))
    return shared + task_sd * rng.normal(size=(claims, seeds, tasks))


@pytest.mark.parametrize("seed_sd", [0.0, 0.5])
def test_false_verdicts_stay_at_their_nominal_rate_under_a_planted_null(seed_sd):
    rng = np.random.default_rng(0)
    d = simulate(rng, 2000, 3, 180, task_sd=1.0, seed_sd=seed_sd)  # large task noise; with a seed effect or not
    verdicts = [greater(per_task.mean(axis=1)).verdict for per_task in d]
    for verdict in (HOLDS, FAILS):
        assert abs(verdicts.count(verdict) / 2000 - 0.025) < 0.012, verdict  # 2.5% per side, 3.5 binomial SDs
    if seed_sd:  # the old rule (every task a replicate, 2 SE) calls a shared seed effect "beyond noise"
        pseudo = [abs(x.mean()) > 2 * x.std(ddof=1) / math.sqrt(x.size) for x in d]
        assert np.mean(pseudo) > 0.5


def test_a_planted_seed_level_effect_of_6_se_is_found():
    rng = np.random.default_rng(1)
    sd = 0.02  # per-seed sd, so SE = sd / sqrt(5)
    found = [greater(x.mean(axis=1)).verdict == HOLDS
             for x in simulate(rng, 1000, 5, 180, effect=6 * sd / math.sqrt(5), task_sd=0.0, seed_sd=sd)]
    assert np.mean(found) > 0.95


@pytest.mark.slow
def test_holm_keeps_a_claim_over_60_null_settings_from_failing():
    rng = np.random.default_rng(2)
    fails = 0
    for _ in range(500):
        settings = [greater(rng.normal(size=3)) for _ in range(60)]
        fails += every(settings) == FAILS
    assert fails / 500 < 0.05
    # Without Holm: "fails where any setting fails" is close to certain.
    rng = np.random.default_rng(2)
    naive = [any(greater(rng.normal(size=3)).verdict == FAILS for _ in range(60)) for _ in range(200)]
    assert np.mean(naive) > 0.5


def test_holm_steps_down():
    assert holm([0.001, 0.02, 0.5], 0.025) == [True, False, False]  # 0.02 > 0.025 / 2
    assert holm([0.01, 0.012], 0.025) == [True, True]
    assert holm([0.3, 0.001], 0.025) == [False, True]


def test_tost_calls_a_planted_zero_a_match_and_a_planted_005_not():
    rng = np.random.default_rng(3)
    zero = [equivalent(0.004 * rng.normal(size=5), 0.02).verdict for _ in range(200)]
    assert np.mean([v == HOLDS for v in zero]) > 0.9
    apart = [equivalent(0.05 + 0.004 * rng.normal(size=5), 0.02).verdict for _ in range(200)]
    assert HOLDS not in apart and np.mean([v == FAILS for v in apart]) > 0.9
    c = equivalent([0.001, -0.002, 0.003], 0.02)
    assert c.level == pytest.approx(0.9) and c.high - c.difference == pytest.approx(stats.t.ppf(0.95, 2) * c.se)
    with pytest.raises(ValueError, match="positive"):
        equivalent([0.0, 0.1], 0.0)


def test_a_claim_in_every_setting_and_on_average():
    hold, null = greater([0.2, 0.21, 0.19]), greater([0.01, -0.01, 0.0])
    assert every([hold, hold]) == HOLDS and every([hold, null]) == NOT_ESTABLISHED
    assert every([hold, greater([-0.2, -0.21, -0.19])]) == FAILS
    assert every([hold, greater([1.0])]) == ONE_SEED
    assert counts([HOLDS, NOT_ESTABLISHED, HOLDS]) == "holds 2, not established 1, fails 0 of 3 settings"
    a = pd.Series([0.1, 0.2, 0.3, 0.4, 0.5], index=pd.Index([0, 1, 2, 3, 4], name="seed"))
    b = pd.Series([0.3, 0.2, 0.1], index=pd.Index([0, 1, 2], name="seed"))
    assert average([a, b]).tolist() == pytest.approx([0.2, 0.2, 0.2])  # the seeds both settings have


def test_per_seed_weights_every_task_equally():
    pairs = pd.DataFrame(dict(seed=[0, 0, 0, 1, 1, 1], d=[0.1, 0.2, 0.3, 0.0, 0.0, 0.3]))
    assert per_seed(pairs).tolist() == pytest.approx([0.2, 0.1])


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
