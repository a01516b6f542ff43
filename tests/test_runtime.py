"""Where a stage runs: a failed job's log ends with its traceback, OpenMP waits politely, the CPU code path."""

import subprocess
import sys

import pytest
import torch

JOB = """
import logging, sys
from eqsae.pipeline.runtime import log_to
log_to(sys.argv[1])
log_to(sys.argv[1])  # a second call must not log the failure twice
logging.getLogger("eqsae.training.train").info("epoch 3/500 loss 0.1")
def train():
    raise RuntimeError("loss exploded 42")
train()
"""


def test_an_uncaught_exception_goes_to_the_log_file_and_to_stderr(tmp_path):
    log = tmp_path / "job.log"
    result = subprocess.run([sys.executable, "-c", JOB, str(log)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    text = log.read_text()
    assert text.index("epoch 3/500 loss 0.1") < text.index("job failed")
    assert "Traceback (most recent call last)" in text and "in train" in text
    assert text.rstrip().endswith("RuntimeError: loss exploded 42")
    assert text.count("job failed") == 1
    assert result.stderr.count("Traceback (most recent call last)") == 1
    assert result.stderr.rstrip().endswith("RuntimeError: loss exploded 42")


def test_logging_to_stderr_restores_the_previous_hook(tmp_path):
    script = f"""
import sys

import pytest
import torch
from eqsae.pipeline.runtime import log_to
log_to({str(tmp_path / "a.log")!r})
assert sys.excepthook is not sys.__excepthook__
log_to(None)
assert sys.excepthook is sys.__excepthook__
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_openmp_waits_passively_only_where_a_job_would_share_cores():
    from eqsae.pipeline.runtime import wait_policy

    assert wait_policy(2, load=0.1, cores=2) is None  # alone: spinning is ~20% faster (benchmarks/omp_wait.py)
    assert wait_policy(2, load=1.0, cores=2) == "PASSIVE"  # beside a busy process: 2.3-2.9x faster
    assert wait_policy(1, load=0.5, cores=2) is None
    assert wait_policy(2, load=3.0, cores=16) is None


def test_an_explicit_wait_policy_is_left_alone(monkeypatch):
    import os

    from eqsae.pipeline import runtime

    monkeypatch.setattr(runtime, "wait_policy", lambda threads: "PASSIVE")
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    runtime.wait_politely(2)
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
    monkeypatch.delenv("OMP_WAIT_POLICY")
    runtime.wait_politely(2)
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"


def test_the_avx2_code_path_names_all_three_back_ends_and_native_none():
    from eqsae.pipeline.runtime import code_path_env

    assert set(code_path_env("AVX2")) == {"ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR"}
    assert code_path_env("native") == {}
    with pytest.raises(ValueError, match="cpu_code_path.*'avx512'"):
        code_path_env("avx512")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_asking_for_cuda_without_a_gpu_names_the_config_key():
    from eqsae.pipeline.runtime import pick_device

    with pytest.raises(RuntimeError, match="config key device: 'cuda' was asked for but torch sees no CUDA GPU"):
        pick_device("cuda")
