"""The smoke config end to end, in a fresh directory, as a user runs it; then what a re-run re-executes."""

import json
import re

import pandas as pd
import pytest
import yaml

from conftest import copy_workflow, jobs_run, snakemake
from eqsae.sae import load_sae

pytestmark = pytest.mark.workflow

UPSTREAM = ["data/base.npz", "data/sae.npz", "data/probe.npz", "base/mlp/model.pt", "base/cnn/model.pt",
            "activations/mlp/sae.parquet", "activations/cnn/probe.parquet"]  # fmt: skip
M_OUTPUTS = ["m/mlp/M.npy", "m/cnn/M.npy", "m/cnn/r2.csv", "tables/result1_m_fit.csv",
             "sae_metrics/paper/cnn/equivariant_k4.json", "tables/sae_metrics.csv",
             "probes/paper/cnn/equivariant_k4.parquet", "tables/probe_summary.csv"]  # fmt: skip
UPSTREAM += ["sae/paper/cnn/invariant/k4/sae.pt", "sae_metrics/paper/cnn/invariant_k4.json",
             "sae_metrics/paper/mlp/regular_k4.json", "probes/base/cnn.parquet", "probes/paper/cnn/invariant_k4.parquet"]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("smoke"))
    result = snakemake(workdir, "--cores", "2", "all", "--configfile", "config/smoke.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir, result


def test_smoke_run_builds_result1(smoke):
    workdir, result = smoke
    assert jobs_run(result) == {"generate_dataset": 3, "train_base": 2, "dump_activations": 4, "fit_m": 2,
                                "result1_table": 1, "train_sae": 8, "sae_metrics": 10, "sae_metrics_table": 1,
                                "figure4": 1, "probe_base": 2, "probe": 10, "probe_tables": 1, "probe_figure": 2,
                                "claims": 1, "all": 1}  # fmt: skip
    table = pd.read_csv(workdir / "results/tables/result1_m_fit.csv")
    assert list(table["base_model"].unique()) == ["mlp", "cnn"]
    assert list(table["rotation"].astype(str)[:5]) == ["1", "2", "3", "mean", "std"]
    assert table[["r2_learned", "r2_identity"]].notna().all().all()
    cfg = json.loads((workdir / "results/base/cnn/cfg.json").read_text())
    assert cfg["config"]["epochs"] == 2 and cfg["threads"] == 2 and cfg["heldout_mse"] > 0
    log = (workdir / "results/logs/train_base/cnn.log").read_text()
    assert re.search(r"epoch 2/2 loss [\d.]+ seconds [\d.]+", log)
    for rule in ("generate_dataset", "train_base", "dump_activations", "fit_m", "result1_table", "train_sae"):
        assert list((workdir / "results/benchmarks" / rule).rglob("*.tsv")), rule


def test_smoke_run_trains_every_sae_variant(smoke):
    workdir, _ = smoke
    table = pd.read_csv(workdir / "results/tables/sae_metrics.csv")
    assert sorted(zip(table["base_model"], table["variant"])) == sorted(
        (model, variant) for model in ("mlp", "cnn")
        for variant in ("regular", "wide", "twolayer", "invariant", "equivariant")
    )  # fmt: skip
    assert (table["k"] == 4).all() and (table["l0"] == 4).all()
    assert set(table.loc[table.variant == "wide", "d_latent"]) == {8192}
    equivariant = table.set_index(["base_model", "variant"]).loc[("cnn", "equivariant")]
    invariant = table.set_index(["base_model", "variant"]).loc[("cnn", "invariant")]
    assert equivariant["l1"] == invariant["l1"] and equivariant["fvu"] != invariant["fvu"]
    sae = load_sae(workdir / "results/sae/paper/cnn/wide/k4")
    assert sae.cfg.d_latent == 8192 and sae.cfg.k == 4
    cfg = json.loads((workdir / "results/sae/paper/cnn/invariant/k4/cfg.json").read_text())
    assert cfg["objective"] == "invariant" and cfg["training"]["epochs"] == 2 and "eqsae_version" in cfg
    assert cfg["practice"] == "paper" and not cfg["sae"]["pre_bias"]
    log = (workdir / "results/logs/train_sae/paper/mlp_regular_k4.log").read_text()
    assert re.search(r"epoch 2/2 loss [\d.]+ (aux [\d.]+ )?seconds", log)
    for suffix in ("png", "pdf"):
        assert (workdir / f"results/figures/figure4.{suffix}").stat().st_size > 1000


def test_smoke_run_probes_every_task_of_every_representation(smoke):
    workdir, _ = smoke
    scores = pd.read_parquet(workdir / "results/tables/probe_scores.parquet")
    assert list(scores.columns) == ["base_model", "sae_training", "sae", "k", "truncation", "representation",
                                    "task", "task_group", "probe", "f1", "n_pos", "n_test"]  # fmt: skip
    settings = scores.groupby(["base_model", "sae", "representation"], dropna=False)
    assert len(settings) == 2 * (1 + 5 * 2)  # base activations, and 5 SAEs x (latents, reconstructions)
    assert (settings["task"].nunique() == 180).all() and (settings.size() == 180 * 3).all()
    assert scores.f1.between(0, 1).all() and (scores.n_test == 26 * 4).all()
    # The equivariant SAE's latents are the invariant SAE's: same scores.
    latents = scores[scores.representation == "latents"].set_index(["base_model", "task", "probe", "sae"])["f1"]
    assert latents.xs("equivariant", level="sae").equals(latents.xs("invariant", level="sae"))
    summary = pd.read_csv(workdir / "results/tables/probe_summary.csv")
    assert set(summary.task_group) == {"S", "SO", "SP", "SPO", "all"}
    assert (summary.loc[summary.task_group == "all", "n_tasks"] == 180).all()
    assert summary[["f1_best", "f1_xgboost"]].notna().all().all()
    assert (summary.f1_best >= summary.f1_xgboost - 1e-12).all()
    for suffix in ("png", "pdf"):
        assert (workdir / f"results/figures/probing/paper_cnn_t4.{suffix}").stat().st_size > 1000
    log = (workdir / "results/logs/probe/paper/cnn_wide_k4.log").read_text()
    assert re.search(r"reconstructions: 180/180 tasks", log)


def test_smoke_run_decides_every_claim(smoke):
    workdir, _ = smoke
    claims = pd.read_csv(workdir / "results/tables/claims.csv")
    assert len(claims) == 9 and claims.claim.is_unique
    verdicts = claims[claims.result != "ceiling"]
    assert set(verdicts.holds_paper) <= {"true", "false", "not run"}
    assert (verdicts.holds_standard == "not run").all()  # the smoke config runs the paper practice only
    assert verdicts.set_index("claim").loc["twolayer_matches_at_32", "holds_paper"] == "not run"  # K = 4 only
    assert claims.numbers_paper.str.len().gt(0).all()


def test_adding_the_standard_practice_plans_only_the_standard_branch(smoke):
    workdir, _ = smoke
    result = snakemake(workdir, "-n", "--cores", "2", "all", "--configfile", "config/smoke.yaml",
                       "--config", "sae_training=[paper,standard]")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    # New tables redraw every figure (2 of them for the paper branch); no SAE, metric or probe of it re-runs.
    assert jobs_run(result) == {"train_sae": 8, "sae_metrics": 10, "sae_metrics_table": 1, "figure4": 1,
                                "probe": 10, "probe_tables": 1, "probe_figure": 4, "claims": 1, "all": 1}  # fmt: skip
    assert "results/sae/paper/" not in result.stdout  # nothing of the paper branch is planned again


def test_html_report_has_every_figure_and_table_with_its_caption(smoke):
    workdir, _ = smoke
    result = snakemake(workdir, "--report", "results/report.html", "--configfile", "config/smoke.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    html = (workdir / "results/report.html").read_text()
    for name in ("result1_m_fit.csv", "sae_metrics.csv", "figure4.png", "probe_summary.csv", "paper_cnn_t4.png",
                 "paper_mlp_t4.png", "claims.csv"):
        assert name in html, name
    for caption in ("workflow/report/claims.rst", "workflow/report/probing.rst"):  # each caption's first words
        assert " ".join((workdir / caption).read_text().split()[:4]) in html, caption


def test_second_run_executes_nothing(smoke):
    workdir, _ = smoke
    result = snakemake(workdir, "--cores", "2", "all", "--configfile", "config/smoke.yaml")
    assert result.returncode == 0
    assert jobs_run(result) == {}
    assert "Nothing to be done" in result.stdout + result.stderr


def test_changing_an_m_setting_reruns_only_fit_m_and_what_depends_on_it(smoke):
    workdir, _ = smoke
    config = yaml.safe_load((workdir / "config/smoke.yaml").read_text())
    config["m"]["lr"] = 0.01
    (workdir / "config/changed.yaml").write_text(yaml.safe_dump(config))
    stamp = lambda paths: {p: (workdir / "results" / p).stat().st_mtime_ns for p in paths}  # noqa: E731
    upstream, before = stamp(UPSTREAM), stamp(M_OUTPUTS)
    result = snakemake(workdir, "--cores", "2", "all", "--configfile", "config/changed.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    # The equivariant SAE uses M; nothing else downstream does.
    assert jobs_run(result) == {"fit_m": 2, "result1_table": 1, "sae_metrics": 2, "sae_metrics_table": 1,
                                "figure4": 1, "probe": 2, "probe_tables": 1, "probe_figure": 2, "claims": 1,
                                "all": 1}  # fmt: skip
    assert stamp(UPSTREAM) == upstream
    after = stamp(M_OUTPUTS)
    assert all(after[p] > before[p] for p in M_OUTPUTS)
    assert json.loads((workdir / "results/m/cnn/fit.json").read_text())["config"]["lr"] == 0.01
