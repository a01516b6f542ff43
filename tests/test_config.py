import copy
import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from conftest import copy_workflow, snakemake

from eqsae.pipeline.validate import ConfigError, validate_config

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow/schemas/config.schema.yaml"


def paper_config() -> dict:
    return yaml.safe_load((ROOT / "config/config.yaml").read_text())


def smoke_config() -> dict:
    """The smoke config as the Snakefile sees it: config.yaml with smoke.yaml layered on top."""
    config = paper_config()
    for key, value in yaml.safe_load((ROOT / "config/smoke.yaml").read_text()).items():
        config[key] = {**config[key], **value} if isinstance(value, dict) else value
    return config


def test_shipped_configs_are_valid():
    config = validate_config(paper_config(), SCHEMA)
    assert config["run"] == "paper"
    assert config["base"] == {"epochs": 100, "batch_size": 64, "lr": 0.001}
    assert config["m_fit"]["epochs"] == 150 and config["m_fit"]["init"] == "identity"
    assert config["data"] == {"n_base": 10000, "n_sae": 10000, "n_probe": 2500, "orientation": "image"}
    assert validate_config(smoke_config(), SCHEMA)["run"] == "smoke"
    v2 = layered("v2.yaml", "v2_smoke.yaml")
    assert validate_config(v2, SCHEMA)["run"] == "v2-smoke" and v2["groups"] == ["D4"]
    assert validate_config(layered("v2.yaml"), SCHEMA)["sae"]["d_hidden"] == 128
    assert validate_config(layered("v2_smoke.yaml"), SCHEMA) == v2  # complete on its own
    toy = validate_config(layered("toy.yaml"), SCHEMA)
    assert toy["reproduce"] == "toy" and toy["seeds"] == [0, 1, 2, 3, 4] and toy["toy"]["epochs"] == 256
    assert validate_config(layered("toy_smoke.yaml"), SCHEMA)["run"] == "toy-smoke"
    readings = {files[-1]: validate_config(layered(*files), SCHEMA) for files in (
        ("orientation_shape.yaml",), ("topk_relu.yaml",), ("v2.yaml", "v2_orientation_shape.yaml"),
        ("toy.yaml", "toy_orientation.yaml"))}  # fmt: skip
    assert readings["orientation_shape.yaml"]["data"]["orientation"] == "shape"
    assert readings["topk_relu.yaml"]["sae"]["topk_activation"] == "relu"
    assert readings["v2_orientation_shape.yaml"]["reproduce"] == "v2"
    assert readings["toy_orientation.yaml"]["toy"]["canonical"] == ["orientation"]
    assert len({c["run"] for c in readings.values()}) == 4
    for name in ("digits.yaml", "digits_smoke.yaml"):
        digits = validate_config(layered(name), SCHEMA)
        assert digits["reproduce"] == "orbits" and digits["orbits"]["source"] == "digits"
    for name in ("shapes_orbits.yaml", "shapes_orbits_smoke.yaml"):
        shapes = validate_config(layered(name), SCHEMA)
        assert shapes["orbits"]["source"] == "shapes" and len(shapes["models"]) == 1
    for name in ("toy_orbits.yaml", "toy_orbits_smoke.yaml"):
        toy = validate_config(layered(name), SCHEMA)
        assert toy["orbits"]["source"] == "toy" and len(toy["toy"]["n_features"]) == 1


def layered(*files: str) -> dict:
    """config.yaml with the given config files layered on top, as the Snakefile sees them."""
    config = paper_config()
    for name in files:
        for key, value in yaml.safe_load((ROOT / "config" / name).read_text()).items():
            config[key] = {**config[key], **value} if isinstance(value, dict) else value
    return config


def test_defaults_are_the_paper_settings():
    assert validate_config({}, SCHEMA) == paper_config()


def test_the_old_m_key_still_works_with_a_deprecation_message():
    messages = []
    config = validate_config({"m": {"lr": 0.01}}, SCHEMA, warn=messages.append)
    assert config["m_fit"]["lr"] == 0.01 and config["m_fit"]["epochs"] == 150 and "m" not in config
    assert len(messages) == 1 and "m_fit" in messages[0]


