"""Probing (paper Section 4, Appendix C.1): the split by image, truncation, the three probes, F1 per task.

Probes see one representation of each row: base activations, T truncated SAE latents, or the SAE's
reconstruction from those T latents only; the tasks and their labels are `eqsae.probing.tasks`.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from eqsae.io import NonFiniteError
from eqsae.probing.tasks import Task

log = logging.getLogger(__name__)

PROBES = ("knn", "logreg", "xgboost")
REPRESENTATIONS = ("latents", "reconstructions")
LEAK_T = 0
"""The leak baseline's truncation: the reconstruction from no latent, b_D alone (T_e b_D for the equivariant SAE,
which is handed the group element): what a probe on a reconstruction gets before any latent says anything."""
GROUP_ELEMENT = "group_element"
"""The `sae` (and representation) of the probe on the one-hot group element alone: how much of each task group
the turn alone gives."""


def split_sizes(n_images: int, test_fraction: float) -> tuple[int, int]:
    """(training, test) images of the split by image id; the workflow checks them at start-up with this too."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    n_test = min(max(1, round(test_fraction * n_images)), n_images)
    if not 0 < n_test < n_images:
        raise ValueError(f"splitting {n_images} images at test_fraction {test_fraction} gives {n_images - n_test} "
                         f"training and {n_test} test images; each side needs at least one")  # fmt: skip
    return n_images - n_test, n_test


def split_by_image(n_images: int, rows_per_image: int, test_fraction: float, seed: int) -> np.ndarray:
    """Test mask over rows (image-major): a whole orbit lands on one side, so no rotation of a test image
    is seen in training."""
    _, n_test = split_sizes(n_images, test_fraction)
    rng = np.random.default_rng(seed)
    test_images = rng.permutation(n_images)[:n_test]
    is_test = np.zeros(n_images, dtype=bool)
    is_test[test_images] = True
    return np.repeat(is_test, rows_per_image)


def truncate(z_train: np.ndarray, y_train: np.ndarray, t: int) -> np.ndarray:
    """(n_tasks, t) latent ids with the largest |mean over positives - mean over negatives|, per task
    (Kantamneni et al.); from the training split only. T above the SAE's width is an error, not a silent cap:
    the rows would be labelled with a T that was never probed."""
    if not 1 <= t <= z_train.shape[1]:
        raise ValueError(f"truncation {t} must be in 1..{z_train.shape[1]}, the SAE's number of latents")
    y = y_train.astype(np.float32)
    n_pos = y.sum(0)[:, None]
    pos_sum = y.T @ z_train
    neg_mean = (z_train.sum(0) - pos_sum) / np.maximum(len(y) - n_pos, 1)
    score = np.abs(pos_sum / np.maximum(n_pos, 1) - neg_mean)
    return np.argsort(-score, axis=1, kind="stable")[:, :t]


@dataclass(frozen=True)
class ProbeConfig:
    """The three probes (Appendix C.1), in one place."""

    knn_neighbors: int = 16
    logreg_lr: float = 1e-3
    logreg_l2: float = 1e-4
    xgb_trees: int = 100
    xgb_depth: int = 6
    xgb_lr: float = 0.3
    xgb_l2: float = 1.0
    xgb_max_bin: int = 64
    """Histogram bins per feature (not a paper setting; XGBoost's default 256 costs 2-3x the time)."""
    test_fraction: float = 0.2
    seed: int = 0
    threads: int = 1
    probes: tuple[str, ...] = PROBES
    """Which probes to fit (v2 reports XGBoost only)."""
    representations: tuple[str, ...] = REPRESENTATIONS
    """What an SAE's probes read: its T truncated latents, its reconstruction from them (v2: reconstructions)."""
    device: str = "cpu"
    """Where XGBoost trains ("cuda": its GPU hist trees). A runtime knob like threads, not a setting: kNN and the
    logistic regression stay on the CPU, whose sklearn algorithms (brute-force vote, SGD) set their numbers."""

    def __post_init__(self) -> None:
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device must be cpu or cuda, got {self.device!r}")
        for key, known in (("probes", PROBES), ("representations", REPRESENTATIONS)):
            chosen = tuple(getattr(self, key))
            if not chosen or set(chosen) - set(known):
                raise ValueError(f"{key} must be a non-empty subset of {known}, got {chosen}")
            object.__setattr__(self, key, chosen)  # a list from the config becomes a tuple: hashable, frozen


