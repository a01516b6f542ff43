"""The smoke config end to end, in a fresh directory, as a user runs it (conftest's `smoke`); then what a re-run
re-executes."""

import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import copy_workflow, jobs_run, snakemake

from eqsae.models.registry import load_sae
from eqsae.pipeline.runtime import code_path_env

pytestmark = pytest.mark.workflow

SEEDS = 2  # the smoke config's replicates
UPSTREAM = ["seed0/data/base.npz", "seed1/data/sae.npz", "seed0/data/probe.npz", "seed0/base/mlp/model.pt",
            "seed1/base/cnn/model.pt", "seed0/activations/mlp/sae.parquet", "seed1/activations/cnn/probe.parquet"]
M_OUTPUTS = ["seed0/m/mlp/M.npy", "seed1/m/cnn/M.npy", "seed0/m/cnn/r2.csv", "tables/result1_m_fit.csv",
             "seed1/sae_metrics/paper/cnn/equivariant_k4.json", "tables/sae_metrics.csv",
             "seed0/probes/paper/cnn/equivariant_k4.parquet", "tables/probe_summary.csv"]  # fmt: skip
M_FIT = M_OUTPUTS[:4]  # what the fit and RESULT 1's table write
UPSTREAM += ["seed0/sae/paper/cnn/invariant/k4/sae.safetensors", "seed1/sae_metrics/paper/cnn/invariant_k4.json",
             "seed0/sae_metrics/paper/mlp/regular_k4.json", "seed1/probes/base/cnn.parquet",
             "seed0/probes/paper/cnn/invariant_k4.parquet"]  # fmt: skip
PER_SEED = {"generate_dataset": 3, "train_base": 2, "base_heldout": 2, "dump_activations": 4, "fit_m": 2, "m_r2": 2,
            "train_sae": 8, "sae_metrics": 10, "probe_base": 2, "probe": 10, "atlas": 10,
            "explorer_sae": 10}  # one seed's jobs
AGGREGATES = {"result1_table": 1, "sae_metrics_table": 1, "figure4": 1, "probe_tables": 1, "probe_figure": 2,
              "atlas_tables": 1, "atlas_figures": 1, "claims": 1, "table_html": 6, "explorer": 1, "all": 1}  # fmt: skip
FIRST_SEED = {"atlas_cards": 10, "fit_m_order": 2, "m_diagnostics": 2, "dataset_figures": 1}
"""Drawn for the first seed only: adding a seed does not plan them."""


def seeds(jobs: dict[str, int], n: int = SEEDS) -> dict[str, int]:
    """Job counts of per-seed rules times n seeds; aggregation rules once."""
    return {rule: count * (n if rule in PER_SEED else 1) for rule, count in jobs.items()}


def test_smoke_run_builds_result1(smoke):
    workdir, result = smoke
    assert jobs_run(result) == seeds({**PER_SEED, **AGGREGATES, **FIRST_SEED})
    per_seed = pd.read_csv(workdir / "results/smoke/tables/result1_m_fit_seeds.csv")
    assert list(per_seed["element"].astype(str)[:5]) == ["1", "2", "3", "mean", "std"]
    assert sorted(set(zip(per_seed.seed, per_seed.base_model))) == [(0, "cnn"), (0, "mlp"), (1, "cnn"), (1, "mlp")]
    table = pd.read_csv(workdir / "results/smoke/tables/result1_m_fit.csv")
    assert list(table["base_model"].unique()) == ["mlp", "cnn"] and (table.n_seeds == 2).all()
    assert list(table["element"].astype(str)[:4]) == ["1", "2", "3", "mean"]
    assert table[["r2_learned_mean", "r2_learned_se", "r2_identity_mean", "r2_identity_se"]].notna().all().all()
    assert table.loc[table.element == "mean", "r2_learned_element_std"].notna().all()
    cfg = json.loads((workdir / "results/smoke/seed0/base/cnn/cfg.json").read_text())
    # config threads 2, at most --cores - 1 for a stage that gates a branch (workflow/rules/common.smk)
    assert cfg["config"]["epochs"] == 2 and cfg["threads"] == 1
    provenance = cfg["provenance"]
    assert provenance["settings"]["epochs"] == 2 and provenance["seed"] == 0 and provenance["device"] == "cpu"
    assert provenance["packages"]["torch"].startswith("2.13.0") and "commit" in provenance["git"]
    assert provenance["cpu"]["variables"] == code_path_env("AVX2")  # the default pin reaches every job
    assert json.loads((workdir / "results/smoke/seed1/base/cnn/heldout.json").read_text())["heldout_mse"] > 0
    assert json.loads((workdir / "results/smoke/seed1/base/cnn/cfg.json").read_text())["provenance"]["seed"] == 1
    log = (workdir / "results/smoke/logs/train_base/seed0/cnn.log").read_text()
    assert re.search(r"epoch 2/2 loss [\d.]+ seconds [\d.]+", log)
    for rule in ("generate_dataset", "train_base", "dump_activations", "fit_m", "result1_table", "train_sae"):
        assert list((workdir / "results/smoke/benchmarks" / rule).rglob("*.tsv")), rule


