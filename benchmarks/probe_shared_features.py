"""A whole SAE probe job's tasks at given truncations, with and without sharing the features that tasks have in
common (`run_tasks(feature_key=...)`: tasks whose truncation picks the same latent ids in the same order see the
same features, so the split, kNN neighbours, scaler and XGBoost's quantised matrix are made once), in one
process, alternating which side goes first; the two tables must be equal.

    python benchmarks/probe_shared_features.py --sae results/v2/D4/seed0/sae/paper/cnn/invariant/k4 \
        --acts results/v2/D4/seed0/activations/cnn/probe.parquet --group D4 --t 1 4 \
        [--m results/v2/D4/seed0/m/cnn/fit.json --r ...] [--probes xgboost] [--representations reconstructions]
"""

import argparse
import os
import sys
import time

ALLOCATOR = {"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "1073741824"}
if any(os.environ.get(k) != v for k, v in ALLOCATOR.items()):
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **ALLOCATOR})

from probe_job import add_arguments, load  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import eqsae.probing.probe as probe  # noqa: E402

SHARING = probe.run_tasks


def every_task_alone(*args, feature_key=None, **kwargs):
    """run_tasks as before the sharing: no task reuses another's features."""
    return SHARING(*args, **kwargs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(ap, t=[1, 4], probes=["xgboost"])
    ap.add_argument("--representations", nargs="+", default=["reconstructions"])
    args = ap.parse_args()
    job = load(args)
    z, labels, tasks = job.z, job.labels, job.tasks
    cfg = probe.ProbeConfig(probes=args.probes, representations=args.representations, threads=args.threads)
    train = ~probe.split_by_image(job.n_images, job.order, cfg.test_fraction, cfg.seed)
    for t in args.t:
        chosen = probe.truncate(z[train], labels[train], t)
        distinct = len({row.tobytes() for row in chosen})
        seconds, tables = {}, {}
        for side in ("before", "after") if t % 2 else ("after", "before"):
            probe.run_tasks = every_task_alone if side == "before" else SHARING
            start = time.process_time()
            with threadpool_limits(args.threads):
                tables[side] = probe.probe_sae(z, job.decoder, job.bias, job.elements, labels, tasks, [t], cfg,
                                               job.transforms)  # fmt: skip
            seconds[side] = time.process_time() - start
        probe.run_tasks = SHARING
        assert tables["before"].equals(tables["after"]), f"T = {t}: the tables differ"
        before, after = seconds["before"], seconds["after"]
        print(f"T = {t}: {len(tasks)} tasks on {distinct} distinct latent id lists; CPU s before {before:.1f}, "
              f"after {after:.1f} ({after / before:.2f}x); tables equal")  # fmt: skip


if __name__ == "__main__":
    main()
