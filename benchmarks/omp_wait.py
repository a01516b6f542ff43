"""Does OpenMP's wait policy matter? Seconds per unit of real eqsae training under libgomp's default wait
(threads spin at barriers), OMP_WAIT_POLICY=PASSIVE (they sleep) and optionally GOMP_SPINCOUNT=<n> (spin briefly).

    python benchmarks/omp_wait.py [--quick] [--repeats 3] [--cnn-epochs 4] [--sae-epochs 6] [--spincount 10000]

Workloads: `cnn` = epochs of CNN base-autoencoder training (`train_epoch`, 2 torch threads, batch 64, 1,920
images from `generate`); `sae` = epochs of 100 steps of SAE training (`train_sae`, regular variant K=16,
batch 64, 1 thread, Gaussian rows). Scenarios: alone; `twins` = two identical jobs side by side (what the
workflow does with --cores 2 and several ready jobs); `spinner` = beside one busy pure-Python loop.
libgomp reads the policy when it loads, so every measurement is a fresh child process with the policy in its
environment (and fixed glibc allocator settings, ALLOCATOR below); jobs in a scenario start together
after their imports and set-up. Policies are interleaved within each repeat (A/B/A/B); each child's first
epoch is warm-up and dropped. The load average is printed before each scenario: figures taken under a high
one are noise. Reports median/min/max seconds per epoch and the ratio of each policy's median to the default's.
"""

import argparse
import json
import os
import subprocess
import sys
import time

ALLOCATOR = {"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "1073741824"}
SCENARIOS = {"alone": (1, False), "twins": (2, False), "spinner": (1, True)}  # (jobs, busy loop beside)


def child(workload: str, epochs: int, n: int) -> None:
    """Set up, say 'ready', wait for 'go' on stdin, then print the per-epoch seconds as JSON."""
    import numpy as np
    import torch

    torch.set_flush_denormal(True)
    if workload == "cnn":
        from eqsae.group import orbit
        from eqsae.models.autoencoders import BaseAutoencoder, train_epoch
        from eqsae.sources.shapes import generate

        torch.set_num_threads(2)
        torch.manual_seed(0)
        model = BaseAutoencoder("cnn").train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
        orbits, gen = torch.from_numpy(orbit(generate(n, np.random.default_rng(0)).images)), torch.Generator()
        gen.manual_seed(0)

        def run() -> list[float]:
            out = []
            for _ in range(epochs):
                t = time.perf_counter()
                train_epoch(model, opt, orbits, 64, gen)
                out.append(time.perf_counter() - t)
            return out
    else:
        from eqsae.models.registry import variant_config
        from eqsae.training.train import SAETrainConfig, train_sae

        torch.set_num_threads(1)
        rows = np.random.default_rng(0).normal(size=(n, 4, 256)).astype(np.float32)
        cfg, objective = variant_config("regular", 16, 256)

        def run() -> list[float]:
            return [r.seconds for r in train_sae(rows, cfg, objective, SAETrainConfig(epochs=epochs))[1]]

    print("ready", flush=True)
    sys.stdin.readline()
    print(json.dumps(run()[1:]), flush=True)


def measure(workload: str, policy: dict, jobs: int, spinner: bool, epochs: int, n: int) -> list[float]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update({**ALLOCATOR, **policy})
    cmd = [sys.executable, __file__, "--child", workload, "--epochs", str(epochs), "--n", str(n)]
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if spinner else None
    try:
        procs = [subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                 for _ in range(jobs)]  # fmt: skip
        for p in procs:
            assert p.stdout.readline().strip() == "ready", f"{workload} child failed"
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        times = [t for p in procs for t in json.loads(p.communicate()[0])]
        assert all(p.returncode == 0 for p in procs)
        return times
    finally:
        if busy:
            busy.kill()
            busy.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 repeat: 1-2 min of child start-ups")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cnn-epochs", type=int, default=4, help="per child, the first dropped")
    parser.add_argument("--sae-epochs", type=int, default=6, help="per child, 100 steps each, the first dropped")
    parser.add_argument("--spincount", type=int, help="also measure GOMP_SPINCOUNT=<n> (libgomp's default 300000)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--workloads", default="cnn,sae")
    parser.add_argument("--child", choices=["cnn", "sae"], help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.epochs, args.n)
    policies = {"default": {}, "passive": {"OMP_WAIT_POLICY": "PASSIVE"}}
    if args.spincount is not None:
        policies[f"spin{args.spincount}"] = {"GOMP_SPINCOUNT": str(args.spincount)}
    if args.quick:
        args.repeats, args.cnn_epochs, args.sae_epochs = 1, 2, 2
    # (epochs per child, images or rows); sae: rows / 64 steps per epoch
    size = {"cnn": (args.cnn_epochs, 128 if args.quick else 1920),
            "sae": (args.sae_epochs, 640 if args.quick else 6400)}  # fmt: skip
    workloads = args.workloads.split(",")
    results: dict[tuple, list[float]] = {}
    for scenario in args.scenarios.split(","):
        jobs, spinner = SCENARIOS[scenario]
        for rep in range(args.repeats):
            load = " ".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"{scenario} repeat {rep + 1}: load average {load}", flush=True)
            for policy, env in policies.items():
                for w in workloads:
                    times = measure(w, env, jobs, spinner, *size[w])
                    results.setdefault((scenario, w, policy), []).extend(times)
    import numpy as np

    print(f"\nseconds per epoch (cnn: {size['cnn'][1]} images, 2 threads; sae: {size['sae'][1] // 64} steps, "
          f"1 thread), {args.repeats} repeats, {os.cpu_count()} cores")  # fmt: skip
    print(f"{'scenario':8} {'workload':8} {'policy':11} {'n':>3} {'median':>7} {'min':>7} {'max':>7} {'/default':>8}")
    for (scenario, w, policy), times in results.items():
        med, base = np.median(times), np.median(results[scenario, w, "default"])
        print(f"{scenario:8} {w:8} {policy:11} {len(times):3d} {med:7.3f} {min(times):7.3f} {max(times):7.3f} "
              f"{med / base:7.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
