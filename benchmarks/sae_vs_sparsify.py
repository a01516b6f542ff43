"""Seconds per SAE training epoch: eqsae against EleutherAI's sparsify, in one process, epoch by epoch in turn.

    pip install -e '.[bench]'
    python benchmarks/sae_vs_sparsify.py [--latents 2048,8192] [--k 16] [--epochs 15] [--threads 1]
                                         [--practices paper,standard] [--no-plain] [--acts PARQUET]
    python benchmarks/sae_vs_sparsify.py --profile [--latents 8192] [--practices standard]

sparsify: its `SparseCoder` (dense encoder matmul, TopK, an index_add backward over the active rows, an
embedding_bag decoder) with `torch.optim.Adam(fused=True)` over every parameter, trained as its `Trainer` does:
FVU loss, decoder gradient made orthogonal to the rows before the step, rows renormalised, b_D started at the
mean input. eqsae: `train_sae`'s fast path. plain: `train_sae(fast=False)`. Every run sees the same rows in the
same order (one random rotation per image and epoch, batch 64, lr 1e-3).

Practices: `paper` is eqsae's paper practice (no pre-bias, no tied start, no AuxK) beside sparsify's defaults
(no AuxK). `standard` is like for like: eqsae's standard practice (x - b_D into the encoder, W_E = W_D^T at the
start, AuxK 1/32 over k_aux = 256 dead latents) beside sparsify with AuxK 1/32 (its k_aux is d_in / 2 = 128)
and the same dead-latent rule (one epoch of rows without firing). Both report the reconstruction loss
E ||x - x_hat||^2, so the final losses say whether the two train to the same place.

`--profile` times where eqsae's epoch goes, by wrapping the library's functions with timers while the unchanged
`train_sae_epoch` runs: the wrappers add a few microseconds a call.
"""

import argparse
import os
import sys

ALLOCATOR = {"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "1073741824"}
if any(os.environ.get(k) != v for k, v in ALLOCATOR.items()):
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **ALLOCATOR})
os.environ.setdefault("SPARSIFY_DISABLE_TRITON", "1")

import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from dataclasses import replace  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from timers import Timers  # noqa: E402

from eqsae.models import sae as sae_module  # noqa: E402
from eqsae.models.registry import variant_config  # noqa: E402
from eqsae.training import optim  # noqa: E402
from eqsae.training.train import SAETrainConfig, start_sae_training  # noqa: E402

ACTS = "results/paper/seed0/activations/cnn/sae.parquet"
EARLY, STEADY = (2, 5), (10, 15)
AUXK = 1 / 32


class SparsifyRun:
    """sparsify's SparseCoder trained on the orbits as its Trainer trains it (fvu, orthogonal decoder gradient,
    unit rows), batches drawn as `train_sae_epoch` draws them."""

    def __init__(self, orbits: np.ndarray, d_latent: int, k: int, train: SAETrainConfig):
        from sparsify import SparseCoder, SparseCoderConfig

        torch.manual_seed(train.seed)
        self.data, self.train = torch.as_tensor(orbits, dtype=torch.float32), train
        self.sae = SparseCoder(self.data.shape[-1], SparseCoderConfig(num_latents=d_latent, k=k))
        with torch.no_grad():  # the Trainer's first step sets b_D to the batch mean; all rows here, as eqsae
            self.sae.b_dec.copy_(self.data.reshape(-1, self.data.shape[-1]).mean(0))
        self.opt = torch.optim.Adam(self.sae.parameters(), lr=train.lr, fused=True)
        self.gen = torch.Generator().manual_seed(train.seed)
        self.since = torch.zeros(d_latent, dtype=torch.long)

    def epoch(self) -> tuple[float, float, float]:
        n, train = len(self.data), self.train
        order = torch.randperm(n, generator=self.gen)
        turns = torch.randint(0, self.data.shape[1], (n,), generator=self.gen)
        inputs = self.data[order, turns[order]]
        total, total_aux = torch.zeros(()), torch.zeros(())
        for i in range(0, n, train.batch_size):
            x = inputs[i : i + train.batch_size]
            # sparsify's dead rule is `since > threshold`; eqsae's is one epoch's rows without firing
            dead = self.since > n - 1 if train.auxk_alpha > 0 else None
            self.sae.set_decoder_norm_to_unit_norm()
            variance = (x - x.mean(0)).pow(2).sum()
            out = self.sae(x, dead_mask=dead, total_variance=variance)
            (out.fvu + train.auxk_alpha * out.auxk_loss).backward()
            self.sae.remove_gradient_parallel_to_decoder_directions()
            self.opt.step()
            self.opt.zero_grad()
            total += out.fvu.detach() * variance  # the squared error, summed over the batch
            total_aux += out.auxk_loss.detach() * variance * train.auxk_alpha
            self.since += len(x)
            self.since[out.latent_indices.flatten()] = 0
        return total.item() / n, total_aux.item() / n, 0.0


def load(acts: str) -> np.ndarray:
    if not os.path.exists(acts):
        sys.exit(f"--acts {acts} does not exist: pass an activations Parquet (results/.../activations/cnn/sae.parquet)")
    from eqsae.sources.shapes import read_activations

    return read_activations(acts).acts


