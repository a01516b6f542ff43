"""Where a probe job's time goes, before sharing and after, per step, in one process: every sampled task runs
both ways (alternating which goes first, so machine load falls on both alike) and their predictions must be
identical; per-task seconds are scaled to the job's 180 (|tasks|) tasks.

    python benchmarks/probe_profile.py --run results/paper --seed 0 --model cnn \
        --saes paper/cnn/regular/k16 paper/cnn/equivariant/k16 [--no-base] [--every 12] [--threads 1] \
        [--clock cpu|wall] [--plain-dmatrix]

Before: every task fits its probes from scratch (kNN fit and predict, StandardScaler + SGD pipeline, XGBoost's
QuantileDMatrix; the base job already shared that matrix). After: features every task shares (base
activations) are split once, and their kNN neighbours, standardised copies and quantised matrix made once
(`Probes.share`); an equivariant SAE copies its trained SAE's latent probes (`latent_rows`) instead of fitting
them. Steps: truncation, features (latents: a column gather; reconstructions: W_D z_T + b_D, times M^p),
split, shared, knn, logreg, xgb_dmatrix (building it and setting the labels), xgb_train, xgb_predict, copy.
`--plain-dmatrix` also times a plain xgb.DMatrix per task against the QuantileDMatrix (same trees?).
"""

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

ALLOCATOR = {"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "1073741824"}
if any(os.environ.get(k) != v for k, v in ALLOCATOR.items()):
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **ALLOCATOR})

import numpy as np  # noqa: E402
import torch  # noqa: E402
import xgboost as xgb  # noqa: E402
from sklearn.linear_model import SGDClassifier  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from eqsae.fitting.transform import element_matrices  # noqa: E402
from eqsae.group import get_group  # noqa: E402
from eqsae.io import read_generators, read_table  # noqa: E402
from eqsae.models.registry import load_sae  # noqa: E402
from eqsae.models.sae import Latents  # noqa: E402
from eqsae.pipeline.config import TRAINED_BY  # noqa: E402
from eqsae.probing.probe import (  # noqa: E402  # noqa: E402
    ProbeConfig,
    Probes,
    _f1,
    latent_rows,
    split,
    split_by_image,
    truncate,
    truncated_reconstruction,
)
from eqsae.probing.tasks import make_tasks, orbit_labels  # noqa: E402
from eqsae.sources.shapes import read_activations  # noqa: E402
from eqsae.training.evaluate import reconstruct  # noqa: E402


class Clock:
    """Seconds per step: `once` per job, `each` summed over the sampled tasks (scaled to all tasks later).
    `now`: the process's CPU time by default, which on a shared machine is the job's cost alone (a 1-thread job
    takes that long on a free core); wall time with --clock wall."""

    now = time.process_time

    def __init__(self):
        self.once, self.each = defaultdict(float), defaultdict(float)

    def __call__(self, step: str, fn, once: bool = False):
        start = Clock.now()
        out = fn()
        (self.once if once else self.each)[step] += Clock.now() - start
        return out

    @staticmethod
    def both(clocks: tuple["Clock", ...], step: str, fn, once: bool = False):
        """Work that is the same before and after (the same arrays): timed once, counted in each clock."""
        start = Clock.now()
        out = fn()
        for clock in clocks:
            (clock.once if once else clock.each)[step] += Clock.now() - start
        return out

    def job(self, scale: float) -> dict[str, float]:
        steps = {step: seconds * scale for step, seconds in self.each.items()}
        for step, seconds in self.once.items():
            steps[step] = steps.get(step, 0.0) + seconds
        return steps


def xgb_params(cfg: ProbeConfig) -> dict:
    return dict(objective="binary:logistic", tree_method="hist", max_depth=cfg.xgb_depth, eta=cfg.xgb_lr,
                reg_lambda=cfg.xgb_l2, max_bin=cfg.xgb_max_bin, nthread=cfg.threads, seed=cfg.seed)  # fmt: skip


