import random

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def seed_everything():
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def small_set():
    from eqsae.sources.shapes import generate

    return generate(64, np.random.default_rng(0))


ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def copy_workflow(dest):
    """The workflow as a user's clone has it (Snakefile, workflow/, config/, envs/, profiles/ and the library
    in src/, which the jobs import), without any results."""
    import shutil

    shutil.copy(ROOT / "Snakefile", dest / "Snakefile")
    for folder in ("workflow", "config", "envs", "profiles", "src"):
        shutil.copytree(ROOT / folder, dest / folder, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return dest


def snakemake(cwd, *args, timeout=2700):
    """Run Snakemake in `cwd`; returns the CompletedProcess (stdout and stderr as text)."""
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="session")
def smoke(tmp_path_factory):
    """The smoke config run once per session in a fresh directory, as a user runs it (--cores 2): the subject of
    test_workflow.py, and the local run that test_slurm.py's submission is compared with."""
    workdir = copy_workflow(tmp_path_factory.mktemp("smoke"))
    result = snakemake(workdir, "--cores", "2", "all", "--configfile", "config/smoke.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir, result


def jobs_run(result) -> dict[str, int]:
    """Job counts from Snakemake's 'Job stats' table (empty when nothing ran)."""
    import re

    text = result.stdout + result.stderr
    if "Job stats" not in text:
        return {}
    table = text.split("Job stats:", 1)[1].split("total", 1)[0]
    return {job: int(n) for job, n in re.findall(r"^(\w+)\s+(\d+)\s*$", table, re.M)}


def pytest_collection_modifyitems(items):
    """Every end-to-end test is slow: `pytest -m "not slow"` is the fast tier for development."""
    import pytest

    for item in items:
        if item.get_closest_marker("workflow") or item.get_closest_marker("slurm"):
            item.add_marker(pytest.mark.slow)
