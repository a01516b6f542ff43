"""Snakemake's linter and the catalog's conventions: the workflow lints clean but for one finding we keep on
purpose, and the files the Snakemake workflow catalog reads are there."""

import re

import pytest
import yaml
from conftest import ROOT, copy_workflow, snakemake

ACCEPTED = {
    # The jobs import eqsae from this checkout: the Snakefile prepends src/ to PYTHONPATH and keeps what the user
    # had. The linter asks to assert PYTHONPATH with `envvars:`, which would refuse every user who has none set.
    "Environment variable PYTHONPATH used but not asserted with envvars directive",
}


@pytest.mark.slow
def test_snakemake_lint_finds_only_what_we_keep_on_purpose(tmp_path):
    result = snakemake(copy_workflow(tmp_path), "--lint", timeout=600)
    findings = re.findall(r"^    \* (.+?)(?: in line \d+)?\.?:$", result.stdout + result.stderr, re.M)
    assert findings, "the linter's output changed: no finding parsed"
    assert set(findings) == ACCEPTED, findings


def test_the_catalog_files_are_there():
    catalog = yaml.safe_load((ROOT / ".snakemake-workflow-catalog.yml").read_text())
    assert catalog["usage"]["software-stack-deployment"]["conda"] is True and catalog["usage"]["report"] is True
    assert (ROOT / "config/README.md").is_file() and (ROOT / "workflow/report/workflow.rst").is_file()


def test_ruff_finds_nothing():
    """The rules and their reasons are pyproject.toml's [tool.ruff]."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "ruff", "check", "src", "tests", "workflow/scripts", "benchmarks"],
                            cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]


def test_the_snakefile_and_rules_are_formatted():
    """snakefmt (black inside rules) at the project's line length; run `snakefmt -l 120 Snakefile workflow/rules`."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "-l", "120", "Snakefile", "workflow/rules"],
                            cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
