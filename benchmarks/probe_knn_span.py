"""A whole SAE probe job's tasks with kNN searching the d reconstruction features and searching their span's
coordinates (`reconstruction_span`: the decoder rows of the task's T latents, b_D and their images under every
T_e, r <= |G| (T + 1) dimensions), in one process, alternating which side goes first; CPU seconds of each and
the table rows whose F1 differ (the distances are the same up to rounding, so only near ties could move).

    python benchmarks/probe_knn_span.py --sae results/paper/seed0/sae/paper/cnn/regular/k16 \
        --acts results/paper/seed0/activations/cnn/probe.parquet --t 8 32 \
        [--m results/paper/seed0/m/cnn/M.npy] [--probes knn logreg xgboost] [--every 1]
"""

import argparse
import os
import sys
import time

ALLOCATOR = {"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "1073741824"}
if any(os.environ.get(k) != v for k, v in ALLOCATOR.items()):
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **ALLOCATOR})

import numpy as np  # noqa: E402
from probe_job import add_arguments, load  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import eqsae.probing.probe as probe  # noqa: E402

SPAN = probe.reconstruction_span


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(ap, t=[8, 32], probes=["knn", "logreg", "xgboost"])
    args = ap.parse_args()
    job = load(args)
    z, decoder, bias, elements, labels, tasks, transforms = (job.z, job.decoder, job.bias, job.elements, job.labels,
                                                             job.tasks, job.transforms)  # fmt: skip
    cfg = probe.ProbeConfig(probes=args.probes, representations=["reconstructions"], threads=args.threads)
    total = {"before": 0.0, "after": 0.0}
    for t in args.t:
        seconds, tables = {}, {}
        for side in ("before", "after") if t % 2 else ("after", "before"):
            probe.reconstruction_span = (lambda *a: None) if side == "before" else SPAN
            start = time.process_time()
            with threadpool_limits(args.threads):
                tables[side] = probe.probe_sae(z, decoder, bias, elements, labels, tasks, [t], cfg, transforms)
            seconds[side] = time.process_time() - start
            total[side] += seconds[side]
        probe.reconstruction_span = SPAN
        before, after = tables["before"], tables["after"]
        assert before.drop(columns="f1").equals(after.drop(columns="f1"))
        moved = before.f1 != after.f1
        basis = SPAN(decoder[:t], bias, transforms)
        print(f"T = {t} (span of {'all' if basis is None else basis.shape[1]} dims): {len(tasks)} tasks x {args.probes}; CPU s before "
              f"{seconds['before']:.1f}, after {seconds['after']:.1f} ({seconds['after'] / seconds['before']:.2f}x); "
              f"F1 rows that differ {int(moved.sum())} of {len(moved)}"
              + (f", largest |diff| {np.abs(before.f1 - after.f1).max():.4f}" if moved.any() else ""))  # fmt: skip
    before, after = total["before"], total["after"]
    print(f"all: before {before:.1f} s, after {after:.1f} s ({after / before:.2f}x)")


if __name__ == "__main__":
    main()