def _f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """F1 of the positive class; missing (NaN) where the test split holds no positive: there is nothing to find,
    and a 0 (or 1) there would be a score of the split, not of the probe. Means leave such tasks out and say how
    many tasks they cover (`summarize`)."""
    if not y_true.any():
        return float("nan")
    tp = np.sum(y_true & y_pred)
    return float(2 * tp / (np.sum(y_true) + np.sum(y_pred)))


@dataclass(frozen=True)
class Shared:
    """A representation's split and what the probes derive from its features alone. Built once where every task
    has the same features (base activations): then each task brings only its labels, instead of searching the
    same neighbours, fitting the same scaler and quantising the same matrix again."""

    x_train: np.ndarray
    x_test: np.ndarray
    neighbours: np.ndarray | None
    """(n_test, k) the training rows nearest each test row, those KNeighborsClassifier.predict votes with."""
    scaled: tuple[np.ndarray, np.ndarray] | None
    """(train, test) standardised on the training split, as the logistic regression's StandardScaler does (as
    coordinates in the scaled span, where the features have one: `standardise`)."""
    dtrain: object | None
    """XGBoost's quantised training matrix; a task sets its labels."""


class Probes:
    """Fits every probe on one (train, test) representation of one task; returns F1 per probe.

    XGBoost runs on its native API with hist trees. With `shared` (Probes.share), a task reuses what its
    features alone determine and fits only on its labels, with the very numbers of a fit from scratch."""

    def __init__(self, cfg: ProbeConfig):
        self.cfg = cfg

    def scores(self, x_train, y_train, x_test, y_test, shared: Shared | None = None, basis=None) -> dict[str, float]:
        """basis: (d, r) orthonormal basis of a subspace that holds every row (`reconstruction_span`): kNN and the
        logistic regression fit on the rows' coordinates there, which keep their distances and inner products."""
        if y_train.all() or not y_train.any():  # one class: every probe predicts it
            const = np.full(len(y_test), bool(y_train[0]))
            return {probe: _f1(y_test, const) for probe in self.cfg.probes}
        neighbours, scaled, dtrain = (shared.neighbours, shared.scaled, shared.dtrain) if shared else (None,) * 3

        def knn() -> np.ndarray:
            near_train, near_test = in_span(x_train, x_test, basis) if neighbours is None else (None, None)
            return self._knn(near_train, y_train, near_test, neighbours)

        fit = {
            "knn": knn,
            "logreg": lambda: self._logreg(x_train, y_train, x_test, scaled, basis),
            "xgboost": lambda: self._xgboost(x_train, y_train, x_test, dtrain),
        }
        return {probe: _f1(y_test, fit[probe]()) for probe in PROBES if probe in self.cfg.probes}

    def share(self, x_train: np.ndarray, x_test: np.ndarray, basis=None) -> Shared:
        """What tasks on these features share, for the probes the config fits (basis: as in `scores`)."""
        chosen = self.cfg.probes
        return Shared(x_train, x_test,
                      nearest(*in_span(x_train, x_test, basis), self.cfg.knn_neighbors, self.cfg.threads)
                      if "knn" in chosen else None,
                      standardise(x_train, x_test, basis) if "logreg" in chosen else None,
                      self.quantised(x_train) if "xgboost" in chosen else None)  # fmt: skip

    def quantised(self, x_train: np.ndarray):
        """Also where features change per task: a plain xgb.DMatrix gives the same trees but saves no time, as
        training then quantises it itself (benchmarks/probe_profile.py --plain-dmatrix)."""
        import xgboost as xgb

        return xgb.QuantileDMatrix(x_train, label=np.zeros(len(x_train)), nthread=self.cfg.threads,
                                   max_bin=self.cfg.xgb_max_bin)  # fmt: skip

    def _knn(self, x_train, y_train, x_test, neighbours=None) -> np.ndarray:
        from sklearn.neighbors import KNeighborsClassifier

        if neighbours is not None:
            return vote(neighbours, y_train)
        knn = KNeighborsClassifier(self.cfg.knn_neighbors, algorithm="brute", n_jobs=self.cfg.threads)
        return knn.fit(x_train, y_train).predict(x_test)

    def _logreg(self, x_train, y_train, x_test, scaled=None, basis=None) -> np.ndarray:
        """Our reading: SGD on the log loss, constant lr, L2 penalty; features standardised on the
        training split so one learning rate fits every representation's scale."""
        from sklearn.linear_model import SGDClassifier

        scaled_train, scaled_test = standardise(x_train, x_test, basis) if scaled is None else scaled
        sgd = SGDClassifier(loss="log_loss", learning_rate="constant", eta0=self.cfg.logreg_lr,
                            alpha=self.cfg.logreg_l2, random_state=self.cfg.seed)  # fmt: skip
        return sgd.fit(scaled_train, y_train).predict(scaled_test)

    def _xgboost(self, x_train, y_train, x_test, dtrain=None) -> np.ndarray:
        import xgboost as xgb

        dtrain = self.quantised(x_train) if dtrain is None else dtrain
        dtrain.set_label(y_train.astype(np.float32))
        params = dict(objective="binary:logistic", tree_method="hist", max_depth=self.cfg.xgb_depth,
                      eta=self.cfg.xgb_lr, reg_lambda=self.cfg.xgb_l2, max_bin=self.cfg.xgb_max_bin,
                      nthread=self.cfg.threads, seed=self.cfg.seed, device=self.cfg.device)  # fmt: skip
        booster = xgb.train(params, dtrain, num_boost_round=self.cfg.xgb_trees)
        booster.set_param({"device": "cpu"})  # predict where x_test lives (a GPU booster would copy it over)
        return booster.inplace_predict(x_test) > 0.5


