"""The headline tables: per-seed long tables in, one row per setting out, each number as mean, SE and n.

Kept apart from the stages that make the per-seed numbers (transform, sae, probe), so that changing how
results are summarised re-runs the tables and nothing upstream.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from eqsae.paper.stats import over_seeds

SAE_METRICS = ("fvu", "l0", "l1", "dead_fraction", "latent_invariance", "spliced_loss", "base_loss")
PROBE_SUMMARY = ("f1_best", "f1_xgboost")


def result1_values(table: pd.DataFrame) -> list[str]:
    """RESULT 1's numbers (every R^2 reading, the mean-shift shares); the other columns are keys."""
    return [c for c in table.columns if c.startswith(("r2_", "shift_share_"))]


def result1_over_seeds(seeds: pd.DataFrame) -> pd.DataFrame:
    """RESULT 1 over seeds: per base model, group and element (1..|G|-1 and their mean), every R^2 reading as
    mean and standard error over seeds (v2's +-). The spread over elements, the paper's v1 +-, stays as its own
    column `<reading>_element_std` on the `mean` row: each seed's std over the elements, averaged over seeds."""
    seeds = seeds.assign(element=seeds["element"].astype(str))
    readings = result1_values(seeds)
    table = over_seeds(seeds[seeds.element != "std"], readings)
    keys = [c for c in ("base_model", "group") if c in seeds]
    spread = seeds[seeds.element == "std"].groupby(keys, sort=False)[readings].mean()
    on_mean_row = table.element == "mean"
    index = pd.MultiIndex.from_frame(table.loc[on_mean_row, keys]) if len(keys) > 1 else table.loc[on_mean_row, keys[0]]
    for reading in readings:
        table.loc[on_mean_row, f"{reading}_element_std"] = spread[reading].reindex(index).to_numpy()
    return table


PAPER_RESULT1 = {"cnn": {"r2_learned": (0.987, 0.001), "r2_identity": (0.05, 0.08)},
                 "mlp": {"r2_learned": (0.987, 0.001), "r2_identity": (0.49, 0.03)}}  # fmt: skip
"""The paper's RESULT 1 (C4): R^2 as mean +- std over the transformations; the learned M's over both models."""
IDENTITY_READINGS = {"r2_identity": "pooled", "r2_identity_flat": "flat", "r2_identity_uniform": "uniform",
                     "r2_identity_relu": "pooled after the ReLU", "r2_identity_relu_flat": "flat after the ReLU",
                     "r2_identity_relu_uniform": "uniform after the ReLU"}  # fmt: skip


def beside_paper(table: pd.DataFrame) -> pd.DataFrame:
    """The paper's RESULT 1 numbers (`paper_<column>` and `paper_<column>_std`) on the C4 `mean` rows of the
    table over seeds, beside our every reading."""
    out = table.copy()
    rows = (out.element == "mean") & (out.group == "C4") & out.base_model.isin(list(PAPER_RESULT1))
    for column in ("r2_learned", "r2_identity"):
        for i, suffix in ((0, ""), (1, "_std")):
            paper = out.base_model.map({m: v[column][i] for m, v in PAPER_RESULT1.items()})
            out[f"paper_{column}{suffix}"] = paper.where(rows)
    return out


def identity_reading(table: pd.DataFrame, context: str = "") -> str:
    """One sentence, per base model: which R^2 reading of M = I comes nearest the paper's, and whether it lies
    within the paper's +- std (over transformations). `table`: RESULT 1 over seeds (`_mean` columns)."""
    parts = []
    for model, (paper, std) in ((m, v["r2_identity"]) for m, v in PAPER_RESULT1.items()):
        row = table[(table.element == "mean") & (table.group == "C4") & (table.base_model == model)]
        found = {} if row.empty else {name: float(row[f"{c}_mean"].iloc[0]) for c, name in IDENTITY_READINGS.items()
                                       if f"{c}_mean" in row}  # fmt: skip
        if not found:
            continue
        name, ours = min(found.items(), key=lambda item: abs(item[1] - paper))
        within = "within" if abs(ours - paper) <= std else "outside"
        parts.append(f"the paper's {paper:g} for the {model.upper()} is nearest our {name} reading ({ours:.3g}, "
                     f"{within} the paper's +-{std:g})")  # fmt: skip
    if not parts:
        return ""
    return f"M = I{f' ({context})' if context else ''}: " + "; ".join(parts) + "."


