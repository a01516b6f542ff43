"""The jobs that gate a branch start first and fit beside a running 1-thread job (issue 16: a 2-thread fit_m
waited behind a stream of SAE and probe jobs in a --cores 2 run, a core idle while the equivariant branch
waited for M)."""

import re

import pytest
from conftest import copy_workflow, snakemake

GATING = ("generate_dataset", "train_base", "dump_activations", "fit_m", "train_sae")


def planned(workdir, cores: int) -> dict[str, tuple[set[int], set[int]]]:
    """rule -> (threads, priorities) of its jobs in a dry run of the paper config at --cores."""
    result = snakemake(workdir, "-n", "--cores", str(cores), "all", "--config", "run=schedule")
    assert result.returncode == 0, result.stderr[-3000:]
    plan = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", result.stdout + result.stderr):
        if not (m := re.match(r"(?:local)?rule (\w+):", block)):
            continue
        threads = re.search(r"^\s+threads: (\d+)$", block, re.M)
        priority = re.search(r"^\s+priority: (\d+)$", block, re.M)
        entry = plan.setdefault(m.group(1), (set(), set()))
        entry[0].add(int(threads.group(1)) if threads else 1)
        entry[1].add(int(priority.group(1)) if priority else 0)
    return plan


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("schedule"))


def test_gating_jobs_start_before_the_jobs_that_end_a_branch(workdir):
    plan = planned(workdir, 2)
    priority = {rule: max(p) for rule, (_, p) in plan.items()}
    leaves = ("probe", "probe_base", "sae_metrics", "atlas", "m_r2", "base_heldout")
    assert min(priority[rule] for rule in GATING) > max(priority[rule] for rule in leaves)
    # Each stage ranks above what waits on it.
    assert priority["train_base"] > priority["fit_m"] > priority["train_sae"] > priority["probe"]


def test_a_gating_job_leaves_a_core_free_on_a_small_run_and_keeps_its_threads_on_a_large_one(workdir):
    small, large = planned(workdir, 2), planned(workdir, 8)
    for rule in ("train_base", "dump_activations", "fit_m", "base_heldout"):
        assert small[rule][0] == {1}, rule
        assert large[rule][0] == {2}, rule  # config/config.yaml's threads
    assert planned(workdir, 1)["fit_m"][0] == {1}
