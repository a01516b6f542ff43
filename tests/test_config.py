import copy
from pathlib import Path

import pytest
import yaml

from conftest import copy_workflow, snakemake
from eqsae.config import ConfigError, validate_config

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow/schemas/config.schema.yaml"


def paper_config() -> dict:
    return yaml.safe_load((ROOT / "config/config.yaml").read_text())


def test_shipped_configs_are_valid():
    config = validate_config(paper_config(), SCHEMA)
    assert config["base"] == {"epochs": 100, "batch_size": 64, "lr": 0.001}
    assert config["m"]["epochs"] == 150 and config["m"]["init"] == "identity"
    assert config["data"] == {"n_base": 10000, "n_sae": 10000, "n_probe": 2500}
    validate_config(yaml.safe_load((ROOT / "config/smoke.yaml").read_text()), SCHEMA)


def test_defaults_are_the_paper_settings():
    assert validate_config({}, SCHEMA) == paper_config()


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda c: c["base"].update(epochz=3), "base.epochz"),
        (lambda c: c.update(modles=["cnn"]), "modles"),
        (lambda c: c["base"].update(epochs=-1), "base.epochs"),
        (lambda c: c["m"].update(lr=0), "m.lr"),
        (lambda c: c["m"].update(init="random"), "m.init"),
        (lambda c: c.update(models=["resnet"]), "models.0"),
        (lambda c: c["data"].update(n_probe="many"), "data.n_probe"),
        (lambda c: c.update(topk=[16, 16]), "topk"),
        (lambda c: c.update(device="tpu"), "device"),
    ],
    ids=["misspelt-nested", "misspelt-top", "negative-epochs", "zero-lr", "bad-enum", "bad-model", "wrong-type",
         "duplicate-k", "bad-device"],
)  # fmt: skip
def test_bad_config_is_rejected_naming_the_key(edit, named):
    config = paper_config()
    edit(config)
    with pytest.raises(ConfigError, match=rf"\b{named}\b"):
        validate_config(copy.deepcopy(config), SCHEMA)


@pytest.mark.parametrize(
    ("override", "named"), [("base={'epochz': 3}", "base.epochz"), ("base={'epochs': -1}", "base.epochs")]
)
def test_snakemake_stops_before_any_job(tmp_path, override, named):
    result = snakemake(copy_workflow(tmp_path), "-n", "--cores", "1", "all", "--config", override)
    assert result.returncode != 0
    assert named in result.stderr + result.stdout
    assert "Job stats" not in result.stdout + result.stderr