def test_the_old_group_and_k_keys_of_the_toy_and_orbits_still_work_as_groups_and_topk():
    messages = []
    config = validate_config({"reproduce": "toy", "toy": {"orders": [4, 8], "k": 2}}, SCHEMA, warn=messages.append)
    assert config["groups"] == ["C4", "C8"] and config["topk"] == [2]
    assert "orders" not in config["toy"] and "k" not in config["toy"]
    assert any("groups: [C4, C8]" in m for m in messages) and any("topk: [2]" in m for m in messages)
    config = validate_config({"reproduce": "orbits", "orbits": {"source": "digits", "group": "D4"}}, SCHEMA,
                             warn=messages.append)  # fmt: skip
    assert config["groups"] == ["D4"] and "group" not in config["orbits"] and "groups: [D4]" in messages[-1]
    # an older base config set them for every run: elsewhere they are dropped, with the message
    config = validate_config({"toy": {"k": 3}, "orbits": {"group": "D4"}}, SCHEMA, warn=messages.append)
    assert config["groups"] == ["C4"] and config["topk"] == [8, 16, 32] and "ignored: reproduce is v1" in messages[-1]


def test_the_old_seed_key_is_one_replicate():
    messages = []
    config = validate_config({"seed": 7}, SCHEMA, warn=messages.append)
    assert config["seeds"] == [7] and "seed" not in config
    assert len(messages) == 1 and "seeds: [7]" in messages[0]
    assert validate_config({}, SCHEMA)["seeds"] == [0, 1, 2]