def fit_xgboost(cfg, dtrain, y_train, x_test, clock: Clock) -> np.ndarray:
    clock("xgb_dmatrix", lambda: dtrain.set_label(y_train.astype(np.float32)))
    booster = clock("xgb_train", lambda: xgb.train(xgb_params(cfg), dtrain, num_boost_round=cfg.xgb_trees))
    return clock("xgb_predict", lambda: booster.inplace_predict(x_test) > 0.5)


def before(probes: Probes, x_train, y_train, x_test, clock: Clock, dtrain=None) -> dict[str, np.ndarray]:
    """A task as the job fitted it before sharing (eqsae.probing.probe at commit baaca00), step by step."""
    cfg = probes.cfg
    knn = KNeighborsClassifier(cfg.knn_neighbors, algorithm="brute", n_jobs=cfg.threads)
    sgd = SGDClassifier(loss="log_loss", learning_rate="constant", eta0=cfg.logreg_lr, alpha=cfg.logreg_l2,
                        random_state=cfg.seed)  # fmt: skip
    return dict(
        knn=clock("knn", lambda: knn.fit(x_train, y_train).predict(x_test)),
        logreg=clock("logreg", lambda: make_pipeline(StandardScaler(), sgd).fit(x_train, y_train).predict(x_test)),
        xgboost=fit_xgboost(cfg, own_matrix(probes, x_train, clock) if dtrain is None else dtrain, y_train, x_test,
                            clock),  # fmt: skip
    )


def own_matrix(probes: Probes, x_train, clock: Clock):
    return clock("xgb_dmatrix", lambda: probes.quantised(x_train))


def after(probes: Probes, x_train, y_train, x_test, clock: Clock, shared=None) -> dict[str, np.ndarray]:
    """A task as the job fits it now: from `shared` where every task has the same features."""
    neighbours, scaled, dtrain = (shared.neighbours, shared.scaled, shared.dtrain) if shared else (None,) * 3
    return dict(
        knn=clock("knn", lambda: probes._knn(x_train, y_train, x_test, neighbours)),
        logreg=clock("logreg", lambda: probes._logreg(x_train, y_train, x_test, scaled)),
        xgboost=fit_xgboost(probes.cfg, own_matrix(probes, x_train, clock) if dtrain is None else dtrain, y_train,
                            x_test, clock),  # fmt: skip
    )


def plain_dmatrix(probes: Probes, x_train, y_train, side: Clock) -> bool:
    """XGBoost on a plain DMatrix and on a QuantileDMatrix, build and training timed: the same trees?"""
    cfg, y = probes.cfg, y_train.astype(np.float32)
    trees = []
    for name, build in (("plain", lambda: xgb.DMatrix(x_train, label=y, nthread=cfg.threads)),
                        ("quantile", lambda: probes.quantised(x_train))):  # fmt: skip
        start = Clock.now()
        dtrain = build()
        dtrain.set_label(y)
        trees.append(xgb.train(xgb_params(cfg), dtrain, num_boost_round=cfg.xgb_trees).save_raw("json"))
        side.each[name] += Clock.now() - start
    return trees[0] == trees[1]


class Job:
    """One probe job's sampled tasks, both ways; `same` counts the (task, probe) predictions that agree."""

    def __init__(self, name: str, ctx):
        self.name, self.ctx, self.probes = name, ctx, Probes(ctx.cfg)
        self.old, self.new, self.side = Clock(), Clock(), Clock()
        self.same, self.compared, self.same_trees, self.trees = 0, 0, 0, 0

    def task(self, i: int, x_train, x_test, shared=None, old_dtrain=None) -> None:
        y_train = self.ctx.labels[~self.ctx.is_test, i]
        if y_train.all() or not y_train.any():  # one class: constant predictions, no fit either way
            return
        runs = [lambda: before(self.probes, x_train, y_train, x_test, self.old, old_dtrain),
                lambda: after(self.probes, x_train, y_train, x_test, self.new, shared)]  # fmt: skip
        out = [None, None]
        for way in (0, 1) if i % 2 else (1, 0):
            out[way] = runs[way]()
        self.same += sum(np.array_equal(out[0][p], out[1][p]) for p in out[0])
        self.compared += len(out[0])
        if self.ctx.args.plain_dmatrix and shared is None:
            self.same_trees += plain_dmatrix(self.probes, x_train, y_train, self.side)
            self.trees += 1


