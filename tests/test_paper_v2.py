"""v2's published tables, our numbers in its layout, its headline count and the Figure 3 panel."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from eqsae.paper import v2 as paper_v2
from eqsae.paper.v2 import best_equivariant_vs_best_baseline, figure3, table1, tables45

TASKS = {"cnn": [("S", "S:a"), ("S", "S:b"), ("SO", "SO:a")], "mlp": [("S", "S:a"), ("SO", "SO:a"), ("SO", "SO:b")]}
"""Unequal task counts per group between models, so averaging tasks before models matters."""


def assert_close(actual, expected, tol=1e-12):
    np.testing.assert_allclose(actual, expected, rtol=0, atol=tol)


def build_scores(saes=("twolayer", "equivariant", "regular"), ks=(8, 16), ts=(1, 16), seeds=(0, 1, 2)) -> pd.DataFrame:
    """Long probe scores as the probe stage writes them: random F1 for every probe and representation, plus
    the base activations' rows (no k, no T)."""
    rng = np.random.default_rng(0)
    rows = []
    for seed, model, sae, k, t, rep, probe in itertools.product(seeds, TASKS, saes, ks, ts,
                                                                ("latents", "reconstructions"),
                                                                ("knn", "logreg", "xgboost")):  # fmt: skip
        for task_group, task in TASKS[model]:
            rows.append(dict(seed=seed, base_model=model, group="C4", sae_training="paper", sae=sae, k=k,
                             truncation=t, representation=rep, task=task, task_group=task_group, probe=probe,
                             f1=rng.uniform(), n_pos=10, n_test=100))  # fmt: skip
    for seed, model, (task_group, task) in itertools.product(seeds, ["cnn"], TASKS["cnn"]):
        rows.append(dict(seed=seed, base_model=model, group="C4", sae_training="paper", sae="base", k=None,
                         truncation=None, representation="activations", task=task, task_group=task_group,
                         probe="xgboost", f1=0.99, n_pos=10, n_test=100))  # fmt: skip
    return pd.DataFrame(rows).astype({"k": "Int64", "truncation": "Int64"})


def test_paper_tables_load_published_values():
    t1 = paper_v2.paper_table1().set_index(["base_model", "group"])
    assert t1.loc[("cnn", "C4"), "r2_learned"] == 0.993 and t1.loc[("mlp", "D4"), "r2_identity"] == 0.686
    t45 = paper_v2.paper_tables45()
    assert len(t45) == 2 * 5 * 2 * 4 * 7
    row = t45.query("topk == 8 and truncation == 16 and group == 'D4' and task_group == 'SP'").set_index("sae")
    assert row.loc["vanilla_wide", "f1_mean"] == 0.639 and row.loc["equivariant_latent", "f1_mean"] == 0.599
    assert len(paper_v2.paper_table3()) == 12


def test_table1_mean_se_and_diff_over_three_seeds():
    rows = []
    for seed, learned in zip((0, 1, 2), (0.90, 0.95, 1.0)):
        for model, group, n in (("cnn", "C4", 4), ("toy", "D4", 8)):
            elements = [str(p) for p in range(1, n)] + ["mean", "std"]
            for element in elements:
                value = learned if element == "mean" else 0.0  # the other rows must not enter
                rows.append(dict(seed=seed, base_model=model, group=group, element=element, r2_learned=value,
                                 r2_identity=value / 2, r2_pooled=-1.0))  # fmt: skip
    table = table1(pd.DataFrame(rows)).set_index(["base_model", "group"])
    cnn = table.loc[("cnn", "C4")]
    assert cnn.n_seeds == 3
    assert_close(cnn.r2_learned_mean, 0.95)
    assert_close(cnn.r2_learned_se, np.std([0.90, 0.95, 1.0], ddof=1) / math.sqrt(3))
    assert_close(cnn.r2_identity_mean, 0.475)
    assert cnn.paper_r2_learned == 0.993 and cnn.paper_r2_identity_se == 0.110
    assert_close(cnn.r2_learned_diff, 0.95 - 0.993)
    toy = table.loc[("toy", "D4")]  # v2 has no such model: kept, with NaN paper columns
    assert np.isnan(toy.paper_r2_learned) and np.isnan(toy.r2_learned_diff)
    assert "paper_r2_learned" in paper_v2.may_be_missing(table.reset_index())