# (what the config sets on top of smoke.yaml, the key the error must name)
BAD_CONFIGS = [
    ({"base": {"epochz": 3}}, "base.epochz"),
    ({"modles": ["cnn"]}, "modles"),
    ({"base": {"epochs": -1}}, "base.epochs"),
    ({"base": {"lr": "fast"}}, "base.lr"),
    ({"base": {"batch_size": 0}}, "base.batch_size"),
    ({"m_fit": {"lr": 0}}, "m_fit.lr"),
    ({"m_fit": {"init": "random"}}, "m_fit.init"),
    ({"m_fit": {"batch_size": 1.5}}, "m_fit.batch_size"),
    ({"m_fit": {"order_penalty": -1}}, "m_fit.order_penalty"),
    ({"m": 3}, "m"),
    ({"models": ["resnet"]}, "models.0"),
    ({"models": []}, "models"),
    ({"variants": ["fancy"]}, "variants.0"),
    ({"variants": []}, "variants"),
    ({"data": {"n_probe": "many"}}, "data.n_probe"),
    ({"data": {"n_base": 0}}, "data.n_base"),
    ({"data": {"n_sae": -5}}, "data.n_sae"),
    ({"data": {"n_images": 5}}, "data.n_images"),
    ({"topk": [16, 16]}, "topk"),
    ({"topk": [0]}, "topk.0"),
    ({"topk": [5000]}, "topk"),  # above the 2,048 latents of the regular SAE
    ({"topk": [9000], "variants": ["wide"]}, "topk"),  # above the wide SAE's 8,192
    ({"truncations": [5000]}, "truncations"),
    ({"truncations": [0]}, "truncations.0"),
    ({"device": "tpu"}, "device"),
    ({"cpu_code_path": "AVX512"}, "cpu_code_path"),
    ({"sae": {"lr": float("nan")}}, "sae.lr"),  # YAML's .nan: a number to the schema, no setting's value
    ({"base": {"lr": float("inf")}}, "base.lr"),
    ({"topk": [16, float("inf")]}, "topk.1"),
    ({"seed": -1}, "seeds.0"),  # the old single seed, read as seeds: [-1]
    ({"seeds": [2**33]}, "seeds.0"),
    ({"seeds": []}, "seeds"),
    ({"seeds": [1, 1]}, "seeds"),
    ({"seeds": 3}, "seeds"),
    ({"run": "../paper"}, "run"),
    ({"run": "a/b"}, "run"),
    ({"run": ""}, "run"),
    ({"sae": {"lr": 0}}, "sae.lr"),
    ({"sae": {"batch_size": 0}}, "sae.batch_size"),
    ({"sae": {"k_aux": 0}}, "sae.k_aux"),
    ({"sae": {"auxk_alpha": -0.1}}, "sae.auxk_alpha"),
    ({"sae_training": ["fancy"]}, "sae_training.0"),
    ({"sae_training": []}, "sae_training"),
    ({"probe": {"test_fraction": 0.999}}, "probe.test_fraction"),  # every probing image in the test split
    ({"probe": {"test_fraction": 0}}, "probe.test_fraction"),
    ({"probe": {"test_fraction": 1.5}}, "probe.test_fraction"),
    ({"data": {"n_probe": 1}}, "probe.test_fraction"),  # one image cannot be split
    ({"data": {"n_probe": 2}}, "probe.knn_neighbors"),  # 4 training rows for 16 neighbours
    ({"probe": {"knn_neighbors": 100000}}, "probe.knn_neighbors"),
    ({"probe": {"knn_neighbors": 0}}, "probe.knn_neighbors"),
    ({"probe": {"xgb_max_bin": 1}}, "probe.xgb_max_bin"),
    ({"probe": {"xgb_trees": 0}}, "probe.xgb_trees"),
    ({"probe": {"logreg_lr": -1}}, "probe.logreg_lr"),
    ({"probe": {"xgb_l2": -1}}, "probe.xgb_l2"),
    ({"threads": {"probe": 0}}, "threads.probe"),
    ({"threads": {"gpu": 1}}, "threads.gpu"),
    ({"atlas": {"moved": 0.95}}, "atlas.moved"),  # above tau = 0.9: a turn cannot both keep and move a feature
    ({"atlas": {"partner": 1.5}}, "atlas.partner"),
    ({"claims": {"equivalence_margin": 0}}, "claims.equivalence_margin"),  # a match needs a margin
    ({"claims": {"loss_ratio_margin": 0.8}}, "claims.loss_ratio_margin"),  # a ratio margin above 1
    ({"claims": {"drop_margin": -0.1}}, "claims.drop_margin"),
    ({"extra_seeds": {"seeds": [-1]}}, "extra_seeds.seeds.0"),
    ({"groups": ["C4", "D4"]}, "groups"),  # reproduce v1 is C4's alone
    ({"groups": ["D8"], "reproduce": "v2"}, "groups.0"),
    ({"reproduce": "v3"}, "reproduce"),
    ({"variants": ["archetypal"], "sae": {"anchors": 100000}}, "sae.anchors"),  # more anchors than SAE rows
    ({"reproduce": "v2", "probe": {"probes": ["knn"]}}, "probe.probes"),  # v2's tables are XGBoost's
    ({"reproduce": "v2", "probe": {"representations": ["latents"]}}, "probe.representations"),
    ({"probe": {"probes": []}}, "probe.probes"),
    ({"sae": {"invariance_lambda": -1}}, "sae.invariance_lambda"),
    ({"reproduce": "toy", "groups": ["C3"]}, "groups"),  # 3 divides neither d = 16 nor is 2d
    ({"reproduce": "toy", "topk": [9]}, "topk"),  # TopK 9 > the 8 latents of a narrow SAE at N = 8
    ({"reproduce": "toy", "toy": {"invariant_features": 5}}, "toy.invariant_features"),  # M fixes a 4-dim space
    ({"toy": {"canonical": ["first"]}}, "toy.canonical"),
    ({"reproduce": "toy", "topk": [3, 4]}, "topk"),  # one K per toy run
    ({"reproduce": "toy", "groups": ["D4"]}, "groups"),  # the toy's M is one cyclic generator
    ({"reproduce": "v2", "groups": ["C8"]}, "groups"),  # an eighth of a turn moves no pixel grid onto itself
    ({"reproduce": "toy", "groups": ["C1"]}, "groups.0"),
    ({"reproduce": "orbits", "orbits": {"source": "digits"}, "groups": ["C4", "D4"]}, "groups"),  # one per table
    ({"toy": {"orders": "4"}}, "toy.orders"),  # the old key, still read, still checked
]
IDS = [f"{i:02d}-{named}" for i, (_, named) in enumerate(BAD_CONFIGS)]


def test_the_bad_config_table_is_large():
    assert len(BAD_CONFIGS) >= 40


@pytest.mark.parametrize(("edit", "named"), BAD_CONFIGS, ids=IDS)
def test_bad_config_is_rejected_naming_the_key(edit, named):
    config = smoke_config()
    for key, value in edit.items():
        config[key] = {**config[key], **value} if isinstance(value, dict) and key in config else value
    with pytest.raises(ConfigError, match=rf"(?<![\w.]){named}(?![\w])"):
        validate_config(copy.deepcopy(config), SCHEMA, warn=lambda _: None)


