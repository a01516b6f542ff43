"""Seconds per epoch of base-autoencoder training: eqsae's loop against the plain PyTorch way, one process.

    python benchmarks/base_training.py --model cnn --epochs 3 [--from results/base/cnn]

Plain PyTorch: a DataLoader over float images, torch.rot90 per sample, default (per-tensor) Adam.
eqsae: all rotations gathered from a uint8 orbit tensor, fused Adam, denormals flushed (what the rules run).
`--from` starts both from a trained model: late in training tiny updates turn into denormal floats, which is
where the flush matters (fresh models do not show it). glibc's allocator settings are fixed
(ALLOCATOR below), re-executing the script with them if needed, so the ratio measures the code.
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
from torch import nn  # noqa: E402

from eqsae.group import orbit  # noqa: E402
from eqsae.models.autoencoders import BaseAutoencoder, load_autoencoder, train_epoch  # noqa: E402
from eqsae.sources.shapes import generate  # noqa: E402

# Seconds per epoch, 10k images, batch 64, 2 threads, measured earlier.
PEER = {"mlp": 2.1, "cnn": 6.0}


def plain_epoch(model: nn.Module, opt: torch.optim.Optimizer, loader) -> float:
    total, n = 0.0, 0
    for (x,) in loader:
        turns = torch.randint(0, 4, (len(x),))
        x = torch.stack([torch.rot90(xi, int(k), dims=(-2, -1)) for xi, k in zip(x, turns)])
        loss = nn.functional.mse_loss(model(x), x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total, n = total + loss.item() * len(x), n + len(x)
    return total / n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=["mlp", "cnn"], default="cnn")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--from", dest="start", help="a trained model's directory (results/base/<model>)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    images = generate(args.n, np.random.default_rng(0)).images

    def fresh() -> BaseAutoencoder:
        torch.manual_seed(0)
        return load_autoencoder(Path(args.start)) if args.start else BaseAutoencoder(args.model)

    model = fresh().train()
    data = torch.utils.data.TensorDataset(torch.from_numpy(images).float().div(255).unsqueeze(1))
    loader = torch.utils.data.DataLoader(data, batch_size=64, shuffle=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    torch.set_flush_denormal(False)
    plain = []
    for _ in range(args.epochs):
        t = time.perf_counter()
        plain_epoch(model, opt, loader)
        plain.append(time.perf_counter() - t)

    model = fresh().train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    orbits, gen = torch.from_numpy(orbit(images)), torch.Generator().manual_seed(0)
    torch.set_flush_denormal(True)
    ours = []
    for _ in range(args.epochs):
        t = time.perf_counter()
        train_epoch(model, opt, orbits, 64, gen)
        ours.append(time.perf_counter() - t)

    p, o = float(np.median(plain)), float(np.median(ours))
    start = f"from {args.start}" if args.start else "fresh"
    print(f"{args.model} ({start}), {args.n} images, batch 64, {args.threads} threads, median of {args.epochs} epochs")
    print(f"  plain PyTorch  {p:6.2f} s/epoch")
    print(f"  eqsae          {o:6.2f} s/epoch   {p / o:4.2f}x faster than plain")
    print(f"  peer figure    {PEER[args.model]:6.2f} s/epoch   {PEER[args.model] / o:4.2f}x")


if __name__ == "__main__":
    main()