def standardise(x_train: np.ndarray, x_test: np.ndarray, basis=None) -> tuple[np.ndarray, np.ndarray]:
    """Both sides scaled by the training split's mean and std: what make_pipeline(StandardScaler(), ...) feeds
    its classifier in fit and in predict. With `basis` (d, r), whose span holds every row, the scaled rows lie in
    the span of basis / std, and come as coordinates in an orthonormal basis of it: SGD with an L2 penalty from
    w = 0 keeps w in that span, so it takes the same steps on r numbers a row as on d."""
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x_train)
    scaled = scaler.transform(x_train), scaler.transform(x_test)
    if basis is None:
        return scaled
    return in_span(*scaled, np.linalg.qr(basis / scaler.scale_[:, None])[0])


def in_span(x_train: np.ndarray, x_test: np.ndarray, basis=None) -> tuple[np.ndarray, np.ndarray]:
    """The rows' coordinates in the orthonormal `basis` (none: the rows themselves)."""
    return (x_train, x_test) if basis is None else (x_train @ basis, x_test @ basis)


def nearest(x_train: np.ndarray, x_test: np.ndarray, k: int, threads: int = 1, chunk: int = 512) -> np.ndarray:
    """(n_test, k) training rows nearest each test row: those KNeighborsClassifier.predict votes with, by
    construction. Its `kneighbors` is a separate search (it picks its own strategy from the sizes and threads,
    predict fixes one), so where distances nearly tie it need not keep the same neighbours. Here predict's own
    search runs (predict_proba) with every training row its own class: a test row's neighbours are its k classes
    of nonzero probability. Chunks of test rows bound the (chunk, n_train) probabilities; a row's neighbours do
    not depend on the other rows."""
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(k, algorithm="brute", n_jobs=threads)
    with warnings.catch_warnings():  # as many classes as rows, on purpose
        warnings.filterwarnings("ignore", "The number of unique classes is greater than 50%", UserWarning)
        knn.fit(x_train, np.arange(len(x_train)))
    parts = []
    for start in range(0, len(x_test), chunk):
        proba = knn.predict_proba(x_test[start : start + chunk])  # (chunk, n_train): 1 / k at each neighbour
        parts.append(np.nonzero(proba)[1].reshape(len(proba), k))  # row-major: each row's k columns in turn
    return np.concatenate(parts)


def vote(neighbours: np.ndarray, y_train: np.ndarray) -> np.ndarray:
    """KNeighborsClassifier.predict's uniform vote over the classes [False, True]: positive on a strict majority;
    a tie goes to False, the first class, as np.argmax over its class probabilities does."""
    return 2 * y_train[neighbours].sum(axis=1) > neighbours.shape[1]


# A representation for task i at truncation T: (rows, features) float32.
Representation = Callable[[int], np.ndarray]
# Equal keys of two tasks: the representation gives both the very same features.
FeatureKey = Callable[[int], Hashable]


