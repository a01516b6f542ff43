"""config/config.yaml reproduces v1 exactly as before groups of two generators: the same jobs (rule and outputs,
recorded before the change in tests/data/v1_plan_*.txt) and the same numbers (tests/data/v1_golden.json, made by
tests/data/v1_golden.py from the code as it stood then)."""

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import copy_workflow, snakemake

DATA = Path(__file__).parent / "data"
sys.path.insert(0, str(DATA))


def planned_jobs(text: str) -> list[str]:
    """'rule<TAB>outputs' per job of a dry run, sorted (the `all` target has no outputs and is left out)."""
    jobs, rule = [], None
    for line in text.splitlines():
        if found := re.match(r"^(?:local)?rule (\w+):", line):
            rule = found.group(1)
        elif (found := re.match(r"^\s+output: (.*)$", line)) and rule:
            jobs.append(f"{rule}\t{found.group(1).strip()}")
            rule = None
    return sorted(jobs)


NO_EXTRA = ["--config", "extra_seeds={seeds: []}"]


@pytest.mark.slow
@pytest.mark.parametrize("name, args", [("paper", NO_EXTRA), ("smoke", ["--configfile", "config/smoke.yaml"])])
def test_v1_configs_plan_the_same_jobs(tmp_path, name, args):
    """The recorded plans, but for the claims' extra output (the label code's R^2 per seed) and the feature
    explorer's jobs (recorded since); the paper's extra seeds at K = 16 are left out here and checked below."""
    result = snakemake(copy_workflow(tmp_path), "-n", "--cores", "1", "all", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    expected = (DATA / f"v1_plan_{name}.txt").read_text().splitlines()
    planned = planned_jobs(result.stdout)
    assert len(planned) == len(expected)
    assert planned == expected


@pytest.mark.slow
def test_the_extra_seeds_add_their_replicates_at_k_16_only(tmp_path):
    workdir = copy_workflow(tmp_path)
    result = snakemake(workdir, "-n", "--cores", "1", "all")
    assert result.returncode == 0, result.stderr[-3000:]
    expected = set((DATA / "v1_plan_paper.txt").read_text().splitlines())
    added = set(planned_jobs(result.stdout)) - expected
    assert set(planned_jobs(result.stdout)) >= expected
    assert {re.search(r"/seed(\d+)/", job).group(1) for job in added} == {"3", "4"}
    per_sae = [job for job in added if job.split("\t")[0] in ("train_sae", "probe", "sae_metrics", "atlas")]
    assert per_sae and all(re.search(r"k16\b|_k16\.", job) for job in per_sae)
    assert len([job for job in added if job.startswith("train_base")]) == 4  # 2 seeds x 2 base models
    sliced = snakemake(workdir, "-n", "--cores", "1", "all", "--config", "topk=[8]")
    assert "seed3" not in sliced.stdout  # no K = 16 in the slice: no extra seeds


W_DEC_ATOL = 1.2e-2
"""`w_dec` is a signed sum of up to 8,192 x 256 weights that nearly cancel (mlp/standard/wide: -16.88 against an
absolute sum of 113,545), so a relative tolerance on it is ill-conditioned. The order in which Adam's arithmetic
is vectorised moves that sum with the CPU's code path: by 1.8e-3 on one AMD EPYC with AVX-512, by 8.7e-3 on
another 2-core AMD EPYC (cnn/standard/wide: 11.8834 against 11.8747; CI's machines once stayed within 1e-4); a
learning rate 0.1% off moves it by 1.7e-2, still outside. The loss of the same SAE keeps rtol 1e-4."""
RTOL = {"/metrics": 3e-4}
"""The same drift moves the metrics of cnn/standard/wide (with and without M) by up to 1.7e-4 relative on that
second machine (its latent invariance 0.017509 against 0.017512); every other number keeps rtol 1e-4."""


def test_c4_numbers_are_unchanged():
    from v1_golden import GOLDEN, compute

    golden, now = json.loads(GOLDEN.read_text()), compute()
    assert now.keys() == golden.keys()
    for key, value in golden.items():
        if isinstance(value, list) and value and isinstance(value[0], str):
            assert now[key] == value, key
        else:
            rtol = next((r for suffix, r in RTOL.items() if key.endswith(suffix)), 1e-4)
            np.testing.assert_allclose(np.asarray(now[key], float), np.asarray(value, float), rtol=rtol,
                                       atol=W_DEC_ATOL if key.endswith("/w_dec") else 1e-6, err_msg=key)  # fmt: skip