# Through Snakemake for real, one bad config of each kind of check (the start-up hook calls the same
# validate_config that the test above runs on every row): an unknown key, a type, a non-finite number, an old
# key, the run folder, a size against the SAE's dictionary, a setting against another (the probe split, kNN),
# the atlas thresholds, the claims' margins, the group against the version, v2's probes, the toy model.
# Every row went through Snakemake once (about 5 min on 2 cores); one of each kind keeps the hook's wiring
# checked in a sixth of that.
THROUGH_SNAKEMAKE = ["00-base.epochz", "01-modles", "14-data.n_probe", "26-sae.lr", "29-seeds.0", "34-run",
                     "20-topk", "46-probe.test_fraction", "47-probe.knn_neighbors", "56-atlas.moved",
                     "58-claims.equivalence_margin", "62-groups", "66-probe.probes", "71-topk"]  # fmt: skip
THROUGH = [IDS.index(name) for name in THROUGH_SNAKEMAKE]


@pytest.fixture(scope="module")
def bad_runs(tmp_path_factory):
    """One bad config of each kind run for real (not a dry run) through Snakemake, two at a time."""
    workdir = copy_workflow(tmp_path_factory.mktemp("bad"))

    def run(i: int):
        edit = {"run": f"bad{i}", **BAD_CONFIGS[i][0]}
        (workdir / f"bad{i}.yaml").write_text(yaml.safe_dump(edit))
        return snakemake(workdir, "--cores", "1", "all", "--configfile", "config/smoke.yaml", f"bad{i}.yaml")

    with ThreadPoolExecutor(2) as pool:
        return workdir, dict(zip(THROUGH, pool.map(run, THROUGH)))


@pytest.mark.slow
@pytest.mark.parametrize("i", THROUGH, ids=THROUGH_SNAKEMAKE)
def test_snakemake_stops_before_any_job_naming_the_key(bad_runs, i):
    workdir, results = bad_runs
    result, named = results[i], BAD_CONFIGS[i][1]
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"config key {named}" in output or f"unknown config key {named}" in output, output[-2000:]
    assert "Job stats" not in output and not (workdir / "results").exists()


@pytest.mark.slow
def test_a_second_configfile_flag_is_refused(tmp_path):
    workdir = copy_workflow(tmp_path)
    (workdir / "extra.yaml").write_text("seed: 1\n")
    result = snakemake(workdir, "-n", "--cores", "1", "all", "--configfile", "config/smoke.yaml",
                       "--configfile", "extra.yaml")  # fmt: skip
    assert result.returncode != 0 and "--configfile given 2 times" in result.stdout + result.stderr
    # one flag with both files is how to layer them
    result = snakemake(workdir, "-n", "--cores", "1", "all", "--configfile", "config/smoke.yaml", "extra.yaml")
    assert result.returncode == 0, result.stderr[-2000:]
    output = result.stdout + result.stderr
    assert "run 'smoke' -> results/smoke/" in output and "extra.yaml" in output


@pytest.mark.slow
def test_a_config_file_without_its_own_run_is_refused(tmp_path):
    workdir = copy_workflow(tmp_path)
    (workdir / "mine.yaml").write_text("seed: 1\n")
    result = snakemake(workdir, "-n", "--cores", "1", "all", "--configfile", "mine.yaml")
    assert result.returncode != 0 and "config key run: none of mine.yaml sets it" in result.stdout + result.stderr
    result = snakemake(workdir, "-n", "--cores", "1", "all", "--configfile", "mine.yaml", "--config", "run=mine")
    assert result.returncode == 0 and "results/mine/" in result.stdout + result.stderr
    (workdir / "twice.yaml").write_text("run: twice\nseeds: [0]\nseeds: [1]\n")
    result = snakemake(workdir, "-n", "--cores", "1", "all", "--configfile", "twice.yaml")
    assert result.returncode != 0
    assert "twice.yaml, line 3: config key seeds is given twice" in result.stdout + result.stderr


