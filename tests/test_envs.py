"""The install: compatible ranges in the package metadata, the exact versions behind the published numbers in
requirements.lock, and the conda environment carrying the lock's versions, so every install computes the same."""

import re
import tomllib

import yaml
from conftest import ROOT
from packaging.requirements import Requirement
from packaging.version import Version

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def lock() -> dict[str, Version]:
    """requirements.lock as {normalised name: version}."""
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[_name(name)] = Version(version)
    return pins


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_metadata_has_ranges_and_no_exact_pin():
    requirements = [*PROJECT["dependencies"], *(r for extra in PROJECT["optional-dependencies"].values() for r in extra)]
    assert requirements and not [r for r in requirements if "==" in r or "===" in r]
    assert all(Requirement(r).specifier for r in requirements), "every dependency has a range"


def test_the_lock_pins_every_dependency_and_test_tool_inside_its_range():
    pins = lock()
    for text in [*PROJECT["dependencies"], *PROJECT["optional-dependencies"]["test"]]:
        requirement = Requirement(text)
        assert _name(requirement.name) in pins, f"{requirement.name} is not in requirements.lock"
        assert pins[_name(requirement.name)] in requirement.specifier, (text, pins[_name(requirement.name)])
    assert "eqsae" not in pins and pins["torch"] == Version("2.13.0")


def test_the_conda_env_carries_the_locks_versions():
    env = yaml.safe_load((ROOT / "envs/eqsae.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pins = lock()
    listed = {_name(Requirement(r).name): r for r in pip}
    assert set(listed) == {_name(Requirement(r).name) for r in PROJECT["dependencies"]}
    for name, text in listed.items():
        assert text == f"{Requirement(text).name}=={pins[name]}", text
    assert "python=3.11" in env["dependencies"]


def test_the_set_up_command_installs_from_the_lock():
    readme = (ROOT / "README.md").read_text()
    assert 'pip install -c requirements.lock -e ".[test]"' in readme
    assert 'pip install -c requirements.lock -e ".[test]"' in (ROOT / ".ci/run").read_text()