def profile_base(ctx) -> Job:
    job = Job("base", ctx)
    x = np.ascontiguousarray(ctx.data.acts.reshape(-1, ctx.data.acts.shape[-1]), dtype=np.float32)
    old_dtrain = job.old("xgb_dmatrix", lambda: job.probes.quantised(x[~ctx.is_test]), once=True)
    x_train, x_test = job.new("split", lambda: split(x, ctx.is_test), once=True)
    shared = job.new("shared", lambda: job.probes.share(x_train, x_test), once=True)
    for i in ctx.sample:
        job.old("split", lambda: split(x, ctx.is_test))  # before, every task split the same features again
        job.task(i, x_train, x_test, shared, old_dtrain)
    return job


def load(ctx, sae: str):
    """Dense latents, decoder rows, bias and M^p R^q (equivariant variants) of sae = training/model/variant/kK."""
    training, model, variant, k = sae.split("/")
    trained = load_sae(ctx.root / "sae" / training / model / TRAINED_BY.get(variant, variant) / k)
    transforms = None
    if variant in TRAINED_BY:
        m_dir = ctx.root / "m" / model
        r = m_dir / "R.npy"
        generators = read_generators(m_dir / "M.npy", r if r.exists() else None)
        transforms = element_matrices([g.astype(np.float32) for g in generators], ctx.group)
    with torch.inference_mode():
        rec = reconstruct(trained, torch.from_numpy(ctx.data.acts))
        z = trained.dense(Latents(rec.values, rec.indices)).flatten(0, 1).numpy()
    return z, trained.dictionary_rows().detach().numpy(), trained.b_dec.detach().numpy(), transforms


def copy_latents(ctx, job: Job, sae: str, t: int, fitted: dict[int, dict]) -> None:
    """After: an equivariant SAE's latent rows come from its trained SAE's table; check them against `fitted`."""
    training, model, variant, k = sae.split("/")
    path = ctx.root / "probes" / training / model / f"{TRAINED_BY[variant]}_{k}.parquet"
    rows = job.new("copy", lambda: latent_rows(read_table(path), t, ctx.tasks, ctx.cfg), once=True)
    scores = rows.set_index(["task", "probe"]).f1
    for i, predictions in fitted.items():
        y_test = ctx.labels[ctx.is_test, i]
        job.same += sum(_f1(y_test, pred) == scores[ctx.tasks[i].name, p] for p, pred in predictions.items())
        job.compared += len(predictions)


def profile_sae(ctx, sae: str) -> Job:
    job = Job(sae, ctx)
    z, decoder, bias, transforms = load(ctx, sae)
    copies = sae.split("/")[2] in TRAINED_BY and "latents" in ctx.cfg.representations
    reps = {"latents": lambda ids: z[:, ids],
            "reconstructions": lambda ids: truncated_reconstruction(z, ids, decoder, bias, ctx.elements, transforms)}
    for t in ctx.args.truncations:
        clocks = (job.old, job.new)
        chosen = Clock.both(clocks, "truncation", lambda: truncate(z[~ctx.is_test], ctx.labels[~ctx.is_test], t), True)
        for name in ctx.cfg.representations:
            fitted, copied = {}, copies and name == "latents"
            for i in ctx.sample:
                x = Clock.both(clocks[:1] if copied else clocks, "features", lambda: reps[name](chosen[i]))
                x_train, x_test = Clock.both(clocks[:1] if copied else clocks, "split", lambda: split(x, ctx.is_test))
                if copied:
                    y_train = ctx.labels[~ctx.is_test, i]
                    if not (y_train.all() or not y_train.any()):
                        fitted[i] = before(job.probes, x_train, y_train, x_test, job.old)
                else:
                    job.task(i, x_train, x_test)
            if fitted:
                copy_latents(ctx, job, sae, t, fitted)
    return job


