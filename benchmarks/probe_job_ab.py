"""One SAE probe job (every probe, latents and reconstructions, the job's truncations) with eqsae.probing.probe as it is
and as it was at an earlier commit (read from git, imported beside it), in one process, alternating which goes
first per T; CPU seconds of each, and the table rows whose F1 differ. `--profile` also says where the job's time
goes now: eqsae.probing.probe's functions wrapped with timers (CPU seconds each, exclusive of the timed calls inside).

    python benchmarks/probe_job_ab.py --before 5f2792b --sae results/paper/seed0/sae/paper/cnn/regular/k16 \
        --acts results/paper/seed0/activations/cnn/probe.parquet [--m results/paper/seed0/m/cnn/M.npy] [--every 3]
"""

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ALLOCATOR = {"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "1073741824"}
if any(os.environ.get(k) != v for k, v in ALLOCATOR.items()):
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **ALLOCATOR})

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xgboost  # noqa: E402
from probe_job import add_arguments, load  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402
from timers import Timers  # noqa: E402

import eqsae.probing.probe as probe  # noqa: E402


def module_at(commit: str):
    """eqsae.probing.probe as it was at `commit`, as its own module."""
    source = subprocess.run(["git", "show", f"{commit}:src/eqsae/probing/probe.py"], capture_output=True, text=True,
                            check=True, cwd=Path(__file__).parent).stdout  # fmt: skip
    path = Path(tempfile.mkdtemp()) / "probe_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("probe_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["probe_before"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def profiled() -> Timers:
    """Timers around the steps of eqsae.probing.probe's job (patched in place, for the 'after' side)."""
    timers = Timers(clock=time.process_time, exclusive=True)
    for owner, attribute, step in [
        (probe, "truncate", "truncation"), (probe, "truncated_reconstruction", "reconstruction"),
        (probe, "reconstruction_span", "span basis"), (probe, "split", "split"), (probe, "nearest", "kNN search"),
        (probe.Probes, "_knn", "kNN fit / vote"), (probe, "standardise", "standardise"),
        (probe.Probes, "_logreg", "logistic regression"), (probe.Probes, "quantised", "XGBoost quantise"),
        (xgboost, "train", "XGBoost training"), (xgboost.Booster, "inplace_predict", "XGBoost predict"),
    ]:  # fmt: skip
        timers.wrap(owner, attribute, step)
    return timers


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(ap, t=[8, 32], probes=["knn", "logreg", "xgboost"])
    ap.add_argument("--before", required=True, help="the commit whose eqsae/probing/probe.py is 'before'")
    ap.add_argument("--profile", action="store_true", help="where the 'after' job's time goes")
    args = ap.parse_args()
    job = load(args)
    timers = profiled() if args.profile else None
    sides = {"before": module_at(args.before), "after": probe}
    seconds, tables = {"before": 0.0, "after": 0.0}, {"before": [], "after": []}
    for t in args.t:
        for side in ("before", "after") if t % 2 else ("after", "before"):
            module = sides[side]
            if timers:
                timers.on = side == "after"
            cfg = module.ProbeConfig(probes=args.probes, threads=args.threads)
            start = time.process_time()
            with threadpool_limits(args.threads):
                table = module.probe_sae(job.z, job.decoder, job.bias, job.elements, job.labels, job.tasks, [t], cfg,
                                         job.transforms)  # fmt: skip
            spent = time.process_time() - start
            seconds[side] += spent
            tables[side].append(table)
            print(f"T = {t} {side}: {spent:.1f} s", flush=True)
    before, after = (pd.concat(tables[s], ignore_index=True) for s in ("before", "after"))
    assert before.drop(columns="f1").equals(after.drop(columns="f1"))
    moved = before.f1 != after.f1
    print(f"{len(job.tasks)} tasks, T = {args.t}, probes {args.probes}: CPU s before {seconds['before']:.1f}, after "
          f"{seconds['after']:.1f} ({seconds['after'] / seconds['before']:.2f}x); F1 rows that differ "
          f"{int(moved.sum())} of {len(moved)}"
          + (f" (largest |diff| {np.abs(before.f1 - after.f1).max():.4f})" if moved.any() else ""))  # fmt: skip
    if moved.any():
        diff = before[moved].assign(f1_after=after.f1[moved], change=after.f1[moved] - before.f1[moved])
        print(diff.groupby(["truncation", "representation", "probe"]).change.agg(["size", "mean", "min", "max"]))
    if timers:
        total = seconds["after"]
        print(f"after, {total:.1f} CPU s:")
        for step, spent in sorted(timers.seconds.items(), key=lambda kv: -kv[1]):
            print(f"  {step:22} {spent:7.1f} s  {spent / total:6.1%}")
        rest = total - sum(timers.seconds.values())
        print(f"  {'other':22} {rest:7.1f} s  {rest / total:6.1%}")


if __name__ == "__main__":
    main()
