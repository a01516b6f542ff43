"""Where a stage runs: torch threads, device choice, logging to the rule's log file.

torch is imported inside the functions, so stages that do not need it do not pay for it."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # not at run time: every stage imports this module, and its code hash should not follow config.py
    import torch

    from eqsae.pipeline.config import Device


def wait_policy(threads: int, load: float | None = None, cores: int | None = None) -> str | None:
    """OMP_WAIT_POLICY for a job of `threads` threads: PASSIVE when it would share the machine's cores.

    OpenMP threads spin at every barrier; beside other busy processes a 2-thread torch job then runs 2.3-2.9x
    slower than with passive waiting, but alone passive waiting costs it about 20% (benchmarks/omp_wait.py).
    So the choice follows the machine: passive when the 1-minute load plus this job's threads exceed the cores
    this process may use by more than half a core (an idle machine's load is not 0). The wait policy changes
    no result, only the time."""
    load = os.getloadavg()[0] if load is None else load
    cores = len(os.sched_getaffinity(0)) if cores is None else cores
    return "PASSIVE" if load + threads > cores + 0.5 else None


def wait_politely(threads: int) -> None:
    """Set the wait policy (above) for this process; libgomp reads it once, when torch or XGBoost loads it, so
    call this before importing them. An explicit OMP_WAIT_POLICY in the environment is left alone."""
    if "OMP_WAIT_POLICY" not in os.environ and (policy := wait_policy(threads)) is not None:
        os.environ["OMP_WAIT_POLICY"] = policy


CODE_PATHS: dict[str, dict[str, str]] = {
    "AVX2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2"},
    "native": {},
}
"""The x86 CPU code paths a run can be held to, as the environment variables torch's three CPU back ends read
when they first compute (torch's own kernels, oneDNN's convolutions, MKL's matrix products). Another CPU's
vector units sum in another order, and training turns the last-bit difference into another trajectory; "AVX2"
holds a machine with AVX-512 to the AVX2 kernels of the machines the published numbers were made on (on an AVX2
machine it changes no bit); "native" lets each machine take its widest kernels."""


def code_path_env(name: str) -> dict[str, str]:
    """The environment variables that pin code path `name` (CODE_PATHS); set them before torch computes."""
    if name not in CODE_PATHS:
        raise ValueError(f"cpu_code_path must be one of {sorted(CODE_PATHS)}, got {name!r}")
    return dict(CODE_PATHS[name])


def setup(threads: int, device: Device = "auto") -> torch.device:
    """Make torch use exactly `threads` CPU threads and return the device to compute on."""
    import torch

    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)
    # Denormal floats make CPU kernels many times slower once a model's updates get tiny; flushing them
    # changes nothing above 1e-38.
    torch.set_flush_denormal(True)
    return pick_device(device)


def pick_device(device: Device = "auto") -> torch.device:
    import torch

    match device:
        case "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        case "cuda":
            if not torch.cuda.is_available():
                raise RuntimeError("config key device: 'cuda' was asked for but torch sees no CUDA GPU on this machine; "
                                   "use 'auto' or 'cpu'")
            return torch.device("cuda")
        case "cpu":
            return torch.device("cpu")
        case other:
            raise ValueError(f"device must be auto, cpu or cuda, got {other!r}")


def log_to(path: str | Path | None) -> None:
    """Send the library's log lines (and warnings) to a rule's log file, or to stderr when None. With a file,
    an uncaught exception's traceback goes there too (and still to stderr): a failed job's log says why."""
    handler = logging.FileHandler(path, mode="w") if path else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    previous = getattr(sys.excepthook, "previous", sys.excepthook)  # not our own hook twice
    sys.excepthook = _logging_excepthook(previous) if path else previous


def _logging_excepthook(previous: Callable) -> Callable:
    def log_uncaught(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        logging.getLogger().critical("job failed", exc_info=(kind, value, tb))
        previous(kind, value, tb)

    log_uncaught.previous = previous
    return log_uncaught