def test_smoke_run_trains_every_sae_variant(smoke):
    workdir, _ = smoke
    table = pd.read_csv(workdir / "results/smoke/tables/sae_metrics_seeds.csv")
    assert sorted(zip(table["seed"], table["base_model"], table["variant"])) == sorted(
        (seed, model, variant) for seed in (0, 1) for model in ("mlp", "cnn")
        for variant in ("regular", "wide", "twolayer", "invariant", "equivariant")
    )  # fmt: skip
    assert (table["k"] == 4).all() and (table["l0"] == 4).all()
    assert set(table.loc[table.variant == "wide", "d_latent"]) == {8192}
    equivariant = table.set_index(["seed", "base_model", "variant"]).loc[(0, "cnn", "equivariant")]
    invariant = table.set_index(["seed", "base_model", "variant"]).loc[(0, "cnn", "invariant")]
    assert equivariant["l1"] == invariant["l1"] and equivariant["fvu"] != invariant["fvu"]
    sae = load_sae(workdir / "results/smoke/seed0/sae/paper/cnn/wide/k4")
    assert sae.cfg.d_latent == 8192 and sae.cfg.k == 4
    cfg = json.loads((workdir / "results/smoke/seed1/sae/paper/cnn/invariant/k4/cfg.json").read_text())
    assert cfg["objective"] == "invariant" and cfg["training"]["epochs"] == 2 and "eqsae_version" in cfg
    assert cfg["practice"] == "paper" and not cfg["sae"]["pre_bias"] and cfg["training"]["seed"] == 1
    log = (workdir / "results/smoke/logs/train_sae/seed0/paper/mlp_regular_k4.log").read_text()
    assert re.search(r"epoch 2/2 loss [\d.]+ (aux [\d.]+ )?seconds", log)
    for suffix in ("png", "pdf"):
        assert (workdir / f"results/smoke/figures/figure4.{suffix}").stat().st_size > 1000


