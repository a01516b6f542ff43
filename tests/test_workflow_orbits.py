"""The orbits branch in a fresh directory: scikit-learn's digits through a base network trained here
(config/digits_smoke.yaml, what CI runs), and a user's own hand-made orbit table."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import copy_workflow, jobs_run, snakemake

from eqsae.probing.probe import summarize
from eqsae.sources.orbit_table import read_orbit_images, read_orbit_table, write_orbit_images, write_orbit_table

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("digits"))
    result = snakemake(workdir, "--cores", "2", "all", "--configfile", "config/digits_smoke.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir, result


def explorer_data(folder, sae: str) -> dict:
    """An SAE's data.js in a run's explorer, as the page reads it."""
    return json.loads((folder / sae / "data.js").read_text().split(" = ", 1)[1].rstrip().rstrip(";"))


def test_digits_smoke_runs_every_stage(digits):
    workdir, result = digits
    per_seed = {"digits_base": 1, "digits_activations": 1, "fit_m": 1, "m_r2": 1, "probe_base": 1,
                "train_sae": 2, "probe": 3, "sae_metrics": 3, "atlas": 3,
                "explorer_sae": 3}  # twolayer, invariant (+ equivariant)
    assert jobs_run(result) == {**{k: 2 * n for k, n in per_seed.items()}, "orbits_tables": 1, "table_html": 4,
                                "explorer": 1, "atlas_cards": 3, "all": 1}  # fmt: skip
    run = workdir / "results/digits-smoke"
    table = read_orbit_table(run / "seed0/digits/orbits.parquet", order=4)
    assert table.acts.shape == (200, 4, 16) and set(table.labels) == {"digit", "digit_orientation"}
    assert (table.labels["digit"] == table.labels["digit"][:, :1]).all()  # invariant along each orbit
    cfg = json.loads((run / "seed1/digits/base/cfg.json").read_text())
    assert cfg["config"]["seed"] == 1 and cfg["config"]["group"] == "C4"
    # the digits' images beside their table feed the explorer; the digits' decoder draws each latent
    images = read_orbit_images(run / "seed0/digits/images.npz", table.orbit_ids)
    assert images.shape == (200, 8, 8) and 0 <= images.min() and images.max() <= 1
    data = explorer_data(run / "explorer", "seed0/paper/digits/equivariant_k4")
    atlas = pd.read_parquet(run / "seed0/atlas/paper/digits/equivariant_k4.parquet")
    assert data["decoded"] is True and data["side"] == 8
    assert [f["latent"] for f in data["features"]] == atlas.latent[~atlas.dead].tolist()
    assert atlas.orbit_corr[~atlas.dead].notna().all()  # drawn through the decoder: the orbit-strip columns
    # the report's feature cards and orbit gallery, first seed: the most often firing live latents
    cards = sorted(p.name for p in (run / "figures/atlas/cards/paper/digits_equivariant_k4").glob("feature*.png"))
    first = pd.read_parquet(run / "seed0/atlas/paper/digits/equivariant_k4.parquet")
    top = first[~first.dead].sort_values(["density", "mean_activation"], ascending=False, kind="stable")
    assert cards == sorted(f"feature{i:05d}.png" for i in top.latent.head(12))
    assert (run / "figures/atlas/gallery/paper_digits_equivariant_k4.png").stat().st_size > 10_000


def test_digits_tables(digits):
    workdir, _ = digits
    tables = workdir / "results/digits-smoke/tables/orbits"
    r2 = pd.read_csv(tables / "result1_m_fit.csv")
    assert set(r2.element.astype(str)) == {"1", "2", "3", "mean"} and (r2.n_seeds == 2).all()
    probes = pd.read_csv(tables / "probe_summary.csv")
    assert set(probes.task_group) == {"digit", "digit_orientation", "all"}
    assert set(probes.sae) == {"base", "group_element", "twolayer", "invariant", "equivariant"}
    turn = probes[probes.sae == "group_element"]  # the leak baseline: every label task on the group element alone
    assert set(turn.task_group) == {"digit", "digit_orientation", "all"} and turn.k.isna().all()
    # a task whose toy-size test split holds no positive has no F1; each seed's mean says how many it covers
    per_seed = summarize(pd.read_parquet(tables / "probe_scores.parquet")).set_index("task_group")
    covered = per_seed.n_tasks + per_seed.n_tasks_no_positive
    assert covered["digit"].eq(10).all() and covered["digit_orientation"].eq(40).all()
    assert probes.set_index("task_group").n_tasks.groupby(level=0).min()["digit_orientation"] >= 1
    census = pd.read_csv(tables / "atlas_census.csv")
    assert set(census.variant) == {"twolayer", "invariant", "equivariant"} and "redundancy_mean" in census
    # RESULT 3 for every SAE, the spliced loss through the digits' own decoder
    metrics = pd.read_csv(tables / "sae_metrics_seeds.csv")
    assert len(metrics) == 6 and set(metrics.variant) == {"twolayer", "invariant", "equivariant"}
    assert (metrics.spliced_loss >= metrics.base_loss).all() and (metrics.fvu > 0).all()  # toy-size SAEs: FVU far above 1
    assert metrics.latent_invariance.between(-1, 1).all() and (metrics.l0 <= 4).all()  # K = 4
    assert (pd.read_csv(tables / "sae_metrics.csv").n_seeds == 2).all()


@pytest.mark.parametrize(("setting", "planned"), [
    ("probe={xgb_lr: 0.2}", {"probe": 6, "probe_base": 2}),
    ("atlas={partner: 0.8}", {"atlas": 6, "explorer_sae": 6, "explorer": 1, "atlas_cards": 3}),
    ("atlas={cards: 2}", {"atlas_cards": 3, "all": 1}),  # the report's figures only: no table re-made
    ("m_fit={lr: 0.02}", {"fit_m": 2, "m_r2": 2, "probe": 2, "sae_metrics": 2, "atlas": 6,
                          "explorer_sae": 6, "explorer": 1, "atlas_cards": 3}),  # equivariant: through M
    ("sae_training=[paper,standard]", {"train_sae": 4, "probe": 6, "sae_metrics": 6, "atlas": 6,
                                       "explorer_sae": 6, "explorer": 1, "atlas_cards": 3}),
    ("sae={auxk_alpha: 0.1}", {}),  # AuxK: the standard practice's, which this config does not run
])  # fmt: skip
def test_a_setting_re_runs_only_the_stages_that_read_it(digits, setting, planned):
    workdir, _ = digits
    result = snakemake(workdir, "-n", "--cores", "2", "all", "--configfile", "config/digits_smoke.yaml",
                       "--config", setting)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    tables = {"orbits_tables": 1, "table_html": 4, "all": 1} if planned and "all" not in planned else {}
    assert jobs_run(result) == planned | tables


def test_every_trained_artifact_records_its_provenance(digits):
    from eqsae.models.registry import EquivariantSAE, load_sae

    workdir, _ = digits
    seed = workdir / "results/digits-smoke/seed0"
    assert isinstance(load_sae(seed / "sae/paper/digits/equivariant/k4"), EquivariantSAE)  # the paper's layout
    for path in [seed / "sae/paper/digits/invariant/k4/cfg.json", seed / "m/digits/fit.json"]:
        provenance = json.loads(path.read_text())["provenance"]
        assert provenance["seed"] == 0 and "git" in provenance and provenance["settings"], path


def test_a_users_own_orbit_table(tmp_path):
    workdir = copy_workflow(tmp_path)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 8))
    orbits = np.stack([np.roll(x, p, axis=1) for p in range(4)], 1).astype(np.float32)  # a coordinate cycle
    labels = {"big": np.repeat(x[:, :1] > 0.5, 4, 1), "turn": np.tile(np.arange(4), (120, 1))}
    write_orbit_table(workdir / "mine.parquet", orbits, labels)
    write_orbit_images(workdir / "mine.npz", rng.random((120, 6, 6)))  # what the user's inputs looked like
    config = {"run": "mine", "reproduce": "orbits", "seeds": [0], "variants": ["twolayer", "equivariant"],
              "topk": [2], "truncations": [2],
              "orbits": {"activations": "mine.parquet", "images": "mine.npz", "expansion": 2},
              "sae": {"epochs": 2, "d_hidden": 16}, "m_fit": {"epochs": 2}, "probe": {"xgb_trees": 5}}  # fmt: skip
    (workdir / "mine.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(workdir, "--cores", "2", "all", "--configfile", "mine.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    scores = pd.read_parquet(workdir / "results/mine/tables/orbits/probe_scores.parquet")
    assert set(scores.task) == {"big=True", "turn=0", "turn=1", "turn=2", "turn=3"}
    assert jobs_run(result)["explorer_sae"] == 2 and jobs_run(result)["explorer"] == 1
    data = explorer_data(workdir / "results/mine/explorer", "seed0/paper/orbits/twolayer_k2")
    assert data["decoded"] is False and data["side"] == 6 and data["features"]  # no decoder: inputs only
    assert jobs_run(result)["atlas_cards"] == 2  # its cards too: inputs, profile, response; no drawing
    assert list((workdir / "results/mine/figures/atlas/cards/paper/orbits_twolayer_k2").glob("feature*.png"))
    assert (workdir / "results/mine/report/tables/orbits/probe_summary.html").is_file()
    (workdir / "mine.yaml").write_text(yaml.safe_dump({**config, "run": "other", "orbits": {**config["orbits"],
                                                                                          "images": "no.npz"}}))
    result = snakemake(workdir, "-n", "--cores", "1", "all", "--configfile", "mine.yaml")
    assert result.returncode != 0 and "config key orbits.images: " in result.stdout + result.stderr
    (workdir / "mine.yaml").write_text(yaml.safe_dump({**config, "run": "other", "orbits": {"activations": "no.pq"}}))
    result = snakemake(workdir, "-n", "--cores", "1", "all", "--configfile", "mine.yaml")
    assert result.returncode != 0 and "config key orbits.activations: 'no.pq' is not a file" in result.stdout + result.stderr
    bad = {**config, "run": "few", "orbits": {**config["orbits"], "held_out": 0.999}}  # one orbit left to train on
    (workdir / "mine.yaml").write_text(yaml.safe_dump(bad))
    result = snakemake(workdir, "-n", "--cores", "1", "all", "--configfile", "mine.yaml")
    assert result.returncode != 0
    assert "config key orbits.held_out: 0.999 of 120 orbits" in result.stdout + result.stderr and "leaves 1 to train" in (
        result.stdout + result.stderr)


def test_the_papers_shapes_as_an_orbit_table_get_the_same_analysis(tmp_path):
    """orbits.source: shapes: the Shapes rules make the images, base model and activations (the SAE and probing
    sets, orbit tables whose split columns are the paper's); M, the SAEs, their probes and metrics are the paper's
    own rules, and the orbits branch adds the atlas with the images and the base decoder, as for a user's model.
    A paper run (reproduce: v1) of the same settings gives the same numbers."""
    from eqsae.sources.shapes import read_activations

    workdir = copy_workflow(tmp_path)
    result = snakemake(workdir, "--cores", "2", "all", "--configfile", "config/shapes_orbits_smoke.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    assert jobs_run(result) == {"generate_dataset": 3, "train_base": 1, "dump_activations": 2, "fit_m": 1, "m_r2": 1,
                                "probe_base": 1, "train_sae": 1, "probe": 2, "sae_metrics": 2, "atlas": 2,
                                "atlas_cards": 2, "explorer_sae": 2, "explorer": 1, "orbits_tables": 1,
                                "table_html": 4, "all": 1}  # fmt: skip
    run = workdir / "results/shapes-orbits-smoke"
    sets = [read_orbit_table(run / f"seed0/activations/mlp/{s}.parquet", order=4) for s in ("sae", "probe")]
    assert not sets[0].held_out.any() and sets[1].held_out.all()  # the paper's split, in the tables themselves
    assert read_activations(run / "seed0/activations/mlp/probe.parquet").labels.keys() == sets[1].labels.keys()
    scores = pd.read_parquet(run / "tables/orbits/probe_scores.parquet")
    assert set(scores.task_group) == {"S", "SO", "SP", "SPO"}  # orbits.tasks: paper, Figure 3's task groups
    assert scores.groupby("sae").task.nunique().to_dict() == {"base": 180, "group_element": 180, "equivariant": 180,
                                                              "invariant": 180}  # fmt: skip
    summary = pd.read_csv(run / "tables/orbits/probe_summary.csv")
    assert set(summary.task_group) == {"S", "SO", "SP", "SPO", "all"}
    metrics = pd.read_csv(run / "tables/orbits/sae_metrics_seeds.csv").set_index("variant")
    assert metrics.loc["invariant", "spliced_loss"] > metrics.loc["invariant", "base_loss"] > 0  # the Shapes' decoder
    atlas = pd.read_parquet(run / "seed0/atlas/paper/mlp/invariant_k4.parquet")
    assert len(atlas) and set(atlas.concept_group) <= {"S", "SO", "SP", "SPO"}  # the atlas names the paper's concepts
    data = explorer_data(run / "explorer", "seed0/paper/mlp/equivariant_k4")  # drawn through the Shapes' decoder
    assert data["decoded"] is True and data["side"] == 64 and data["features"]
    assert len(list((run / "figures/atlas/cards/paper/mlp_equivariant_k4").glob("feature*.png"))) == 2
    assert_the_papers_run_gives_the_same_numbers(workdir, run)


def assert_the_papers_run_gives_the_same_numbers(workdir, run):
    """The paper's run (reproduce: v1) on the same settings: every output of the replicate's analysis, M, R^2, the
    SAEs, their metrics and probes, is the Shapes source's, file for file."""
    from safetensors.numpy import load_file

    settings = yaml.safe_load((workdir / "config/shapes_orbits_smoke.yaml").read_text())
    v1 = {key: value for key, value in settings.items() if key not in ("reproduce", "orbits")} | {"run": "shapes-v1"}
    (workdir / "config/shapes_v1.yaml").write_text(yaml.safe_dump(v1))
    outputs = ["m/mlp/M.npy", "m/mlp/r2.csv", "sae/paper/mlp/invariant/k4/sae.safetensors", "probes/base/mlp.parquet",
               *(f"{kind}/paper/mlp/{v}_k4.{ext}" for v in ("invariant", "equivariant")
                 for kind, ext in (("sae_metrics", "json"), ("probes", "parquet")))]  # fmt: skip
    result = snakemake(workdir, "--cores", "2", *(f"results/shapes-v1/seed0/{o}" for o in outputs),
                       "--configfile", "config/shapes_v1.yaml")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    for output in outputs:
        ours, theirs = run / "seed0" / output, workdir / "results/shapes-v1/seed0" / output
        if output.endswith(".json"):  # the provenance differs (the run's config); the numbers may not
            ours, theirs = (json.loads(p.read_text()) for p in (ours, theirs))
            assert "spliced_loss" in ours and ours == theirs, output
        elif output.endswith(".parquet"):
            pd.testing.assert_frame_equal(pd.read_parquet(ours), pd.read_parquet(theirs), obj=output)
        elif output.endswith(".safetensors"):
            ours, theirs = load_file(ours), load_file(theirs)
            assert ours.keys() == theirs.keys() and all(np.array_equal(ours[k], theirs[k]) for k in ours), output
        else:
            assert ours.read_bytes() == theirs.read_bytes(), output


def test_the_toy_model_as_an_orbit_table_is_scored_against_its_truth(tmp_path):
    """orbits.source: toy: the toy's orbits through the same analysis as any table (M, SAEs, probes per planted
    feature, metrics, atlas), and each trained SAE scored against the truth written beside the table."""
    workdir = copy_workflow(tmp_path)
    result = snakemake(workdir, "--cores", "2", "all", "--configfile", "config/toy_orbits_smoke.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    assert jobs_run(result) == {"toy_orbits": 1, "fit_m": 1, "m_r2": 1, "probe_base": 1, "train_sae": 2,
                                "probe": 3, "sae_metrics": 3, "atlas": 3, "orbits_toy_scores": 2,
                                "orbits_tables": 1, "orbits_toy_table": 1, "table_html": 5, "all": 1}  # fmt: skip
    tables = workdir / "results/toy-orbits-smoke/tables/orbits"
    truth = pd.read_csv(tables / "toy_scores_seeds.csv")
    assert set(truth.variant) == {"regular", "invariant"}  # the equivariant SAE's dictionary is the invariant one's
    assert truth.feature_recovery.between(-1, 1).all() and truth.class_agreement.between(0, 1).all()
    assert truth[["detection_top1", "detection_top4"]].notna().all().all()
    probes = pd.read_csv(tables / "probe_summary.csv")
    assert set(probes.task_group) == {f"feature_{i}" for i in range(8)} | {"all"}
    metrics = pd.read_csv(tables / "sae_metrics_seeds.csv")
    assert "spliced_loss" not in metrics and len(metrics) == 3  # no network decodes the toy's inputs