def test_tables45_averages_tasks_then_models_then_seeds():
    scores = build_scores()
    table = tables45(scores)
    cell = "sae == 'vanilla' and topk == 8 and truncation == 16 and task_group == 'S'"
    xgb = scores.query("probe == 'xgboost' and representation == 'reconstructions' and sae == 'twolayer' "
                       "and k == 8 and truncation == 16 and task_group == 'S'")  # fmt: skip
    per_model = xgb.groupby(["seed", "base_model"]).f1.mean()  # tasks first
    per_seed = per_model.groupby("seed").mean().to_numpy()  # then models
    both = table.query(f"{cell} and base_model == 'cnn+mlp'").iloc[0]
    assert both.n_seeds == 3
    assert_close(both.f1_mean, np.mean(per_seed))
    assert_close(both.f1_se, np.std(per_seed, ddof=1) / math.sqrt(3))
    assert not np.isclose(both.f1_mean, xgb.f1.mean())  # pooling the tasks would weigh cnn's two S tasks double
    cnn = table.query(f"{cell} and base_model == 'cnn'").iloc[0]
    assert_close(cnn.f1_mean, xgb.query("base_model == 'cnn'").groupby("seed").f1.mean().mean())
    paper = paper_v2.paper_tables45().query("topk == 8 and truncation == 16 and group == 'C4' and task_group == 'S'")
    assert cnn.paper_f1_mean == paper.set_index("sae").loc["vanilla", "f1_mean"]
    assert_close(cnn["diff"], cnn.f1_mean - cnn.paper_f1_mean)
    assert cnn.comparison == "ours: cnn only; paper: mean over mlp, cnn, vit_b_16"
    assert both.comparison == "ours: mean over cnn, mlp; paper: mean over mlp, cnn, vit_b_16"
    assert table.query("topk == 16").paper_f1_mean.isna().all()  # v2 has TopK 4 and 8 only


def test_tables45_maps_variant_names_and_drops_others():
    table = tables45(build_scores())
    assert set(table.sae) == {"vanilla", "equivariant_canonical"}
    assert set(table.base_model) == {"cnn", "mlp", "cnn+mlp"}
    assert list(table.columns[:5]) == ["topk", "truncation", "group", "task_group", "sae"]
    assert set(table.task_group) == {"S", "SO", "all"}


def test_headline_count_on_v2s_own_table_is_79_of_80():
    paper = paper_v2.paper_tables45().assign(base_model="v2", sae_training="paper")
    cells = best_equivariant_vs_best_baseline(paper)
    assert (cells.n_wins.iloc[0], cells.n_cells.iloc[0]) == (79, 80)
    assert (cells.paper_n_wins.iloc[0], cells.paper_n_cells.iloc[0]) == (79, 80)
    assert (cells.equivariant_wins == cells.paper_equivariant_wins).all()
    lost = cells[~cells.equivariant_wins].iloc[0]
    assert (lost.topk, lost.truncation, lost.group, lost.task_group) == (8, 16, "D4", "SP")
    assert (lost.best_baseline, lost.best_baseline_f1, lost.best_equivariant_f1) == ("vanilla_wide", 0.639, 0.599)


def test_headline_on_ours_counts_per_model():
    cells = best_equivariant_vs_best_baseline(tables45(build_scores()))
    assert set(cells.base_model) == {"cnn", "mlp", "cnn+mlp"} and "all" not in set(cells.task_group)
    assert (cells.groupby("base_model").n_cells.first() == 2 * 2 * 2).all()  # 2 TopK x 2 T x 2 task groups
    assert (cells.n_equivariant_saes == 1).all() and (cells.n_baseline_saes == 1).all()
    assert cells.query("topk == 16").paper_equivariant_wins.isna().all()


@pytest.mark.parametrize("from_scores", [False, True], ids=["tables45", "scores"])
def test_figure3_one_line_per_sae_and_v2_dashed(from_scores):
    scores = build_scores()
    fig = figure3(scores if from_scores else tables45(scores), "cnn")
    assert len(fig.axes) == 2  # one group x two TopK
    for ax in fig.axes:
        assert len(ax.containers) == 2  # vanilla and equivariant_canonical, each with error bars
    dashed = [line for line in fig.axes[0].lines if line.get_linestyle() == "--"]
    assert len(dashed) == 2  # v2's TopK 8 exists for both SAEs (axes sorted by TopK: 8, 16)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["vanilla", "equivariant_canonical", "v2 (MLP+CNN+ViT mean)"]
    with pytest.raises(ValueError, match="vit"):
        figure3(tables45(scores), "vit")