def test_smoke_run_probes_every_task_of_every_representation(smoke):
    workdir, _ = smoke
    scores = pd.read_parquet(workdir / "results/smoke/tables/probe_scores.parquet")
    assert list(scores.columns) == ["seed", "base_model", "group", "sae_training", "sae", "k", "truncation",
                                    "representation", "task", "task_group", "probe", "f1", "n_pos", "n_test"]
    assert set(scores.group) == {"C4"}
    settings = scores.groupby(["seed", "base_model", "sae", "truncation", "representation"], dropna=False)
    # the base activations and the group element alone; 5 SAEs x (latents, reconstructions, reconstructions at T = 0)
    assert len(settings) == SEEDS * 2 * (2 + 5 * 3)
    assert set(scores[scores.truncation == 0].representation) == {"reconstructions"}
    assert (settings["task"].nunique() == 180).all() and (settings.size() == 180 * 3).all()
    assert (scores.n_test == 26 * 4).all()
    # F1 in [0, 1], missing exactly where the toy-size test split holds no positive of the task
    assert scores.f1.dropna().between(0, 1).all() and scores.f1.isna().equals(scores.n_pos == 0)
    # The equivariant SAE's latents are the invariant SAE's: same scores.
    latents = scores[scores.representation == "latents"].set_index(["seed", "base_model", "task", "probe", "sae"])
    assert latents.f1.xs("equivariant", level="sae").equals(latents.f1.xs("invariant", level="sae"))
    summary = pd.read_csv(workdir / "results/smoke/tables/probe_summary.csv")
    assert set(summary.task_group) == {"S", "SO", "SP", "SPO", "all"}
    per_seed = pd.read_csv(workdir / "results/smoke/tables/probe_summary_seeds.csv")
    every = per_seed[per_seed.task_group == "all"]
    assert ((every.n_tasks + every.n_tasks_no_positive) == 180).all() and (summary.n_seeds == 2).all()
    assert summary[["f1_best_mean", "f1_best_se", "f1_xgboost_mean", "f1_xgboost_se"]].notna().all().all()
    assert (summary.f1_best_mean >= summary.f1_xgboost_mean - 1e-12).all()
    for suffix in ("png", "pdf"):
        assert (workdir / f"results/smoke/figures/probing/paper_cnn_t4.{suffix}").stat().st_size > 1000
    log = (workdir / "results/smoke/logs/probe/seed1/paper/cnn_wide_k4.log").read_text()
    assert re.search(r"reconstructions: 180/180 tasks", log)


def test_smoke_run_decides_every_claim(smoke):
    from eqsae.paper.claims import CLAIMS, decide_folder
    from eqsae.paper.findings import section

    workdir, _ = smoke
    tables = workdir / "results/smoke/tables"
    claims = pd.read_csv(tables / "claims.csv")
    primary = claims[claims.primary.fillna(False).astype(bool)]
    probe_claims = sum(c.uses_probes for c in CLAIMS)
    assert len(primary) == len(CLAIMS) + probe_claims  # RESULT 2's claims with both probe readings
    assert set(primary.verdict) <= {"holds", "not established", "fails", "not run"}
    assert (primary.sae_training == "paper").all()  # the smoke config runs the paper practice only
    assert set(primary[primary.claim == "twolayer_matches_at_32"].verdict) == {"not run"}  # K = 4 only
    decided = claims[claims.verdict.isin(["holds", "not established", "fails"]) & claims.difference.notna()]
    assert decided[["difference", "se", "n", "df", "low", "high", "p", "detectable"]].notna().all().all()
    assert len(decided) > 20 and (decided.n == SEEDS).all() and (decided.df == SEEDS - 1).all()  # the seed
    assert (claims[claims.result == "ceiling"].shape[0]) == 2 and claims.numbers.str.len().gt(0).all()
    # The folder of per-seed tables re-decides the same claims, as published/ does.
    # ... under a banner that says the run is toy-size, and why
    banner, findings = (tables / "findings.md").read_text().split("\n\n", 1)
    assert banner.startswith("> **toy-size config: these numbers test the pipeline, not the paper (data.n_base")
    assert findings == section(decide_folder(tables))


def test_smoke_run_builds_the_feature_atlas(smoke):
    workdir, _ = smoke
    runs = workdir / "results/smoke"
    for seed in range(SEEDS):
        table = pd.read_parquet(runs / f"seed{seed}/atlas/paper/cnn/regular_k4.parquet")
        assert len(table) == 2048 and {"class", "s_1", "partner_1", "concept", "orbit_corr"} <= set(table.columns)
        assert table["class"].isin(["invariant", "period 2", "period 4", "mixed"]).all()
        assert table.loc[~table.dead, "orbit_corr"].notna().all() and table.loc[table.dead, "orbit_corr"].isna().all()
    census = pd.read_csv(runs / "tables/atlas_census_seeds.csv")
    assert len(census) == SEEDS * 2 * 5 and (census.n_live > 0).all()
    share = census[[c for c in census.columns if c.startswith("share_")]].sum(axis=1)
    assert np.allclose(share, 1)  # every live latent has exactly one class
    redundancy = pd.read_csv(runs / "tables/atlas_redundancy.csv")
    assert (redundancy.n_seeds == SEEDS).all() and redundancy.redundancy_se.notna().all()
    cards = sorted((runs / "figures/atlas/cards/paper/cnn_regular_k4").glob("feature*.png"))
    assert len(cards) == 2 and all(card.stat().st_size > 10000 for card in cards)  # atlas.cards in smoke.yaml
    for name in ("census", "symmetry_paper", "m_diagnostics_mlp", "gallery/paper_mlp_equivariant_k4"):
        assert (runs / f"figures/atlas/{name}.png").stat().st_size > 5000, name
    diagnostics = pd.read_csv(runs / "tables/m_diagnostics_cnn.csv")
    assert list(diagnostics.fit) == ["order penalty 0", "order penalty 1e-05"]
    claims = pd.read_csv(runs / "tables/claims.csv")
    assert {"regular_more_turned_copies", "equivariant_no_turned_copies"} <= set(claims.claim)


