"""The toy model's tables and figure: per-seed scores, their mean / SE / std over seeds, v2's Table 3 beside
ours, and v2's Figure 2/8 (metrics against N, a line per SAE type).

v2's Table 3 has the equivariant SAEs only, with random canonical representatives, orbit size 4, 5 seeds,
mean +- std; our rows in its layout are the same setting, scored with the true M and with the fitted one.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from eqsae.paper.stats import over_seeds  # noqa: E402
from eqsae.paper.v2 import paper_table3  # noqa: E402
from eqsae.toy.experiment import LOSSES, TOY_SAES  # noqa: E402

METRICS = ("reconstruction_mse", "reconstruction_fvu", "reconstruction_mse_per_coordinate", "feature_recovery", "detection_top1", "detection_top4", "class_agreement")
KEYS = ["canonical", "order", "n_features", "sae", "transformation"]
PAPER_COLUMNS = {"reconstruction_mse": "mse_std", "feature_recovery": "recovery_std", "detection_top1": "top1_std",
                 "detection_top4": "top4_std"}  # fmt: skip
"""v2's Table 3: each metric's column and its std column."""


def summarize_toy(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean, SE, std and n over seeds per (canonical, |G|, N, SAE type, transformation)."""
    values = [m for m in METRICS if m in scores.columns and scores[m].notna().any()]
    table = scores[[*KEYS, "seed", *values]].copy()
    table["transformation"] = table["transformation"].fillna("")
    out = over_seeds(table, values)
    std = table.groupby(KEYS, sort=False)[values].std(ddof=1).add_suffix("_std").reset_index()
    return out.merge(std, on=KEYS, how="left")


TABLE3_CANONICAL = ("random", "orientation")
"""v2's Table 3 setting (random representatives), and our consistent-frame reading of one representative per
orbit beside it."""


def table3(summary: pd.DataFrame) -> pd.DataFrame:
    """Ours in v2's Table 3 layout (|G| = 4, equivariant SAEs; random representatives and, where run, the
    per-feature orientation reading), v2's mean and std beside each metric, and ours - v2; our FVU and
    per-coordinate MSE beside. Empty where our config ran no such setting."""
    ours = summary[summary.canonical.isin(TABLE3_CANONICAL) & (summary.order == 4) & summary.sae.isin(list(LOSSES))]
    ours = ours.copy()
    ours["loss"] = ours.sae.str.removeprefix("equivariant_")
    paper = paper_table3().rename(columns={m: f"paper_{m}" for m in PAPER_COLUMNS})
    paper = paper.rename(columns={std: f"paper_{m}_std" for m, std in PAPER_COLUMNS.items()})
    out = ours.merge(paper, on=["loss", "n_features"], how="left")
    columns = ["canonical", "loss", "n_features", "transformation", "n_seeds"]
    for metric in PAPER_COLUMNS:
        out[f"{metric}_diff"] = out[f"{metric}_mean"] - out[f"paper_{metric}"]
        columns += [f"{metric}_mean", f"{metric}_std", f"paper_{metric}", f"paper_{metric}_std", f"{metric}_diff"]
    columns += [f"{m}_mean" for m in ("reconstruction_fvu", "reconstruction_mse_per_coordinate") if f"{m}_mean" in out]
    return out[columns].sort_values(["canonical", "loss", "transformation", "n_features"], ignore_index=True)


def toy_figure(summary: pd.DataFrame, canonical: str) -> plt.Figure:
    """v2's Figure 2/8, our reading: MSE, recovery and detection (m = 1, 4) against N, a line per SAE type
    (equivariant SAEs with the true M), SE bars over seeds, a row per orbit size."""
    how = summary.transformation.fillna("")  # "" (no M involved) reads back from CSV as missing
    table = summary[(summary.canonical == canonical) & how.isin(["", "true"])]
    if table.empty:
        raise ValueError(f"no toy rows with canonical representatives {canonical!r}")
    saes = [s for s in TOY_SAES if s in set(table.sae)]
    colors = dict(zip(saes, sns.color_palette("colorblind", len(saes))))
    metrics = ["reconstruction_mse", "feature_recovery", "detection_top1", "detection_top4"]
    orders = sorted(table.order.unique())
    fig, axes = plt.subplots(len(orders), len(metrics), figsize=(3.4 * len(metrics) + 1.8, 2.9 * len(orders)),
                             squeeze=False)  # fmt: skip
    for i, order in enumerate(orders):
        for j, metric in enumerate(metrics):
            ax = axes[i, j]
            for sae in saes:
                line = table[(table.order == order) & (table.sae == sae)].sort_values("n_features")
                ax.errorbar(line.n_features, line[f"{metric}_mean"], yerr=line[f"{metric}_se"].fillna(0.0),
                            color=colors[sae], marker="o", ms=3, lw=1.2, capsize=2, label=sae)  # fmt: skip
            ax.set_title(f"{metric.replace('_', ' ')}, |G| = {order}", fontsize=9)
            ax.set_xlabel("N (true features)")
    axes[0, -1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    n = int(table.n_seeds.min())
    fig.suptitle(f"Toy model, {canonical} canonical representatives (bars: SE over {n} seed{'s' * (n > 1)})",
                 fontsize=10)  # fmt: skip
    fig.tight_layout()
    return fig