def run_tasks(
    representations: dict[str, Representation],
    labels: np.ndarray,
    is_test: np.ndarray,
    tasks: list[Task],
    cfg: ProbeConfig,
    feature_key: FeatureKey | dict[str, FeatureKey] | None = None,
    spans: dict[str, Callable[[int], np.ndarray | None]] | None = None,
) -> Iterator[dict]:
    """One row per (representation, task, probe), in task order. `feature_key(i)` (or one per representation):
    tasks with equal keys have the very same features (base activations: one key for every task; an SAE's
    truncations: the task's latent ids, which many tasks share), so the split and what the probes derive from
    the features alone (Probes.share) are made once per key and each task brings only its labels. Without it,
    every task is fitted from scratch. `spans[name](i)`: a (d, r) orthonormal basis of a subspace holding every
    row of that representation for task i (or None): kNN and the logistic regression fit on the rows'
    coordinates there, at about r/d of the cost."""
    probes, n_test = Probes(cfg), int(is_test.sum())
    for name, features in representations.items():
        key = feature_key.get(name) if isinstance(feature_key, dict) else feature_key
        same: dict[Hashable, list[int]] = {}
        for i in range(len(tasks)):
            same.setdefault(key(i) if key else i, []).append(i)
        start, f1, span = time.perf_counter(), {}, (spans or {}).get(name)
        for members in same.values():
            x_train, x_test = split(features(members[0]), is_test)
            basis = span(members[0]) if span is not None and {"knn", "logreg"} & set(cfg.probes) else None
            shared = probes.share(x_train, x_test, basis) if len(members) > 1 else None
            for i in members:
                f1[i] = probes.scores(x_train, labels[~is_test, i], x_test, labels[is_test, i], shared, basis)
                if len(f1) % 30 == 0 or len(f1) == len(tasks):
                    log.info("%s: %d/%d tasks (%d distinct features), %.0f s", name, len(f1), len(tasks),
                             len(same), time.perf_counter() - start)  # fmt: skip
        for i, task in enumerate(tasks):
            n_pos = int(labels[is_test, i].sum())
            for probe, score in f1[i].items():
                yield dict(representation=name, task=task.name, task_group=task.group, probe=probe, f1=score,
                           n_pos=n_pos, n_test=n_test)  # fmt: skip


def split(x: np.ndarray, is_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, test rows) of one representation."""
    return x[~is_test], x[is_test]


def summarize(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean F1 per setting and task group (and "all"): of the best probe per task, and of XGBoost alone, over the
    tasks whose test split holds a positive; `n_tasks` counts those, `n_tasks_no_positive` the others."""
    keys = [c for c in scores.columns if c not in ("task", "task_group", "probe", "f1", "n_pos", "n_test")]
    by_task = [*keys, "task_group", "task"]
    best = scores.groupby(by_task, dropna=False, sort=False)["f1"].max().rename("best")
    xgb = scores[scores.probe == "xgboost"].groupby(by_task, dropna=False, sort=False)["f1"].first()
    per_task = pd.concat([best, xgb.rename("xgboost")], axis=1).reset_index()
    both = pd.concat([per_task, per_task.assign(task_group="all")])
    out = both.groupby([*keys, "task_group"], dropna=False, sort=False).agg(
        f1_best=("best", "mean"), f1_xgboost=("xgboost", "mean"), n_tasks=("best", "count"),
        n_tasks_no_positive=("best", lambda f1: int(f1.isna().sum())),
    )
    return out.reset_index()


SCORES_MAY_BE_MISSING = ("k", "truncation", "f1")
"""k and truncation are empty on the base activations' rows; F1 where the test split holds no positive."""


def write_scores(path, scores: pd.DataFrame) -> None:
    """A probe table, refused where an F1 is missing although its test split holds a positive."""
    from eqsae.io import write_table

    check_missing_f1(scores, str(path))
    write_table(path, scores, allow_missing=SCORES_MAY_BE_MISSING)


def check_missing_f1(scores: pd.DataFrame, name: str) -> None:
    """F1 may be missing only where its test split holds no positive (`_f1`); anywhere else it is a fault."""
    bad = scores[scores["f1"].isna() & (scores["n_pos"] > 0)]
    if len(bad):
        row = bad.iloc[0]
        raise NonFiniteError(f"{name}: column 'f1' is missing in {len(bad)} rows whose test split holds positives, "
                             f"e.g. task {row['task']} ({row['probe']} on {row['representation']}, "
                             f"{row['n_pos']} positives)")