def test_smoke_run_builds_the_feature_explorer(smoke):
    workdir, _ = smoke
    folder = workdir / "results/smoke/explorer"
    assert "EQSAE_RUN" in (folder / "index.html").read_text()
    index = json.loads((folder / "data.js").read_text().removeprefix("EQSAE_RUN = ").rstrip().rstrip(";"))
    assert sorted((s["seed"], s["base_model"], s["variant"], s["k"]) for s in index["saes"]) == sorted(
        (seed, model, variant, 4) for seed in (0, 1) for model in ("mlp", "cnn")
        for variant in ("regular", "wide", "twolayer", "invariant", "equivariant")
    )  # fmt: skip
    census = pd.read_csv(workdir / "results/smoke/tables/atlas_census_seeds.csv")
    for sae in index["saes"]:  # every live latent of every SAE has its view
        row = census[(census.seed == sae["seed"]) & (census.base_model == sae["base_model"])
                     & (census.variant == sae["variant"])]  # fmt: skip
        assert len(list((folder / sae["id"]).glob("latent*.png"))) == sae["census"]["n_live"] == row.n_live.item()
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert size < 5e6, f"{size / 1e6:.1f} MB: over the README's budget for the smoke run's explorer"
    page = sum((folder / name).stat().st_size for name in ("index.html", "data.js"))
    per_latent = (size - page) / sum(sae["census"]["n_live"] for sae in index["saes"])
    assert page < 100e3 and per_latent < 15e3, f"{page / 1e3:.0f} kB page, {per_latent / 1e3:.1f} kB per live latent"


def test_the_tables_standard_errors_are_those_of_the_seeds(smoke):
    workdir, _ = smoke
    tables = workdir / "results/smoke/tables"
    for name, keys, value in (("sae_metrics", ["base_model", "variant", "k"], "fvu"),
                              ("probe_summary", ["base_model", "sae", "k", "truncation", "representation",
                                                 "task_group"], "f1_best"),
                              ("result1_m_fit", ["base_model", "group", "element"], "r2_learned")):  # fmt: skip
        seeds, table = pd.read_csv(tables / f"{name}_seeds.csv"), pd.read_csv(tables / f"{name}.csv")
        seeds[keys], table[keys] = seeds[keys].fillna(-1), table[keys].fillna(-1)  # the base rows' K and T
        if "element" in seeds:  # the per-seed std over elements is its own column over seeds
            seeds = seeds[seeds.element.astype(str) != "std"]
        grouped = seeds.groupby(keys, dropna=False)[value]
        expected = pd.DataFrame({"mean": grouped.mean(), "se": grouped.std(ddof=1) / grouped.count() ** 0.5,
                                 "n": grouped.count()}).sort_index()  # fmt: skip
        got = table.set_index(keys)[[f"{value}_mean", f"{value}_se", "n_seeds"]].sort_index()
        assert got.index.equals(expected.index), name
        scale = 1e-5 * seeds[value].abs().max()  # the CSVs hold 6 significant digits
        for column, want in zip(got.columns, ("mean", "se", "n")):
            assert np.allclose(got[column], expected[want], rtol=1e-4, atol=scale), (name, column)
        population = grouped.std(ddof=0) / grouped.count() ** 0.5  # what a wrong ddof would give: it differs
        assert not np.allclose(got[f"{value}_se"], population.sort_index(), rtol=1e-4, atol=scale), name