@pytest.mark.slow
def test_another_kind_of_config_cannot_write_into_a_run_folder(tmp_path):
    workdir = copy_workflow(tmp_path)
    result = snakemake(workdir, "--cores", "1", "results/smoke/seed0/data/probe.npz", "--configfile", "config/smoke.yaml")
    assert result.returncode == 0 and (workdir / "results/smoke/run_identity.json").exists(), result.stderr[-2000:]
    result = snakemake(workdir, "-n", "--cores", "1", "all", "--configfile", "config/v2_smoke.yaml", "--config",
                       "run=smoke")  # fmt: skip
    assert result.returncode != 0
    assert "results/smoke/ holds a run of {'reproduce': 'v1'}" in result.stdout + result.stderr
    assert "Job stats" not in result.stdout + result.stderr


def test_the_checked_dictionary_sizes_are_the_saes():
    from eqsae.models.registry import variant_config
    from eqsae.pipeline.config import TRAINED_BY
    from eqsae.pipeline.validate import dictionary_size

    for variant in ("regular", "wide", "twolayer", "invariant", "equivariant", "twolayer_wide", "equivariant_latent"):
        assert dictionary_size(variant) == variant_config(TRAINED_BY.get(variant, variant), 4)[0].d_latent


def test_k_and_t_are_checked_against_the_orbit_dictionary_at_start_up(tmp_path):
    """On the orbits branch the dictionary is orbits.expansion x d, not the Shapes SAE's 2,048."""
    import numpy as np

    from eqsae.sources.orbit_table import write_orbit_table

    digits = layered("digits_smoke.yaml")  # d_act 16 x expansion 2 = 32 latents
    size = digits["orbits"]["expansion"] * digits["orbits"]["digits"]["d_act"]
    with pytest.raises(ConfigError, match=rf"config key topk: K = {size + 1} exceeds the {size} latents .*orbits.expansion"):
        validate_config({**copy.deepcopy(digits), "topk": [size + 1]}, SCHEMA)
    orbits = np.random.default_rng(0).normal(size=(40, 4, 2)).astype(np.float32)
    write_orbit_table(tmp_path / "mine.parquet", orbits, {"turn": np.tile(np.arange(4), (40, 1))})
    mine = {**copy.deepcopy(digits), "orbits": {**digits["orbits"], "source": "file", "expansion": 8, "labels": [],
                                                 "activations": str(tmp_path / "mine.parquet")}}  # fmt: skip
    validate_config({**copy.deepcopy(mine), "topk": [16], "truncations": [16]}, SCHEMA)  # 8 x 2 = 16 latents
    with pytest.raises(ConfigError, match=r"config key truncations: T = 100 exceeds the 16 latents .*d = 2"):
        validate_config({**copy.deepcopy(mine), "topk": [4], "truncations": [100]}, SCHEMA)
    with pytest.raises(ConfigError, match=r"config key orbits.held_out: 0.999 of 40 orbits .* leaves 1 to train"):
        validate_config({**copy.deepcopy(mine), "orbits": {**mine["orbits"], "held_out": 0.999}}, SCHEMA)
    write_orbit_table(tmp_path / "split.parquet", orbits, held_out=np.arange(40) < 12)  # the table's own split
    split = {**mine["orbits"], "activations": str(tmp_path / "split.parquet")}
    validate_config({**copy.deepcopy(mine), "orbits": {**split, "held_out": "table"}}, SCHEMA)
    with pytest.raises(ConfigError, match=r"orbits.held_out: 0.25 splits the orbits in .*split.parquet anew"):
        validate_config({**copy.deepcopy(mine), "orbits": split}, SCHEMA)
    with pytest.raises(ConfigError, match=r"orbits.held_out: 'table' reads the source's own split, but the orbits "
                                          r"in .*mine.parquet have none"):
        validate_config({**copy.deepcopy(mine), "orbits": {**mine["orbits"], "held_out": "table"}}, SCHEMA)


@pytest.mark.parametrize(("rows", "named"), [
    ([(0, e) for e in range(4)] + [(1, e) for e in (0, 1, 2, 3, 3)], "orbit_id 1 does not"),  # an element twice
    ([(0, e) for e in range(4)] + [(1, e) for e in (0, 1, 3)], "orbit_id 1 does not"),  # an element missing
    ([(-1, e) for e in range(4)], "column 'orbit_id' has a negative value"),
    ([], "has no rows"),
], ids=["twice", "missing", "negative", "empty"])  # fmt: skip
def test_an_orbit_table_with_bad_elements_stops_at_start_up(tmp_path, rows, named):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"orbit_id": pa.array([r[0] for r in rows], pa.int64()),
                      "element": pa.array([r[1] for r in rows], pa.int64()),
                      "activation": pa.array([[0.5, 1.0]] * len(rows), pa.list_(pa.float32(), 2))})  # fmt: skip
    pq.write_table(table, tmp_path / "bad.parquet")
    config = layered("digits_smoke.yaml")
    config["orbits"] = {**config["orbits"], "source": "file", "labels": [], "group": "C4",
                        "activations": str(tmp_path / "bad.parquet")}  # fmt: skip
    with pytest.raises(ConfigError, match=rf"config key orbits.activations: .*bad.parquet: .*{named}"):
        validate_config(config, SCHEMA)


