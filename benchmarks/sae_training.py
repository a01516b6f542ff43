"""Seconds per SAE training epoch: eqsae's fast path against the plain PyTorch way, in one process.

    python benchmarks/sae_training.py [--d-latent 2048] [--encoder linear] [--practice paper] [--epochs 5]
                                      [--acts PARQUET]

Plain: dense TopK latents, dense decoder matmul, autograd's dense encoder gradient, default Adam.
eqsae: backward through the K active encoder rows only, embedding_bag decoder, fused Adam.
Both at batch 64, lr 1e-3, 10,000 rows, glibc allocator settings fixed (notes/cpu-costs.md).
`--practice standard` times pre-bias, tied init and AuxK (alpha 1/32, k_aux 256) on both sides.
"""

import argparse
import os
import sys

ALLOCATOR = {"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "1073741824"}
if any(os.environ.get(k) != v for k, v in ALLOCATOR.items()):
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **ALLOCATOR})

import numpy as np  # noqa: E402
import torch  # noqa: E402

from eqsae.sae import PRACTICES, SAEConfig  # noqa: E402
from eqsae.train import SAETrainConfig, train_sae  # noqa: E402

# Seconds per epoch on 2 threads (notes/cpu-costs.md): plain and sparsify + fused Adam (fastest peer).
PEER = {2048: (0.58, 0.27), 8192: (2.30, 0.87)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--d-latent", type=int, default=2048)
    parser.add_argument("--encoder", choices=["linear", "twolayer"], default="linear")
    parser.add_argument("--k", type=int, default=16)
    parser.add_argument("--practice", choices=sorted(PRACTICES), default="paper")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--acts", help="an activations Parquet (results/activations/cnn/sae.parquet)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    if args.acts:
        from eqsae.io import read_activations

        orbits = read_activations(args.acts).acts
    else:
        orbits = np.random.default_rng(0).normal(size=(10_000, 4, 256)).astype(np.float32)
    cfg = SAEConfig(k=args.k, d_latent=args.d_latent, encoder=args.encoder, **PRACTICES[args.practice])
    train = SAETrainConfig(epochs=args.epochs, auxk_alpha=1 / 32 if args.practice == "standard" else 0.0)
    result = {}
    for name, fast in (("plain", False), ("eqsae", True)):
        _, history = train_sae(orbits, cfg, "augmented", train, fast=fast)
        result[name] = (float(np.median([r.seconds for r in history[1:]])), history[-1].loss)
    (p, p_loss), (o, o_loss) = result["plain"], result["eqsae"]
    print(f"{args.encoder} SAE 256->{args.d_latent}, K={args.k}, {args.practice} practice, batch 64, "
          f"{args.threads} threads, median of epochs 2..{args.epochs}")  # fmt: skip
    print(f"  plain PyTorch  {p:6.3f} s/epoch   final loss {p_loss:.5f}")
    print(f"  eqsae          {o:6.3f} s/epoch   final loss {o_loss:.5f}   {p / o:4.2f}x faster than plain")
    if args.d_latent in PEER and args.encoder == "linear" and args.practice == "paper":
        plain_peer, fastest = PEER[args.d_latent]
        print(f"  peers (notes)  plain {plain_peer} s, fastest {fastest} s/epoch: {fastest / o:4.2f}x the fastest")


if __name__ == "__main__":
    main()