def sae_metrics_over_seeds(seeds: pd.DataFrame) -> pd.DataFrame:
    """RESULT 3 over seeds: one row per (base_model, sae_training, variant, k), each metric's mean and SE."""
    return over_seeds(seeds, [c for c in SAE_METRICS if c in seeds])


TASK_COUNTS = ("n_tasks", "n_tasks_no_positive")
NO_TASK = (*PROBE_SUMMARY, *(f"{c}_mean" for c in PROBE_SUMMARY))
"""Missing in a probe summary where none of a task group's tasks has a positive in the test split."""


def probe_summary_over_seeds(summary_seeds: pd.DataFrame) -> pd.DataFrame:
    """RESULT 2 over seeds: the per-seed mean F1 per task group, as mean and SE over seeds. Where a seed's test
    split holds no positive of a task, that seed's mean leaves it out: `n_tasks` is the fewest tasks a seed's
    mean covers, `n_tasks_no_positive` the most it leaves out."""
    counts = [c for c in TASK_COUNTS if c in summary_seeds]
    out = over_seeds(summary_seeds.drop(columns=counts), [c for c in PROBE_SUMMARY if c in summary_seeds])
    if not counts:
        return out
    keys = [c for c in out.columns if c in summary_seeds and c not in (*PROBE_SUMMARY, "seed")]
    how = {"n_tasks": "min", "n_tasks_no_positive": "max"}
    spread = summary_seeds.groupby(keys, dropna=False, sort=False)[counts].agg({c: how[c] for c in counts})
    out = out.merge(spread.reset_index(), on=keys, how="left", validate="one_to_one")
    return out[[*keys, "n_seeds", *counts, *[c for c in out.columns if c not in (*keys, "n_seeds", *counts)]]]


def best_per_task(scores: pd.DataFrame) -> pd.DataFrame:
    """F1 of the best of the three probes for each task, per seed and setting: what the claims pair by task."""
    keys = [c for c in scores.columns if c not in ("probe", "f1", "n_pos", "n_test")]
    return scores.groupby(keys, dropna=False, sort=False)["f1"].max().rename("f1_best").reset_index()


def xgboost_per_task(scores: pd.DataFrame) -> pd.DataFrame:
    """F1 of the XGBoost probe per task, seed and setting: the probe of the paper's Figure 3."""
    rows = scores[scores.probe == "xgboost"]
    return rows.drop(columns=[c for c in ("probe", "n_pos", "n_test") if c in rows])


def best_on_other_seeds(scores: pd.DataFrame) -> pd.DataFrame:
    """F1 per task, seed and setting of the probe with the best mean F1 on the other seeds' test splits for
    that task and setting: the best of the probes, picked without this seed's test split. Rows of a setting
    with one seed are left out (nothing to pick on)."""
    keys = [c for c in scores.columns if c not in ("seed", "probe", "f1", "n_pos", "n_test")]
    f1 = scores.pivot_table(index=[*keys, "seed"], columns="probe", values="f1", sort=True)
    by_setting = f1.groupby(level=keys)
    n = by_setting.transform("count")
    others = (by_setting.transform("sum") - f1) / (n - 1)
    keep = (n > 1).all(axis=1) & others.notna().any(axis=1)
    f1, others = f1[keep], others[keep]
    pick = np.nan_to_num(others.to_numpy(), nan=-np.inf).argmax(axis=1)
    return f1.index.to_frame(index=False).assign(f1=f1.to_numpy()[np.arange(len(f1)), pick])


ATLAS_KEYS = ("base_model", "sae_training", "variant", "k")


def atlas_census_over_seeds(seeds: pd.DataFrame) -> pd.DataFrame:
    """The atlas census per SAE over seeds: every count and share as mean and SE."""
    return over_seeds(seeds, [c for c in seeds.columns if c not in (*ATLAS_KEYS, "seed")])


def atlas_redundancy(census: pd.DataFrame) -> pd.DataFrame:
    """The redundancy table: per SAE, live latents, the share with a turned copy in the same dictionary, the
    share whose decoded M^p image matches rot90^p and the median orbit-strip correlation beside its M = I
    baseline, each with its SE over seeds."""
    names = ("n_live", "redundancy", "orbit_match", "orbit_corr_median", "orbit_corr_unturned_median")
    numbers = [f"{name}_{stat}" for name in names if f"{name}_mean" in census for stat in ("mean", "se")]
    return census[[*ATLAS_KEYS, "n_seeds", *numbers]]