def truncated_reconstruction(
    z: np.ndarray, ids: np.ndarray, decoder: np.ndarray, bias: np.ndarray, elements: np.ndarray,
    transforms: list | None = None,
) -> np.ndarray:  # fmt: skip
    """W_D z_T + b_D from the latents `ids` only; with T_e = M^p R^q (eqsae.fitting.transform.element_matrices), a row
    of element e becomes T_e (W_D z_T + b_D). The sum runs over the ids in increasing order: the same set of
    latents gives the same features to the last bit, whichever order the truncation ranked them in."""
    ids = np.sort(ids)
    x_hat = z[:, ids] @ decoder[ids] + bias
    if transforms is not None:
        for e in range(1, int(elements.max()) + 1):
            rows = elements == e
            x_hat[rows] = x_hat[rows] @ np.asarray(transforms[e], np.float32).T
    return x_hat


def reconstruction_span(rows: np.ndarray, bias: np.ndarray, transforms: list | None = None) -> np.ndarray | None:
    """(d, r) orthonormal basis (float64) of the span of the decoder rows `rows` (the truncation's T latents), b_D
    and, with T_e, their images under every element: every truncated reconstruction lies in it, so Euclidean
    distances (kNN) and, after scaling, SGD's steps (`standardise`) are those of the d features up to rounding,
    at about r / d of the cost, r <= |G| (T + 1).
    None where r would not be below d (sklearn's search at 132 of 256 dimensions costs 0.56x, at 9 0.30x)."""
    generators = np.vstack([rows, bias[None]]).astype(np.float64)
    if transforms is not None:
        generators = np.vstack([generators, *(generators @ np.asarray(t, np.float64).T for t in transforms[1:])])
    if len(generators) >= generators.shape[1]:
        return None
    return np.linalg.qr(generators.T)[0]


def probe_base(acts: np.ndarray, labels: np.ndarray, tasks: list[Task], cfg: ProbeConfig) -> pd.DataFrame:
    """The upper bound: every task on the base activations (n, |G|, d)."""
    x = np.ascontiguousarray(acts.reshape(-1, acts.shape[-1]), dtype=np.float32)
    is_test = split_by_image(len(acts), acts.shape[1], cfg.test_fraction, cfg.seed)
    rows = run_tasks({"activations": lambda i: x}, labels, is_test, tasks, cfg, feature_key=lambda i: None)
    return pd.DataFrame(rows)


def probe_group_element(shape: tuple[int, int], labels: np.ndarray, tasks: list[Task], cfg: ProbeConfig) -> pd.DataFrame:
    """The turn alone: every task on the one-hot group element of each row (rows image-major, shape = (images,
    |G|)), with the split of every other probe."""
    n_images, order = shape
    x = np.tile(np.eye(order, dtype=np.float32), (n_images, 1))
    is_test = split_by_image(n_images, order, cfg.test_fraction, cfg.seed)
    rows = run_tasks({GROUP_ELEMENT: lambda i: x}, labels, is_test, tasks, cfg, feature_key=lambda i: None)
    return pd.DataFrame(rows)


def settings_only(scores: pd.DataFrame) -> pd.DataFrame:
    """Probe rows without the baselines (T = 0, the group element): the paper's settings, what claims decide on."""
    baseline = (scores.sae == GROUP_ELEMENT) | (scores.truncation == LEAK_T).fillna(False).astype(bool)
    return scores[~baseline]