def test_adding_a_seed_plans_only_that_seed_and_the_aggregation(smoke):
    workdir, _ = smoke
    result = snakemake(workdir, "-n", "--cores", "2", "all", "--configfile", "config/smoke.yaml", "--config",
                       "seeds=[0,1,2]")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert jobs_run(result) == {**PER_SEED, **AGGREGATES}  # one seed's jobs, then the tables and figures again
    assert "/seed2/" in result.stdout and not re.search(r"output: [^\n]*/seed[01]/", result.stdout)


def test_adding_the_standard_practice_plans_only_the_standard_branch(smoke):
    workdir, _ = smoke
    result = snakemake(workdir, "-n", "--cores", "2", "all", "--configfile", "config/smoke.yaml",
                       "--config", "sae_training=[paper,standard]")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    # New tables redraw every figure (2 of them for the paper branch); no SAE, metric or probe of it re-runs.
    assert jobs_run(result) == seeds({"train_sae": 8, "sae_metrics": 10, "sae_metrics_table": 1, "figure4": 1,
                                      "probe": 10, "probe_tables": 1, "probe_figure": 4, "atlas": 10,
                                      "atlas_cards": 10, "atlas_tables": 1, "atlas_figures": 1, "claims": 1,
                                      "table_html": 5, "explorer_sae": 10, "explorer": 1, "all": 1})  # fmt: skip
    assert "/sae/paper/" not in result.stdout  # nothing of the paper branch is planned again


def unzipped_report(workdir) -> Path:
    """The smoke run's report as a user gets it: `--report results/smoke/report.zip` (built once), unpacked; the
    folder holding its report.html. A zip, as the explorer is a folder, which a one-file report cannot hold."""
    folder = workdir / "unzipped_report"
    if not (folder / "report/report.html").exists():
        result = snakemake(workdir, "--report", "results/smoke/report.zip", "--configfile", "config/smoke.yaml")
        assert result.returncode == 0, result.stderr[-3000:]
        with zipfile.ZipFile(workdir / "results/smoke/report.zip") as archive:
            archive.extractall(folder)
    return folder / "report"


def test_html_report_has_every_figure_and_table_with_its_caption(smoke):
    workdir, _ = smoke
    html = (unzipped_report(workdir) / "report.html").read_text()
    for name in ("result1_m_fit.csv", "sae_metrics.csv", "figure4.png", "probe_summary.csv", "paper_cnn_t4.png",
                 "paper_mlp_t4.png", "claims.csv", "atlas_census.csv", "atlas_redundancy.csv", "census.png",
                 "symmetry_paper.png", "m_diagnostics_cnn.png", "figure2_dataset.png", "figure6_shapes.png",
                 "paper_cnn_regular_k4.png"):
        assert name in html, name
    assert "toy-size config: these numbers test the pipeline, not the paper" in html  # the landing page says so
    assert "claims.html" in html and "probe_summary.html" in html  # the tables, viewable as tables
    page = (workdir / "results/smoke/report/tables/claims.html").read_text()
    assert "<table>" in page and "toy-size config" in page and "twolayer_matches_at_32" in page
    for caption in ("workflow/report/claims.rst", "workflow/report/probing.rst"):  # each caption's first words
        assert " ".join((workdir / caption).read_text().split()[:4]) in html, caption


def test_the_report_opens_on_its_landing_page_and_its_tables_open_as_tables_in_a_browser(smoke, tmp_path):
    """In headless Chromium (skipped without it): the report's landing page says the run is toy-size, and a table's
    page holds every row of its CSV. Screenshots of both are kept beside the test's files."""
    from test_explorer import chrome, wait_for

    workdir, _ = smoke
    report = unzipped_report(workdir) / "report.html"
    driver = chrome()
    try:
        driver.get(report.as_uri())
        wait_for(driver, "document.body.innerText.includes('toy-size config')", timeout=60)
        driver.save_screenshot(str(tmp_path / "report_landing.png"))
        driver.get((workdir / "results/smoke/report/tables/claims.html").as_uri())
        rows = driver.execute_script("return document.querySelectorAll('tbody tr').length")
        assert rows == len(pd.read_csv(workdir / "results/smoke/tables/claims.csv"))
        driver.save_screenshot(str(tmp_path / "report_claims_table.png"))
    finally:
        driver.quit()
    print(f"screenshots: {tmp_path}/report_landing.png, {tmp_path}/report_claims_table.png")


