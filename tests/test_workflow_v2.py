"""The paper's later version at toy size under D4 (config/v2.yaml + config/v2_smoke.yaml), in a fresh directory:
M and R, the archetypal anchors, the three invariance losses, XGBoost on reconstructions, v2's tables."""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import copy_workflow, jobs_run, snakemake

from eqsae.group import D4
from eqsae.models.registry import load_sae
from eqsae.probing.tasks import task_counts

pytestmark = pytest.mark.workflow

RUN = "results/v2-smoke"
TRAINED = ["twolayer", "archetypal", "invariant", "invariant_latent", "invariant_output"]
PROBED = ["twolayer", "archetypal", "equivariant", "equivariant_latent", "equivariant_output"]
PER_SEED = {"generate_dataset": 3, "train_base": 1, "base_heldout": 1, "dump_activations": 2, "fit_m_r": 1,
            "m_r2": 1, "anchors": 1, "train_sae": len(TRAINED), "sae_metrics": 5, "probe_base": 1, "probe": 5}
AGGREGATES = {"result1_table": 1, "sae_metrics_table": 1, "probe_tables": 1, "v2_tables": 1, "v2_figure": 1,
              "table_html": 5, "all": 1}  # fmt: skip


@pytest.fixture(scope="module")
def v2(tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("v2"))
    result = snakemake(workdir, "--cores", "2", "all", "--configfile", "config/v2.yaml", "config/v2_smoke.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir, result


def test_v2_smoke_runs_the_d4_branch(v2):
    workdir, result = v2
    assert jobs_run(result) == {rule: n * (2 if rule in PER_SEED else 1) for rule, n in {**PER_SEED, **AGGREGATES}.items()}
    seed = workdir / RUN / "D4/seed0"
    assert not (workdir / RUN / "seed0").exists()  # only C4 lives in v1's folders
    m, r = np.load(seed / "m/cnn/M.npy"), np.load(seed / "m/cnn/R.npy")
    assert m.shape == r.shape == (256, 256) and not np.allclose(r, np.eye(256))
    fit = json.loads((seed / "m/cnn/fit.json").read_text())
    assert fit["group"] == "D4" and {"norm_m4_minus_i", "norm_r2_minus_i"} <= fit.keys()
    assert json.loads((workdir / RUN / "D4/seed1/base/cnn/cfg.json").read_text())["config"]["group"] == "D4"
    assert np.load(seed / "anchors/cnn.npy").shape == (64, 256)


def test_v2_smoke_trains_each_loss_and_the_archetypal_dictionary(v2):
    workdir, _ = v2
    for variant in TRAINED:
        cfg = json.loads((workdir / RUN / f"D4/seed0/sae/paper/cnn/{variant}/k4/cfg.json").read_text())
        assert cfg["sae"]["d_hidden"] == 128 and cfg["training"]["lr"] == 0.0005 and cfg["group"] == "D4"
    objectives = {v: json.loads((workdir / RUN / f"D4/seed0/sae/paper/cnn/{v}/k4/cfg.json").read_text())["objective"]
                  for v in TRAINED}  # fmt: skip
    assert objectives == {"twolayer": "augmented", "archetypal": "augmented", "invariant": "invariant",
                          "invariant_latent": "latent", "invariant_output": "output"}  # fmt: skip
    sae = load_sae(workdir / RUN / "D4/seed0/sae/paper/cnn/archetypal/k4")
    w, _ = sae.constrained()
    assert (w >= 0).all() and np.allclose(w.sum(1).detach().numpy(), 1, atol=1e-5)
    log = (workdir / RUN / "logs/train_sae/D4/seed0/paper/cnn_invariant_latent_k4.log").read_text()
    assert "invariance" in log


def test_v2_smoke_tables_sit_beside_v2s_numbers(v2):
    workdir, _ = v2
    scores = pd.read_parquet(workdir / RUN / "tables/probe_scores.parquet")
    saes = scores[~scores.sae.isin(["base", "group_element"])]
    assert set(saes.probe) == {"xgboost"} and set(saes.representation) == {"reconstructions"}
    assert 0 in set(saes.truncation) and set(scores[scores.sae == "group_element"].representation) == {"group_element"}
    per_job = saes.groupby(["seed", "sae", "truncation"]).size()  # T = 0 too: the reconstruction from b_D alone
    assert (per_job == task_counts(D4)["all"]).all() and set(saes.sae) == set(PROBED)
    r2 = pd.read_csv(workdir / RUN / "tables/result1_m_fit.csv")
    assert list(r2.element.astype(str)) == [*map(str, range(1, D4.order)), "mean"] and set(r2.group) == {"D4"}
    table1 = pd.read_csv(workdir / RUN / "tables/v2/table1.csv")
    assert table1.loc[0, "paper_r2_learned"] == pytest.approx(0.973) and table1.loc[0, "n_seeds"] == 2
    t45 = pd.read_csv(workdir / RUN / "tables/v2/tables4_5.csv")
    row = t45[(t45.task_group == "SO") & (t45.sae == "vanilla") & (t45.truncation == 4)].iloc[0]
    assert row.paper_f1_mean == pytest.approx(0.374) and row["diff"] == pytest.approx(row.f1_mean - 0.374, abs=1e-5)
    assert {"vanilla", "archetypal", "equivariant_canonical", "equivariant_latent", "equivariant_output"} <= set(t45.sae)
    assert (workdir / RUN / "figures/v2/figure3_cnn.png").stat().st_size > 10_000