def report(job: Job, scale: float) -> tuple[float, float]:
    old, new = job.old.job(scale), job.new.job(scale)
    print(f"\n{job.name}: {job.ctx.args.clock} seconds per job (scaled from {len(job.ctx.sample)} of "
          f"{len(job.ctx.tasks)} tasks)")
    print(f"  {'step':12} {'before':>8} {'after':>8}")
    for step in sorted(old.keys() | new.keys(), key=lambda s: -max(old.get(s, 0), new.get(s, 0))):
        print(f"  {step:12} {old.get(step, 0):8.1f} {new.get(step, 0):8.1f}")
    total_old, total_new = sum(old.values()), sum(new.values())
    share = [clock.get("xgb_train", 0) / total for clock, total in ((old, total_old), (new, total_new))]
    print(f"  {'total':12} {total_old:8.1f} {total_new:8.1f}   after / before {total_new / total_old:.2f}; "
          f"xgb_train {share[0]:.0%} -> {share[1]:.0%} of the job")
    print(f"  identical predictions (copied rows: F1) {job.same}/{job.compared}")
    if job.trees:
        side = {k: v * scale for k, v in job.side.each.items()}
        print(f"  plain DMatrix vs QuantileDMatrix, build + train: {side['plain']:.1f} s vs {side['quantile']:.1f} s; "
              f"identical trees {job.same_trees}/{job.trees}")  # fmt: skip
    return total_old, total_new


def context(args) -> argparse.Namespace:
    group = get_group(args.group)
    root = Path(args.run) / ("" if group.name == "C4" else group.name) / f"seed{args.seed}"
    data = read_activations(root / "activations" / args.model / "probe.parquet")
    tasks = make_tasks(group)
    cfg = ProbeConfig(seed=args.seed, threads=args.threads)
    order = data.acts.shape[1]
    return argparse.Namespace(
        args=args, group=group, root=root, data=data, tasks=tasks, cfg=cfg,
        labels=orbit_labels(data.shapes, data.orientations, tasks), elements=np.tile(np.arange(order), len(data)),
        is_test=split_by_image(len(data), order, cfg.test_fraction, cfg.seed), sample=range(0, len(tasks), args.every),
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", default="results/paper")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--group", default="C4")
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--saes", nargs="*", default=["paper/cnn/regular/k16"], help="training/model/variant/kK")
    parser.add_argument("--no-base", action="store_true", help="skip the base activations' job")
    parser.add_argument("--truncations", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--every", type=int, default=12, help="profile every n-th task")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--plain-dmatrix", action="store_true")
    parser.add_argument("--clock", choices=["cpu", "wall"], default="cpu", help="CPU time of this process, or wall")
    args = parser.parse_args()
    Clock.now = time.process_time if args.clock == "cpu" else time.perf_counter
    torch.set_num_threads(args.threads)
    with threadpool_limits(args.threads):
        ctx = context(args)
        scale = len(ctx.tasks) / len(ctx.sample)
        jobs = [lambda s=s: profile_sae(ctx, s) for s in args.saes]
        jobs = jobs if args.no_base else [lambda: profile_base(ctx), *jobs]
        totals = np.array([report(run(), scale) for run in jobs])
    print(f"\nall {len(jobs)} jobs: {totals[:, 0].sum():.0f} s before, {totals[:, 1].sum():.0f} s after "
          f"({totals[:, 1].sum() / totals[:, 0].sum():.2f})")


if __name__ == "__main__":
    main()