def test_the_report_zip_holds_the_feature_explorer_which_opens_in_a_browser(smoke, tmp_path):
    """Unpacked as a user does, the report holds the explorer's folder whole: its index.html opens from there in
    headless Chromium (skipped without it) with no JavaScript error, the feature table filled, and a concept's view
    listing its latents in at least two SAEs of seed 0's CNN, one of which opens its latent's view."""
    from test_explorer import chrome, click_concept_latent, errors, open_concept_view, shared_concept, wait_for

    workdir, _ = smoke
    report = unzipped_report(workdir)
    pages = [p for p in report.glob("data/raw/*/index.html") if "EQSAE_RUN" in p.read_text()]
    assert len(pages) == 1 and "feature explorer" in (report / "report.html").read_text()
    page = pages[0]
    index = json.loads((page.parent / "data.js").read_text().removeprefix("EQSAE_RUN = ").rstrip().rstrip(";"))
    source = workdir / "results/smoke/explorer"  # every file of it, but Snakemake's marker of a folder it made
    assert sorted(p.relative_to(page.parent) for p in page.parent.rglob("*") if p.is_file()) == sorted(
        p.relative_to(source) for p in source.rglob("*") if p.is_file() and p.name != ".snakemake_timestamp")  # fmt: skip
    first = index["saes"][0]
    driver = chrome()
    try:
        driver.get(page.as_uri())
        wait_for(driver, f"document.querySelectorAll('#feature-table tbody tr').length === {first['census']['n_live']}",
                 timeout=60)  # fmt: skip
        driver.save_screenshot(str(tmp_path / "report_explorer.png"))
        group = [s for s in index["saes"] if (s["seed"], s["base_model"]) == (0, "cnn") and s["k"] == first["k"]]
        concept, expected = shared_concept(page.parent, group)
        assert len(expected) >= 2, "no concept is best for latents of two SAEs"
        listed = open_concept_view(driver, page, group[0]["id"], concept)
        assert {sae: sorted(latents) for sae, latents in listed.items()} == {s: sorted(v) for s, v in expected.items()}
        driver.save_screenshot(str(tmp_path / "report_explorer_concept.png"))
        other = [sae for sae in expected if sae != group[0]["id"]][0]
        click_concept_latent(driver, other, expected[other][0])
        assert errors(driver) == []
    finally:
        driver.quit()
    print(f"screenshots: {tmp_path}/report_explorer.png, {tmp_path}/report_explorer_concept.png")


def test_second_run_executes_nothing(smoke):
    workdir, _ = smoke
    result = snakemake(workdir, "--cores", "2", "all", "--configfile", "config/smoke.yaml")
    assert result.returncode == 0
    assert jobs_run(result) == {}
    assert "Nothing to be done" in result.stdout + result.stderr


def test_runtime_knobs_plan_no_job(smoke):
    workdir, _ = smoke
    result = snakemake(workdir, "-n", "--cores", "2", "all", "--configfile", "config/smoke.yaml", "--config",
                       "device=auto", "threads={'train_sae': 2, 'probe': 2, 'train_base': 1}")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert jobs_run(result) == {}


def test_the_probing_set_is_not_an_input_of_any_training(smoke):
    workdir, _ = smoke
    result = snakemake(workdir, "-n", "--cores", "2", "all", "--configfile", "config/smoke.yaml", "--config",
                       "data={'n_probe': 100}")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    planned = jobs_run(result)
    assert planned["generate_dataset"] == 2 and planned["base_heldout"] == 4 and planned["m_r2"] == 4
    assert not {"train_base", "fit_m", "train_sae"} & set(planned), planned


def edit_and_plan(workdir, module, addition):
    """Dry-run the smoke config with `addition` appended to a library module of the copy, then restore it."""
    path = workdir / "src/eqsae" / module
    source = path.read_text()
    path.write_text(source + addition)
    try:
        result = snakemake(workdir, "-n", "--cores", "2", "all", "--configfile", "config/smoke.yaml")
    finally:
        path.write_text(source)
    assert result.returncode == 0, result.stderr[-3000:]
    return jobs_run(result)


