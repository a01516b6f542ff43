"""Provenance: which code, packages and machine produced a result; never fails for want of git."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import eqsae
from eqsae.pipeline.config import MFitConfig
from eqsae.pipeline.provenance import PACKAGES, collect, git_state

ROOT = Path(__file__).resolve().parents[1]


def test_collect_in_this_checkout_is_json_and_names_the_commit():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout of the project")
    record = collect({"m": MFitConfig(), "path": Path("results/m"), "topk": (8, 16)}, seed=3, device="cpu", threads=2)
    assert json.loads(json.dumps(record, allow_nan=False)) == record
    assert re.fullmatch(r"[0-9a-f]{40}", record["git"]["commit"])
    expected = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    assert record["git"]["commit"] == expected.strip() and isinstance(record["git"]["dirty"], bool)
    assert set(record["packages"]) == {"python", *PACKAGES}
    assert record["packages"]["eqsae"] == eqsae.__version__ and record["packages"]["numpy"]
    assert (record["seed"], record["device"], record["threads"]) == (3, "cpu", 2)
    assert record["settings"] == {"m": MFitConfig().__dict__, "path": "results/m", "topk": [8, 16]}
    assert record["created"].endswith("+00:00")


def test_a_copy_outside_git_has_no_commit_and_needs_no_torch(tmp_path):
    shutil.copytree(ROOT / "src" / "eqsae", tmp_path / "pkg" / "eqsae", ignore=shutil.ignore_patterns("__pycache__"))
    script = ("import json, sys, eqsae, eqsae.pipeline.provenance as p; "
              "print(json.dumps([eqsae.__file__, p.collect({}, seed=None, device='cpu', threads=1), "
              "'torch' in sys.modules]))")  # fmt: skip
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(tmp_path / "pkg"),
           "GIT_CEILING_DIRECTORIES": str(tmp_path)}  # git looks no higher, even if /tmp were in a checkout
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    source, record, torch_loaded = json.loads(result.stdout)
    assert Path(source).is_relative_to(tmp_path)
    assert record["git"] == {"commit": None, "dirty": None}
    assert record["seed"] is None and not torch_loaded and record["cpu"]["torch_capability"] is None


def test_no_git_binary_means_unknown_not_an_error(monkeypatch):
    monkeypatch.setenv("PATH", "")
    assert git_state() == {"commit": None, "dirty": None}


def test_the_cpu_code_path_is_recorded_as_torch_took_it():
    script = "import json, torch; from eqsae.pipeline.provenance import cpu_state; torch.ones(3).sum(); print(json.dumps(cpu_state()))"
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE"}
    env.pop("ONEDNN_MAX_CPU_ISA", None)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["torch_capability"] == "DEFAULT"  # what torch dispatched to, not only what was asked
    assert record["variables"] == {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": None, "MKL_CBWR": "COMPATIBLE"}
    assert record["model"]