def probe_sae(
    z: np.ndarray,
    decoder: np.ndarray,
    bias: np.ndarray,
    elements: np.ndarray,
    labels: np.ndarray,
    tasks: list[Task],
    truncations: list[int],
    cfg: ProbeConfig,
    transforms: list | None = None,
    latent_scores: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every task on an SAE's T truncated latents and on its reconstruction from those T latents only, and the
    leak baseline: the reconstruction at T = 0 (LEAK_T), b_D alone or T_e b_D.

    z: (rows, d_latent) dense latents, image-major with |G| rows per image; decoder: (d_latent, d) rows;
    elements: (rows,) group element of each row. With T_e = M^p R^q, the reconstruction of a row of element
    e is T_e (W_D z_T + b_D). cfg.representations: which of the two to probe (v2: reconstructions only).
    latent_scores: a probe table of these very latents with the same config (an equivariant SAE's latents are
    its trained SAE's): its latent rows are taken instead of fitted again, which would give the same numbers."""
    order = int(elements.max()) + 1
    is_test = split_by_image(len(z) // order, order, cfg.test_fraction, cfg.seed)
    frames = []
    for t in (LEAK_T, *truncations):
        if t == LEAK_T and "reconstructions" not in cfg.representations:
            continue
        chosen = truncate(z[~is_test], labels[~is_test], t) if t else np.zeros((len(tasks), 0), np.int64)
        sets = np.sort(chosen, axis=1)
        reps = {
            "latents": lambda i: z[:, chosen[i]],
            "reconstructions": lambda i: truncated_reconstruction(z, sets[i], decoder, bias, elements, transforms),
        }
        reused = "latents" in cfg.representations and latent_scores is not None and t != LEAK_T
        parts = [latent_rows(latent_scores, t, tasks, cfg)] if reused else []
        fitted = [name for name in cfg.representations if not (reused and name == "latents")]
        fitted = fitted if t != LEAK_T else ["reconstructions"]  # no latent to probe at T = 0
        if fitted:
            # Tasks whose truncation picks the same ids see the same latents (in that order: a tree's ties between
            # columns go to the first) and the same reconstructions (in any order).
            keys = {"latents": lambda i: chosen[i].tobytes(), "reconstructions": lambda i: sets[i].tobytes()}
            span = {"reconstructions": lambda i: reconstruction_span(decoder[sets[i]], bias, transforms)}
            rows = run_tasks({name: reps[name] for name in fitted}, labels, is_test, tasks, cfg, feature_key=keys,
                             spans=span)  # fmt: skip
            parts.append(pd.DataFrame(rows))
        frames.append(pd.concat(parts, ignore_index=True).assign(truncation=t))
    return pd.concat(frames, ignore_index=True)


SCORE_COLUMNS = ["representation", "task", "task_group", "probe", "f1", "n_pos", "n_test"]
"""The columns run_tasks writes: one probe's score on one task."""


def latent_rows(table: pd.DataFrame, t: int, tasks: list[Task], cfg: ProbeConfig) -> pd.DataFrame:
    """The latent rows at truncation T of another job's probe table, in the order run_tasks writes them; a table
    of other tasks or probes is an error rather than rows silently missing from this job's."""
    rows = table[(table.representation == "latents") & (table.truncation == t)]
    if rows.task.tolist() != [task.name for task in tasks for _ in cfg.probes] or set(rows.probe) != set(cfg.probes):
        raise ValueError(f"the probe table to reuse has other latent rows at T = {t} than this job's "
                         f"{len(tasks)} tasks x probes {list(cfg.probes)}")  # fmt: skip
    return rows[SCORE_COLUMNS].reset_index(drop=True)


def probe_orbits(sae, orbits: np.ndarray, labels: np.ndarray, tasks: list, truncations: list[int], cfg: ProbeConfig,
                 transforms: list | None = None, latent_scores: pd.DataFrame | None = None) -> pd.DataFrame:  # fmt: skip
    """Every task on the orbits' activations (`sae` None: the upper bound) or on a TopK SAE's T truncated latents
    and reconstructions (with T_e = M^p R^q applied for an equivariant SAE, whose latents are its trained SAE's:
    `latent_scores`, that SAE's probe table, gives their rows without fitting them again)."""
    from eqsae.models.sae import encode_orbits

    if sae is None:
        return probe_base(orbits, labels, tasks, cfg)
    z = sae.dense(encode_orbits(sae, orbits)).numpy()
    elements = np.tile(np.arange(orbits.shape[1]), len(orbits))
    decoder, bias = sae.dictionary_rows().detach().cpu().numpy(), sae.b_dec.detach().cpu().numpy()
    return probe_sae(z, decoder, bias, elements, labels, tasks, truncations, cfg, transforms, latent_scores)


def probe_orbit_baselines(orbits: np.ndarray, labels: np.ndarray, tasks: list, cfg: ProbeConfig) -> pd.DataFrame:
    """The references of every SAE's scores, column `sae`: the activations themselves ("base", the upper bound)
    and the one-hot group element alone ("group_element": how much of a label the turn gives without any
    feature, e.g. an orientation label)."""
    base = probe_base(orbits, labels, tasks, cfg)
    turn = probe_group_element(orbits.shape[:2], labels, tasks, cfg)
    scores = pd.concat([base.assign(sae="base"), turn.assign(sae=GROUP_ELEMENT)], ignore_index=True)
    return scores[["sae", *[c for c in scores.columns if c != "sae"]]]