def test_a_library_edit_plans_exactly_the_stages_that_run_it(smoke):
    workdir, _ = smoke
    new_function = "\n\ndef _added():\n    return 1\n"
    # the atlas' figures take the paper figures' colours from paper/plots.py
    assert edit_and_plan(workdir, "paper/plots.py", new_function) == {"figure4": 1, "probe_figure": 2, "atlas_figures": 1,
                                                                "atlas_cards": 10, "m_diagnostics": 2,
                                                                "dataset_figures": 1, "all": 1}  # fmt: skip
    assert edit_and_plan(workdir, "training/optim.py", new_function) == seeds({
        "train_sae": 8, "sae_metrics": 10, "sae_metrics_table": 1, "figure4": 1, "probe": 10, "probe_tables": 1,
        "probe_figure": 2, "atlas": 10, "atlas_cards": 10, "atlas_tables": 1, "atlas_figures": 1, "claims": 1,
        "table_html": 5, "explorer_sae": 10, "explorer": 1, "all": 1})  # fmt: skip
    assert edit_and_plan(workdir, "fitting/diagnostics.py", new_function) == {"m_diagnostics": 2, "all": 1}
    # the tables, not one replicate (the explorer reads no summary table)
    assert edit_and_plan(workdir, "paper/stats.py", new_function) == {r: n for r, n in AGGREGATES.items() if r != "explorer"}
    assert edit_and_plan(workdir, "models/sae.py", "\n# a comment changes no result\n") == {}
    # the explorer's page is not Python: its own hash rewrites the page, not the SAEs' folders
    assert edit_and_plan(workdir, "atlas/explorer_page/explorer.js", "\n// an edit\n") == {"explorer": 1, "all": 1}


def test_an_inf_loss_fails_its_job_with_the_traceback_in_the_log(smoke):
    workdir, _ = smoke
    result = snakemake(workdir, "--cores", "2", "results/diverge/seed0/base/mlp/model.pt", "--configfile",
                       "config/smoke.yaml", "--config", "run=diverge", "base={'lr': 1000000.0}")  # fmt: skip
    assert result.returncode != 0
    log = (workdir / "results/diverge/logs/train_base/seed0/mlp.log").read_text()
    assert "Traceback" in log and "NonFiniteError" in log and "lr=1000000.0" in log, log[-2000:]
    assert "NonFiniteError" in result.stdout + result.stderr  # and on the console
    assert not (workdir / "results/diverge/seed0/base/mlp/model.pt").exists()