@pytest.mark.parametrize(("text", "named"), [
    ("run: mine\nsae:\n  lr: 0.01\n  lr: 0.1\n", "mine.yaml, line 4: config key lr is given twice (first on line 3)"),
    ("run: mine\nrun: other\n", "mine.yaml, line 2: config key run is given twice"),
    ("", "mine.yaml: the config file is empty"),
    ("- run\n- mine\n", "mine.yaml: the config file is a list, not a mapping"),
    ("run: [mine\n", "mine.yaml: not valid YAML"),
])  # fmt: skip
def test_a_config_file_is_read_strictly_naming_the_file_and_line(tmp_path, text, named):
    from eqsae.pipeline.validate import ConfigError, read_config_file

    (tmp_path / "mine.yaml").write_text(text)
    with pytest.raises(ConfigError, match=re.escape(named)):
        read_config_file(tmp_path / "mine.yaml")


def test_the_command_line_check_names_the_file_snakemake_does_not(tmp_path, capsys):
    """Snakemake reads a --configfile before the workflow's checks and reports invalid YAML without the file's
    name; `python -m eqsae.pipeline.validate` names file and line, and runs the start-up checks over the defaults."""
    from eqsae.pipeline.validate import main

    (tmp_path / "broken.yaml").write_text("run: mine\nsae: {lr: [1,\n")
    (tmp_path / "nan.yaml").write_text("run: mine\nsae: {lr: .nan}\n")
    (tmp_path / "good.yaml").write_text("run: mine\nsae: {lr: 0.001}\n")
    assert main([str(tmp_path / "broken.yaml")]) == 1
    assert re.search(r"broken\.yaml: not valid YAML: .*line 3", capsys.readouterr().err, re.S)
    assert main([str(tmp_path / "nan.yaml")]) == 1
    assert "nan.yaml: config key sae.lr: nan is not a finite number" in capsys.readouterr().err
    assert main([str(tmp_path / "good.yaml"), "config/smoke.yaml", "config/v2.yaml"]) == 0


def test_seed_beside_seeds_is_refused_wherever_each_is_given(tmp_path):
    from eqsae.pipeline.validate import ConfigError, check_config_files

    (tmp_path / "a.yaml").write_text("run: a\nseed: 1\n")
    (tmp_path / "b.yaml").write_text("run: b\nseeds: [0, 1]\n")
    with pytest.raises(ConfigError, match="seed and seeds are both given"):
        check_config_files([tmp_path / "a.yaml"], {"seeds": [2]}, cli_keys=["seeds"])
    with pytest.raises(ConfigError, match="seed and seeds are both given"):
        check_config_files([tmp_path / "a.yaml", tmp_path / "b.yaml"], {})
    with pytest.raises(ConfigError, match="seed and seeds are both given"):
        check_config_files([], {"seed": 1, "seeds": [0]}, cli_keys=["seed", "seeds"])
    with pytest.raises(ConfigError, match="--configfile given 2 times"):
        check_config_files([tmp_path / "b.yaml"], {}, configfile_flags=2)
    check_config_files([tmp_path / "a.yaml"], {})  # either alone is fine
    check_config_files([tmp_path / "b.yaml"], {"seeds": [2]}, cli_keys=["seeds"])
    check_config_files([tmp_path / "b.yaml", tmp_path / "a.yaml"], {})  # a later seed overrides, as layers do


