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
from pathlib import Path

ALLOCATOR = {"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "1073741824"}
if any(os.environ.get(k) != v for k, v in ALLOCATOR.items()):
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **ALLOCATOR})

import numpy as np  # noqa: E402
import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import eqsae.probe as probe  # noqa: E402
from eqsae.evaluate import reconstruct  # noqa: E402
from eqsae.group import get_group  # noqa: E402
from eqsae.io import read_activations, read_generators  # noqa: E402
from eqsae.sae import Latents, load_sae  # noqa: E402
from eqsae.transform import element_matrices  # noqa: E402

SHARING = probe.run_tasks


def every_task_alone(*args, feature_key=None, **kwargs):
    """run_tasks as before the sharing: no task reuses another's features."""
    return SHARING(*args, **kwargs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sae", required=True)
    ap.add_argument("--acts", required=True)
    ap.add_argument("--group", default="C4")
    ap.add_argument("--m")
    ap.add_argument("--r")
    ap.add_argument("--t", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--probes", nargs="+", default=["xgboost"])
    ap.add_argument("--representations", nargs="+", default=["reconstructions"])
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    group = get_group(args.group)
    data = read_activations(args.acts)
    tasks = probe.make_tasks(group)
    labels = probe.orbit_labels(data.shapes, data.orientations, tasks)
    sae = load_sae(Path(args.sae))
    transforms = None
    if args.m:
        generators = read_generators(args.m, args.r)
        transforms = element_matrices([x.astype(np.float32) for x in generators], group)
    rec = reconstruct(sae, torch.from_numpy(data.acts))
    z = sae.dense(Latents(rec.values, rec.indices)).flatten(0, 1).numpy()
    elements = np.tile(np.arange(data.acts.shape[1]), len(data))
    cfg = probe.ProbeConfig(probes=args.probes, representations=args.representations, threads=args.threads)
    decoder, bias = sae.dictionary_rows().detach().numpy(), sae.b_dec.detach().numpy()
    train = ~probe.split_by_image(len(data), data.acts.shape[1], cfg.test_fraction, cfg.seed)
    for t in args.t:
        chosen = probe.truncate(z[train], labels[train], t)
        distinct = len({row.tobytes() for row in chosen})
        seconds, tables = {}, {}
        for side in ("before", "after") if t % 2 else ("after", "before"):
            probe.run_tasks = every_task_alone if side == "before" else SHARING
            start = time.process_time()
            with threadpool_limits(args.threads):
                tables[side] = probe.probe_sae(z, decoder, bias, elements, labels, tasks, [t], cfg, transforms)
            seconds[side] = time.process_time() - start
        probe.run_tasks = SHARING
        assert tables["before"].equals(tables["after"]), f"T = {t}: the tables differ"
        before, after = seconds["before"], seconds["after"]
        print(f"T = {t}: {len(tasks)} tasks on {distinct} distinct latent id lists; CPU s before {before:.1f}, "
              f"after {after:.1f} ({after / before:.2f}x); tables equal")  # fmt: skip


if __name__ == "__main__":
    main()