def runs(orbits: np.ndarray, d_latent: int, k: int, practice: str, epochs: int, plain: bool) -> dict:
    """The runs timed side by side: eqsae (and plain) under `practice`, sparsify as close to it as it goes."""
    variant = "regular" if d_latent == 2048 else "wide"
    cfg, objective = variant_config(variant, k, orbits.shape[-1], practice)
    cfg = replace(cfg, d_latent=d_latent)
    train = SAETrainConfig(epochs=epochs, auxk_alpha=AUXK if practice == "standard" else 0.0)
    out = {"eqsae": start_sae_training(orbits, cfg, objective, train),
           "sparsify": SparsifyRun(orbits, d_latent, k, train)}  # fmt: skip
    if plain:
        out["plain"] = start_sae_training(orbits, cfg, objective, train, fast=False)
    return out


def median(seconds: list[float], epochs: tuple[int, int]) -> float:
    return float(np.median(seconds[epochs[0] - 1 : epochs[1]]))


def compare(orbits: np.ndarray, args: argparse.Namespace) -> None:
    print(f"K={args.k}, batch 64, lr 1e-3, {args.threads} thread(s), {args.acts}; median s/epoch, early = epochs "
          f"{EARLY[0]}-{EARLY[1]}, steady = epochs {STEADY[0]}-{STEADY[1]}; loss = E||x - x_hat||^2 at the last epoch")
    header = f"{'practice':9} {'latents':>7} {'run':9} {'early':>7} {'steady':>7} {'/sparsify':>17} {'loss':>9}"
    print(header + f" {'aux':>9}")
    for practice in args.practices.split(","):
        for d_latent in map(int, args.latents.split(",")):
            trains = runs(orbits, d_latent, args.k, practice, args.epochs, args.plain and practice == "paper")
            seconds, last = defaultdict(list), {}
            for _ in range(args.epochs):
                for name, run in trains.items():  # interleaved: a slow patch of the machine hits every run alike
                    start = time.perf_counter()
                    last[name] = run.epoch()
                    seconds[name].append(time.perf_counter() - start)
            ref = [median(seconds["sparsify"], e) for e in (EARLY, STEADY)]
            for name in trains:
                early, steady = (median(seconds[name], e) for e in (EARLY, STEADY))
                print(f"{practice:9} {d_latent:7d} {name:9} {early:7.3f} {steady:7.3f} "
                      f"{early / ref[0]:7.2f}x {steady / ref[1]:7.2f}x {last[name][0]:9.5f} {last[name][1]:9.5f}")
            sys.stdout.flush()


def instrument() -> Timers:
    timers = Timers()
    timers.wrap(sae_module.TopKSAE, "topk", lambda self, h, fast=True, among=None, k=None:
                "encoder + TopK" if among is None else "AuxK forward")  # fmt: skip
    timers.wrap(sae_module.TopKSAE, "decode", lambda self, latents, fast=True, bias=True:
                "decoder" if bias else "AuxK forward")  # fmt: skip
    timers.wrap(torch.Tensor, "backward", lambda *a, **kw: "backward")
    for fn in vars(sae_module).values():  # the sparse backward passes of the fast path
        if isinstance(fn, type) and issubclass(fn, torch.autograd.Function) and "backward" in fn.__dict__:
            timers.wrap(fn, "backward", lambda *a: "  of which sparse backward")
    timers.wrap(optim.DictionaryAdam, "step", lambda *a, **kw: "optimizer")
    timers.wrap(torch, "_fused_adam_", lambda *a, **kw: "  of which Adam arithmetic")
    return timers


def profile(orbits: np.ndarray, args: argparse.Namespace) -> None:
    """Shares of eqsae's epoch, early and steady; `optimizer` less its Adam arithmetic is bookkeeping."""
    for practice in args.practices.split(","):
        for d_latent in map(int, args.latents.split(",")):
            run = runs(orbits, d_latent, args.k, practice, args.epochs, False)["eqsae"]
            per_epoch = []
            with instrument().installed() as timers:
                for _ in range(args.epochs):
                    timers.seconds.clear()
                    start = time.perf_counter()
                    run.epoch()
                    per_epoch.append({**timers.seconds, "epoch": time.perf_counter() - start})
            print(f"\neqsae, {practice} practice, {d_latent} latents: share of the epoch (median), s/epoch")
            names = sorted({k for e in per_epoch for k in e} - {"epoch"}, key=lambda k: (k.strip(), k))
            names = [n for n in ORDER if n in names] + [n for n in names if n not in ORDER]
            for span in (EARLY, STEADY):
                epochs = per_epoch[span[0] - 1 : span[1]]
                total = float(np.median([e["epoch"] for e in epochs]))
                parts = {n: float(np.median([e.get(n, 0.0) for e in epochs])) for n in names}
                parts["  bookkeeping (optimizer - arithmetic)"] = parts.get("optimizer", 0) - parts.get(
                    "  of which Adam arithmetic", 0)
                parts["other (loss, AuxK clock, batches)"] = total - sum(
                    s for n, s in parts.items() if not n.startswith(" "))
                print(f"  epochs {span[0]}-{span[1]}: {total:.3f} s/epoch")
                for n, s in parts.items():
                    print(f"    {n:40} {s / total:6.1%} {s:7.3f} s")


ORDER = ["encoder + TopK", "decoder", "AuxK forward", "backward", "  of which sparse backward", "optimizer",
         "  of which Adam arithmetic"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latents", default="2048,8192")
    parser.add_argument("--k", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=STEADY[1])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--practices", default="paper,standard")
    parser.add_argument("--no-plain", dest="plain", action="store_false", help="leave plain PyTorch out")
    parser.add_argument("--profile", action="store_true", help="where eqsae's epoch goes, instead of the race")
    parser.add_argument("--acts", default=ACTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    orbits = load(args.acts)
    (profile if args.profile else compare)(orbits, args)


if __name__ == "__main__":
    main()