def test_a_run_folder_made_by_another_kind_of_config_is_refused(tmp_path):
    from eqsae.pipeline.validate import IDENTITY, ConfigError, check_run_identity

    folder = tmp_path / "results" / "smoke"
    v1, v2 = validate_config({"run": "smoke"}, SCHEMA), validate_config({"run": "smoke", "reproduce": "v2"}, SCHEMA)
    check_run_identity(folder, v1, write=False)
    assert not folder.exists()  # a dry run records nothing
    check_run_identity(folder, v1, write=True)
    assert json.loads((folder / IDENTITY).read_text()) == {"reproduce": "v1"}
    check_run_identity(folder, validate_config({"run": "smoke", "topk": [8]}, SCHEMA), write=True)  # a setting
    with pytest.raises(ConfigError, match=r"holds a run of \{'reproduce': 'v1'\}.*reuse_run=true"):
        check_run_identity(folder, v2, write=True)
    check_run_identity(folder, {**v2, "reuse_run": True}, write=True)
    assert json.loads((folder / IDENTITY).read_text()) == {"reproduce": "v2"}


def test_a_dictionary_too_large_for_this_machine_is_refused_at_start_up_naming_the_expansion():
    from eqsae.pipeline.validate import SAE_MEMORY_FLOOR_MB, check_sae_memory, orbit_sae_memory_mb

    digits = layered("digits_smoke.yaml")
    wide = {**copy.deepcopy(digits), "variants": ["regular", "wide"]}
    wide["orbits"]["digits"]["d_act"] = 20_000
    # the wide SAE: 4 x 2 x 20,000 = 160,000 latents of 20,000: 2 matrices x 4 (grad, Adam's moments) x 4 bytes
    assert orbit_sae_memory_mb(wide, "wide") == SAE_MEMORY_FLOOR_MB + -(-4 * 2 * 160_000 * 20_000 * 4 // 2**20)
    with pytest.raises(ConfigError, match=r"config key orbits.expansion: 2 x d = 20000 gives the wide SAE 160000 "
                                          r"latents, whose training needs about 99,657 MB; this machine has 24,000"):
        check_sae_memory(wide, available_mb=24_000)
    check_sae_memory(digits, available_mb=24_000)  # the smoke digits: 32 latents of 16
    assert orbit_sae_memory_mb(digits, "regular") == SAE_MEMORY_FLOOR_MB + 1


@pytest.mark.parametrize(("orbits", "named"), [
    ({"labels": ["digit", "parity"]}, r"config key orbits.labels: \['parity'\] are not labels of the digits"),
    ({"digits": {"n": 5000}}, r"config key orbits.digits.n: 5000 images, but scikit-learn's digits are 1797"),
    ({"held_out": 0.97}, r"config key orbits.held_out: 0.97 of 200 orbits of the digits leaves"),
    ({"tasks": "paper"}, r"config key orbits.tasks: 'paper' reads the Shapes' quadrant labels; source 'digits' has"),
])  # fmt: skip
def test_the_digits_labels_size_and_split_are_checked_at_start_up(orbits, named):
    digits = layered("digits_smoke.yaml")
    edited = {**digits["orbits"], **orbits, "digits": {**digits["orbits"]["digits"], **orbits.get("digits", {})}}
    with pytest.raises(ConfigError, match=named):
        validate_config({**copy.deepcopy(digits), "orbits": edited}, SCHEMA)


SHAPES, TOY = "shapes_orbits_smoke.yaml", "toy_orbits_smoke.yaml"


@pytest.mark.parametrize(("source", "edit", "named"), [
    (SHAPES, {"models": ["mlp", "cnn"]}, r"config key models: the shapes source reads one base model's activations"),
    (SHAPES, {"orbits": {"labels": ["shape_0", "colour"]}}, r"config key orbits.labels: \['colour'\] are not labels "
                                                            r"of the Shapes"),
    (SHAPES, {"orbits": {"labels": ["shape_0"]}}, r"config key orbits.labels: \['shape_0'\] with tasks: paper, whose"),
    (SHAPES, {"orbits": {"held_out": 0.2}}, r"config key orbits.held_out: 0.2 splits the orbits of the Shapes anew, "
                                            r"but they come with their own split; set orbits.held_out: table"),
    (SHAPES, {"data": {"n_probe": 4}}, r"config key orbits.held_out: table of 164 orbits of the Shapes leaves 160 to "
                                       r"train the SAEs and M on and 4 to probe"),
    ("digits_smoke.yaml", {"orbits": {"held_out": "table"}}, r"config key orbits.held_out: 'table' reads the "
                                                              r"source's own split, but the orbits of the digits have"),
    (SHAPES, {"groups": ["C5"]}, r"config key groups: C5 does not act on images"),
    (TOY, {"toy": {"n_features": [8, 16]}}, r"config key toy.n_features: the toy source makes one dataset per seed; "
                                            r"give one value, not \[8, 16\]"),
    (TOY, {"toy": {"d": 10}}, r"config key toy: toy order 4 must divide d = 10 or be 2d = 20 \(group C4\)"),
    (TOY, {"groups": ["D4"]}, r"config key groups: the toy's M generates a cyclic group; D4 has two generators"),
    (TOY, {"orbits": {"labels": ["feature_8"]}}, r"config key orbits.labels: \['feature_8'\] are not labels of the toy"),
    (TOY, {"orbits": {"held_out": 0.99}}, r"config key orbits.held_out: 0.99 of 400 orbits of the toy"),
    (TOY, {"orbits": {"tasks": "paper"}}, r"config key orbits.tasks: 'paper' reads the Shapes' quadrant labels; "
                                          r"source 'toy' has none"),
])  # fmt: skip
def test_the_shapes_and_toy_sources_are_checked_at_start_up(source, edit, named):
    config = layered(source)
    for key, value in edit.items():
        config[key] = {**config[key], **value} if isinstance(value, dict) else value
    with pytest.raises(ConfigError, match=named):
        validate_config(config, SCHEMA)


def test_the_probe_split_and_knn_are_checked_against_the_held_out_orbits():
    digits = layered("digits_smoke.yaml")  # 200 digits, a quarter held out: 50 orbits, 40 to train the probes on
    with pytest.raises(ConfigError, match=r"config key probe.knn_neighbors: 200 neighbours but the probes' training "
                                          r"split has only 160 rows \(the held-out orbits"):
        validate_config({**copy.deepcopy(digits), "probe": {**digits["probe"], "knn_neighbors": 200}}, SCHEMA)


def test_the_config_reference_lists_every_key_as_the_schema_gives_it():
    """config/README.md's key table is generated from the schema; the schema's defaults are config.yaml's values,
    so the table's defaults are what a run gets."""
    from eqsae.pipeline.validate import REFERENCE_BEGIN, REFERENCE_END, _schema_keys, config_reference, read_config_file

    readme = (ROOT / "config/README.md").read_text()
    generated = readme.split(REFERENCE_BEGIN + "\n", 1)[1].split(REFERENCE_END, 1)[0]
    assert generated == config_reference(SCHEMA), "run python -m eqsae.pipeline.validate --write-reference"
    keys = _schema_keys(yaml.safe_load(SCHEMA.read_text()))
    assert not [key for key, sub in keys if not sub.get("description")], "every key says what it does"
    paper = read_config_file(ROOT / "config/config.yaml")
    for key, sub in keys:
        value = paper
        for part in key.split("."):
            value = value.get(part, KeyError) if isinstance(value, dict) else KeyError
        if value is not KeyError and not isinstance(value, dict):
            assert sub["default"] == value, key
    for config in sorted((ROOT / "config").glob("*.yaml")):
        assert f"`{config.name}`" in readme, f"config/README.md says nothing of {config.name}"


@pytest.mark.slow
def test_a_run_below_the_papers_sizes_is_called_toy_size_and_the_paper_configs_are_not(tmp_path):
    from eqsae.pipeline.validate import _merge, read_config_file, toy_size

    def sizes(name):
        config = read_config_file(ROOT / "config/config.yaml")
        if name:
            _merge(config, read_config_file(ROOT / f"config/{name}.yaml"))
        return toy_size(validate_config(config, SCHEMA, warn=lambda message: None), ROOT / "config")

    assert "sae.epochs 2 < 500" in sizes("smoke") and "toy.n_train 128 < 8192" in sizes("toy_smoke")
    assert "orbits.digits.n 200 < all 1,797" in sizes("digits_smoke") and "base.epochs 2 < 100" in sizes("v2_smoke")
    for name in (None, "v2", "toy", "digits", "orientation_shape", "topk_relu", "toy_orientation"):
        assert sizes(name) == [], name
    result = snakemake(copy_workflow(tmp_path), "-n", "--cores", "1", "all", "--configfile", "config/smoke.yaml")
    assert "eqsae: toy-size config: these numbers test the pipeline, not the paper (data.n_base 256" in result.stderr
