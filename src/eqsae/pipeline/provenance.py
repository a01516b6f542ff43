"""What produced a result: code version, packages, machine, seed and settings, for a stage's JSON output.

torch-free (package versions come from importlib.metadata), so any stage can afford it. Nothing here raises
for a missing git or a copy of the package outside a checkout: provenance is then partly unknown (None).
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("eqsae", "torch", "numpy", "scikit-learn", "xgboost", "pandas", "pyarrow", "snakemake")
GIT_TIMEOUT_S = 10


def _git(directory: Path, *args: str) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(["git", "-C", str(directory), *args], capture_output=True, text=True,
                              timeout=GIT_TIMEOUT_S, check=False)  # fmt: skip
    except (OSError, subprocess.SubprocessError):  # no git binary, a hung git
        return None


def git_state(directory: str | Path | None = None) -> dict[str, Any]:
    """Commit and dirtiness (tracked files only) of the checkout holding eqsae's source, or of `directory`.

    None where unknown: not a checkout, no git, or the package is a copy that checkout does not track (an
    install inside a repository's ignored .venv would otherwise report that repository's commit)."""
    unknown = {"commit": None, "dirty": None}
    directory = Path(directory) if directory is not None else Path(__file__).resolve().parent
    tracked = _git(directory, "ls-files", "--error-unmatch", "--", "__init__.py")
    head = _git(directory, "rev-parse", "--verify", "HEAD")
    if tracked is None or tracked.returncode or head is None or head.returncode:
        return unknown
    status = _git(directory, "status", "--porcelain", "--untracked-files=no")
    dirty = None if status is None or status.returncode else bool(status.stdout.strip())
    return {"commit": head.stdout.strip(), "dirty": dirty}


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


CODE_PATH_VARIABLES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR")


def cpu_state() -> dict[str, Any]:
    """The CPU and the code path a result was computed on: numbers move with both (eqsae.pipeline.reproduce)."""
    model, flags = platform.processor() or None, set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model in (None, platform.machine()):
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:  # not Linux
        pass
    torch = sys.modules.get("torch")  # never imported for this: a torch-free stage has no torch code path
    return {
        "model": model,
        "widest_isa": next((isa for isa in ("avx512f", "avx2", "avx") if isa in flags), None),
        "torch_capability": torch.backends.cpu.get_cpu_capability() if torch is not None else None,
        "variables": {name: os.environ.get(name) for name in CODE_PATH_VARIABLES},
    }


def _plain(value: Any) -> Any:
    """JSON's types for what settings commonly hold: dataclasses, paths, numpy values; else their str."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if callable(getattr(value, "tolist", None)):  # numpy scalars and arrays, without importing numpy
        return value.tolist()
    return str(value)


def collect(settings: Mapping[str, Any], *, seed: int | None, device: str, threads: int) -> dict[str, Any]:
    """Provenance of one stage's output; JSON-serialisable (settings are converted where they are not)."""
    return {
        "git": git_state(),
        "packages": package_versions(),
        "platform": platform.platform(),
        "cpu": cpu_state(),
        "device": str(device),
        "threads": threads,
        "seed": seed,
        "settings": json.loads(json.dumps(dict(settings), default=_plain)),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
