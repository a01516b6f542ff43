"""The conda environment carries exactly the pins of pyproject.toml, so both installs compute the same."""

import tomllib

import yaml

from conftest import ROOT


def test_conda_env_pins_equal_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "envs/eqsae.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert sorted(pip) == sorted(project["dependencies"])
    assert all("==" in pin for pin in project["dependencies"])
    assert "python=3.11" in env["dependencies"]
