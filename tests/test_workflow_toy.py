"""v2's toy model as its own branch of the DAG (config/toy_smoke.yaml), in a fresh directory: every SAE type on
every dataset, the tables with v2's Table 3 beside ours, the figures; a new seed re-runs only its datasets."""

import pandas as pd
import pytest
from conftest import copy_workflow, jobs_run, snakemake

from eqsae.toy.experiment import TOY_SAES

pytestmark = pytest.mark.workflow

RUN = "results/toy-smoke"


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("toy"))
    result = snakemake(workdir, "--cores", "2", "all", "--configfile", "config/toy_smoke.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir, result


def test_toy_smoke_runs_one_job_per_dataset(toy):
    workdir, result = toy
    # 2 kinds of canonical representatives x N in {8, 16} x 2 seeds; no image stage runs
    assert jobs_run(result) == {"toy_run": 8, "toy_tables": 1, "toy_figure": 2, "table_html": 3, "all": 1}
    scores = pd.read_csv(workdir / RUN / "tables/toy/toy_scores.csv")
    assert len(scores) == 8 * (len(TOY_SAES) + 3)  # the equivariant SAEs twice: true and fitted M
    assert set(scores.sae) == set(TOY_SAES) and set(scores.seed) == {0, 1}
    assert not (workdir / RUN / "seed0").exists()


def test_toy_tables_and_figures(toy):
    workdir, _ = toy
    summary = pd.read_csv(workdir / RUN / "tables/toy/toy_summary.csv")
    assert (summary.n_seeds == 2).all() and len(summary) == 2 * 2 * (len(TOY_SAES) + 3)
    t3 = pd.read_csv(workdir / RUN / "tables/toy/table3.csv")
    assert set(t3.loss) == {"canonical", "latent", "output"} and set(t3.n_features) == {8, 16}
    assert {"paper_feature_recovery", "feature_recovery_diff", "detection_top1_std"} <= set(t3.columns)
    assert t3.paper_detection_top4.notna().all()
    for canonical in ("fixed", "random"):
        assert (workdir / RUN / f"figures/toy/figure2_{canonical}.png").stat().st_size > 10_000


def test_toy_claims_against_every_baseline_with_the_seed_as_replicate(toy):
    from eqsae.paper.verdicts import main
    from eqsae.toy.claims import BASELINES, TOY_CLAIMS, toy_folder_section

    workdir, _ = toy
    claims = pd.read_csv(workdir / RUN / "tables/toy/toy_claims.csv")
    primary = claims[claims.primary.fillna(False).astype(bool)]
    assert len(primary) == len(TOY_CLAIMS) * 2  # per kind of representatives (one orbit size)
    detect = claims[(claims.claim == "toy_detects_better") & claims.setting.str.startswith("N=")]
    assert len(detect) == 2 * 2 * len(BASELINES) and detect.setting.str.endswith("vs crosscoder").sum() == 4
    assert (detect.n == 2).all() and (detect.df == 1).all()  # two seeds: t on 1 degree of freedom
    banner, findings = (workdir / RUN / "tables/toy/toy_findings.md").read_text().split("\n\n", 1)
    assert banner.startswith("> **toy-size config: these numbers test the pipeline, not the paper (toy.n_train")
    assert findings == toy_folder_section(workdir / RUN / "tables")
    readme = workdir / "x.md"
    from eqsae.paper.findings import TOY_BEGIN, TOY_END

    readme.write_text(f"{TOY_BEGIN}\n{TOY_END}\n")
    main([str(workdir / RUN / "tables"), "--readme", str(readme)])
    assert "| toy_detects_better | fixed |" in readme.read_text()


def test_a_new_seed_runs_only_its_datasets(toy):
    workdir, _ = toy
    result = snakemake(workdir, "-n", "--cores", "2", "all", "--configfile", "config/toy_smoke.yaml",
                       "--config", "seeds=[0,1,2]")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert jobs_run(result) == {"toy_run": 4, "toy_tables": 1, "toy_figure": 2, "table_html": 3, "all": 1}
