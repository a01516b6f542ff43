"""What config/v2.yaml costs on this machine: seconds per SAE epoch of every v2 variant (v2's settings: two-layer
encoder with 128 hidden units, TopK 4, lr 5e-4), the archetypal anchors' KMeans, and one XGBoost probe fit at
C4's and D4's training rows; then the grid's CPU hours from them.

    python benchmarks/v2_costs.py [--acts PARQUET | --acts random] [--epochs 4] [--threads 1]

An epoch passes once over the images whatever the group (each image with one random element), so an SAE epoch
costs the same under C4 and D4; a probe fit reads |G| rows per training image, twice as many under D4.
"""

import argparse
import os
import sys
import time

ALLOCATOR = {"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "1073741824"}
if any(os.environ.get(k) != v for k, v in ALLOCATOR.items()):
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **ALLOCATOR})

import numpy as np  # noqa: E402
import torch  # noqa: E402

from eqsae.group import GROUPS  # noqa: E402
from eqsae.models.archetypal import kmeans_anchors  # noqa: E402
from eqsae.models.registry import variant_config  # noqa: E402
from eqsae.pipeline.config import TRAINED_BY  # noqa: E402
from eqsae.probing.probe import ProbeConfig, Probes  # noqa: E402
from eqsae.probing.tasks import task_counts  # noqa: E402
from eqsae.training.train import SAETrainConfig, train_sae  # noqa: E402

V2_TRAINED = ["twolayer", "twolayer_wide", "archetypal", "archetypal_wide", "invariant", "invariant_latent",
              "invariant_output"]  # fmt: skip
GRID = dict(models=2, groups=2, topk=2, seeds=3, epochs=500)


def epoch_seconds(orbits, variant: str, anchors, epochs: int) -> float:
    settings = {"d_hidden": 128} | ({"n_anchors": len(anchors), "relax_delta": 1.0} if "archetypal" in variant else {})
    cfg, objective = variant_config(variant, 4, orbits.shape[-1], "paper", **settings)
    train = SAETrainConfig(epochs=epochs, lr=5e-4)
    _, history = train_sae(orbits, cfg, objective, train, anchors=anchors if "archetypal" in variant else None)
    return float(np.median([r.seconds for r in history[1:]]))


def probe_fit_seconds(orbits, shapes, rows: int, threads: int, repeats: int = 3) -> float:
    """One XGBoost fit on `rows` activation rows for a real task (shape 0 at position 0): the features of a
    reconstruction probe have the same width and a similar spread."""
    x = np.ascontiguousarray(orbits.reshape(-1, orbits.shape[-1])[:rows])
    y = shapes.reshape(-1, shapes.shape[-1])[:rows, 0] == 0
    probes, times = Probes(ProbeConfig(probes=("xgboost",), threads=threads)), []
    for _ in range(repeats):
        start = time.perf_counter()
        probes.scores(x, y, x[:500], y[:500])
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--acts", default="results/paper/seed0/activations/cnn/sae.parquet")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--variants", default=",".join(V2_TRAINED))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.acts == "random" or not os.path.exists(args.acts):
        print(f"{args.acts}: not found, using Gaussian rows (10,000 x 4 x 256)")
        orbits = np.abs(np.random.default_rng(0).normal(size=(10_000, 4, 256))).astype(np.float32)
        shapes = np.random.default_rng(1).integers(0, 8, size=(10_000, 4, 4))
    else:
        from eqsae.sources.shapes import read_activations

        data = read_activations(args.acts)
        orbits, shapes = data.acts, data.shapes
    start = time.perf_counter()
    anchors = kmeans_anchors(orbits.reshape(-1, orbits.shape[-1]), 2048, seed=0, threads=args.threads)
    kmeans = time.perf_counter() - start
    print(f"KMeans, {orbits.shape[0] * orbits.shape[1]} rows -> 2048 anchors: {kmeans:.0f} s")
    sae_hours = 0.0
    per_sae = GRID["models"] * GRID["groups"] * GRID["topk"] * GRID["seeds"]
    for variant in args.variants.split(","):
        seconds = epoch_seconds(orbits, variant, anchors, args.epochs)
        hours = seconds * GRID["epochs"] * per_sae / 3600
        sae_hours += hours
        print(f"{variant:17} {seconds:6.2f} s/epoch -> {per_sae} SAEs x {GRID['epochs']} epochs: {hours:6.1f} CPU h")
    probe_hours = 0.0
    for name, group in GROUPS.items():
        fit = probe_fit_seconds(orbits, shapes, 2000 * group.order, args.threads)  # 2,500 probing images, 80% train
        fits = task_counts(group)["all"] * 5  # T in {1, 2, 4, 8, 16}, XGBoost on reconstructions
        jobs = len(V2_TRAINED) * GRID["models"] * GRID["topk"] * GRID["seeds"]
        hours = fit * fits * jobs / 3600
        probe_hours += hours
        print(f"{name}: one XGBoost fit {fit:.2f} s; a probe job {fits} fits = {fit * fits / 60:.0f} min; "
              f"{jobs} jobs: {hours:.1f} CPU h")  # fmt: skip
    anchors_hours = kmeans * GRID["models"] * GRID["groups"] * GRID["seeds"] / 3600
    print(f"v2 grid: SAE training {sae_hours:.0f} CPU h, probing {probe_hours:.0f} CPU h, anchors "
          f"{anchors_hours:.1f} CPU h (equivariant variants reuse {sorted(set(TRAINED_BY.values()))})")  # fmt: skip


if __name__ == "__main__":
    main()