def tree_bytes(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# The paper config (run: paper) at a size a test can afford; its run directory is still results/paper/.
SMALL_PAPER = ["--config", "models=[mlp]", "seeds=[0]", "device=cpu", "data={'n_base': 64, 'n_sae': 64, 'n_probe': 32}",
               "base={'epochs': 1}", "m_fit={'epochs': 1}"]  # fmt: skip


def test_smoke_then_paper_leaves_the_smoke_files_byte_identical(smoke):
    workdir, _ = smoke
    before = tree_bytes(workdir / "results/smoke")
    result = snakemake(workdir, "--cores", "2", "results/paper/tables/result1_m_fit.csv", *SMALL_PAPER)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "run 'paper' -> results/paper/" in result.stdout + result.stderr
    assert tree_bytes(workdir / "results/smoke") == before


def test_paper_then_smoke_leaves_the_paper_files_byte_identical(tmp_path):
    workdir = copy_workflow(tmp_path)
    result = snakemake(workdir, "--cores", "2", "results/paper/tables/result1_m_fit.csv", *SMALL_PAPER)
    assert result.returncode == 0, result.stderr[-3000:]
    before = tree_bytes(workdir / "results/paper")
    assert any(str(p).startswith("seed0/base/mlp/") for p in before)
    # a slice of the smoke run (its first seed and the MLP) writes the same kinds of files as the whole of it
    result = snakemake(workdir, "--cores", "2", "results/smoke/tables/result1_m_fit.csv", "--configfile",
                       "config/smoke.yaml", "--config", "seeds=[0]", "models=[mlp]")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert (workdir / "results/smoke/seed0/m/mlp/M.npy").is_file()
    assert tree_bytes(workdir / "results/paper") == before


def test_the_config_is_the_workflows_own_under_directory(smoke, tmp_path):
    workdir, _ = smoke
    result = snakemake(tmp_path, "-s", str(workdir / "Snakefile"), "--directory", str(tmp_path / "elsewhere"),
                       "-n", "--cores", "1", "all", "--config", "models=[cnn]")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "run 'paper'" in result.stdout + result.stderr and jobs_run(result)["train_base"] == 5  # 3 seeds, 2 more at K = 16


def test_the_plain_command_picks_up_after_ctrl_c(smoke):
    """Ctrl-C can stop Snakemake after a job wrote its outputs but before it was recorded as done; Snakemake
    then finds outputs marked incomplete. Reproduced with Snakemake's own marker (.snakemake/incomplete/,
    one file per output, named by the urlsafe base64 of its path); profiles/default/ makes the plain command
    redo that job instead of stopping."""
    import base64

    workdir, _ = smoke
    output = "results/smoke/tables/claims.csv"
    marker = workdir / ".snakemake/incomplete" / base64.urlsafe_b64encode(output.encode()).decode()
    marker.write_text('{"external_jobid": null}')
    without = snakemake(workdir, "-n", "--cores", "2", "all", "--configfile", "config/smoke.yaml",
                        "--workflow-profile", "none")  # fmt: skip
    assert without.returncode != 0 and "IncompleteFilesException" in without.stdout + without.stderr
    result = snakemake(workdir, "--cores", "2", "all", "--configfile", "config/smoke.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    assert jobs_run(result) == {"claims": 1, "table_html": 1, "all": 1}


def test_changing_an_m_setting_reruns_only_fit_m_and_what_depends_on_it(smoke):
    """The plan after an M setting changes (a dry run: the jobs Snakemake would run are the ones it runs), then
    the fit itself for real: it reads the new setting and leaves everything upstream alone. Running the whole
    plan for real cost about 7 min of this suite and checked nothing the plan does not."""
    workdir, _ = smoke
    stamp = lambda paths: {p: (workdir / "results/smoke" / p).stat().st_mtime_ns for p in paths}  # noqa: E731
    upstream, before = stamp(UPSTREAM), stamp(M_FIT)
    # m_fit (once `m`, which Snakemake's --config rejected) is settable from the command line.
    changed = ("--configfile", "config/smoke.yaml", "--config", "m_fit={'lr': 0.01}")
    plan = snakemake(workdir, "-n", "--cores", "2", "all", *changed)
    assert plan.returncode == 0, plan.stderr[-3000:]
    # The equivariant SAE uses M, and the atlas reads every SAE through it; no SAE or other probe re-runs.
    assert jobs_run(plan) == seeds({"fit_m": 2, "m_r2": 2, "result1_table": 1, "sae_metrics": 2,
                                    "sae_metrics_table": 1, "figure4": 1, "probe": 2, "probe_tables": 1,
                                    "probe_figure": 2, "atlas": 10, "atlas_cards": 10, "atlas_tables": 1,
                                    "atlas_figures": 1, "fit_m_order": 2, "m_diagnostics": 2, "claims": 1,
                                    "table_html": 6, "explorer_sae": 10, "explorer": 1, "all": 1})  # fmt: skip
    for output in M_OUTPUTS:
        assert f"results/smoke/{output}" in plan.stdout + plan.stderr, output
    result = snakemake(workdir, "--cores", "2", "results/smoke/tables/result1_m_fit.csv", *changed)
    assert result.returncode == 0, result.stderr[-3000:]
    assert jobs_run(result) == seeds({"fit_m": 2, "m_r2": 2, "result1_table": 1})
    assert stamp(UPSTREAM) == upstream
    after = stamp(M_FIT)
    assert all(after[p] > before[p] for p in M_FIT)
    assert json.loads((workdir / "results/smoke/seed1/m/cnn/fit.json").read_text())["config"]["lr"] == 0.01
