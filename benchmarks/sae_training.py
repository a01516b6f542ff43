"""Seconds per SAE training epoch: eqsae's fast path against the plain PyTorch way, in one process, for every
trained variant, and what that makes of the paper grid's training time.

    python benchmarks/sae_training.py [--variants regular,wide,twolayer,invariant] [--k 16] [--epochs 8]
                                      [--threads 1] [--practice paper] [--acts PARQUET | --acts random]

Plain: dense TopK latents, dense decoder matmul, autograd's dense encoder gradient, default Adam.
eqsae: backward through the K active encoder rows only, embedding_bag decoder, DictionaryAdam (dense Adam's
updates on the latents in use, PyTorch's fused kernel). Both at batch 64, lr 1e-3, glibc allocator settings
fixed (ALLOCATOR below), on the real CNN activations by default: which latents stay in use is what the
fast path's cost follows, and random data would not show it.
"""

import argparse
import os
import sys

ALLOCATOR = {"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "1073741824"}
if any(os.environ.get(k) != v for k, v in ALLOCATOR.items()):
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **ALLOCATOR})

import numpy as np  # noqa: E402
import torch  # noqa: E402

from eqsae.models.registry import variant_config  # noqa: E402
from eqsae.models.sae import PRACTICES, VARIANTS  # noqa: E402
from eqsae.training.train import SAETrainConfig, train_sae  # noqa: E402

# Seconds per epoch on 2 threads, measured earlier: plain and sparsify + fused Adam (fastest peer).
PEER = {2048: (0.58, 0.27), 8192: (2.30, 0.87)}
GRID = 2 * 3 * 500  # per variant: 2 base models x 3 K x 500 epochs (every K timed at --k)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--k", type=int, default=16)
    parser.add_argument("--practice", choices=sorted(PRACTICES), default="paper")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--acts", default="results/activations/cnn/sae.parquet",
                        help="an activations Parquet, or 'random' for Gaussian rows (10,000 x 4 x 256)")  # fmt: skip
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    if args.acts == "random":
        orbits = np.random.default_rng(0).normal(size=(10_000, 4, 256)).astype(np.float32)
    else:
        if not os.path.exists(args.acts):
            sys.exit(f"--acts {args.acts} does not exist: run `snakemake --cores 2 {args.acts}` or pass --acts random")
        from eqsae.sources.shapes import read_activations

        orbits = read_activations(args.acts).acts
    train = SAETrainConfig(epochs=args.epochs, auxk_alpha=1 / 32 if args.practice == "standard" else 0.0)
    print(f"K={args.k}, {args.practice} practice, batch 64, {args.threads} threads, {args.acts}, "
          f"median s/epoch of epochs 2..{args.epochs}")  # fmt: skip
    print(f"{'variant':10} {'latents':>7} {'plain':>7} {'eqsae':>7} {'ratio':>6}  final loss plain / eqsae")
    totals = np.zeros(2)
    for variant in args.variants.split(","):
        cfg, objective = variant_config(variant, args.k, orbits.shape[-1], args.practice)
        seconds, losses = [], []
        for fast in (False, True):
            _, history = train_sae(orbits, cfg, objective, train, fast=fast)
            seconds.append(float(np.median([r.seconds for r in history[1:]])))
            losses.append(history[-1].loss)
        totals += np.array(seconds) * GRID
        (p, o), (p_loss, o_loss) = seconds, losses
        print(f"{variant:10} {cfg.d_latent:7d} {p:7.3f} {o:7.3f} {p / o:5.2f}x  {p_loss:.5f} / {o_loss:.5f}")
        if cfg.d_latent in PEER and variant in ("regular", "wide") and args.practice == "paper":
            plain_peer, fastest = PEER[cfg.d_latent]
            print(f"{'':10} peers (measured earlier, 2 threads): plain {plain_peer} s, fastest {fastest} s: "
                  f"eqsae takes {o / fastest:4.2f}x the fastest's time")  # fmt: skip
    if len(args.variants.split(",")) == len(VARIANTS):
        print(f"paper grid (24 SAEs x 500 epochs, one at a time): plain {totals[0] / 3600:.2f} h, "
              f"eqsae {totals[1] / 3600:.2f} h, {totals[0] / totals[1]:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
