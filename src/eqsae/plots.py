"""The paper's figures, drawn with seaborn from the pipeline's tables."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from eqsae.probe import TASK_GROUPS  # noqa: E402

VARIANT_ORDER = ["regular", "wide", "twolayer", "invariant", "equivariant"]


def figure4(metrics: pd.DataFrame) -> plt.Figure:
    """x = spliced loss, y = mean L1 of the latents, a point per (variant, K), a panel per base model (and a
    row per SAE training practice when there are several); points of one variant are joined in order of K."""
    order = [v for v in VARIANT_ORDER if v in set(metrics["variant"])]
    palette = dict(zip(order, sns.color_palette("colorblind", len(order))))
    practices = sorted(metrics["sae_training"].unique())
    grid = sns.relplot(
        data=metrics, x="spliced_loss", y="l1", hue="variant", hue_order=order, palette=palette,
        style="variant", style_order=order, size="k", sizes=(40, 160), col="base_model", kind="scatter",
        row="sae_training" if len(practices) > 1 else None, facet_kws={"sharex": False, "sharey": False},
        height=3.6,
    )  # fmt: skip
    for key, ax in grid.axes_dict.items():
        practice, model = key if len(practices) > 1 else (practices[0], key)
        panel = metrics[(metrics.base_model == model) & (metrics.sae_training == practice)]
        for variant in order:
            line = panel[panel.variant == variant].sort_values("k")
            ax.plot(line["spliced_loss"], line["l1"], lw=0.8, alpha=0.6, color=palette[variant])
    grid.set_axis_labels("spliced reconstruction loss (image MSE)", "mean L1 of latents")
    grid.figure.suptitle("Sparsity / reconstruction of SAEs (Figure 4)", y=1.03)
    return grid.figure


GROUP_ORDER = [*TASK_GROUPS, "all"]


def probing_figure(summary: pd.DataFrame, training: str, model: str, t: int) -> plt.Figure:
    """Figures 3 and 7: mean F1 (best probe per task) per task group, a bar per SAE, a column per K, a row
    per representation (truncated latents, reconstructions from them); dashed: the base activations."""
    panel = summary[(summary.base_model == model) & (summary.sae_training == training) & (summary.truncation == t)]
    base = summary[(summary.base_model == model) & (summary.sae == "base")].set_index("task_group")["f1_best"]
    if panel.empty:
        raise ValueError(f"probe_summary has no rows for {training} SAEs on {model} at T={t}")
    panel = panel.astype({"k": int})  # read as float: the base rows have no K
    order = [v for v in VARIANT_ORDER if v in set(panel["sae"])]
    grid = sns.catplot(
        data=panel, x="task_group", y="f1_best", hue="sae", hue_order=order, order=GROUP_ORDER, col="k",
        row="representation", row_order=["latents", "reconstructions"], kind="bar", palette="colorblind",
        height=2.8, aspect=1.3,
    )  # fmt: skip
    for ax in grid.axes.flat:
        for x, group in enumerate(GROUP_ORDER):
            if group in base:
                ax.hlines(base[group], x - 0.45, x + 0.45, colors="k", linestyles="--", lw=1)
        ax.set_ylim(0, 1.02)
    grid.set_axis_labels("task group", "mean F1 (best probe)")
    grid.figure.suptitle(f"Probing, {model.upper()}, T = {t}, {training} SAEs (dashed: base activations)",
                         y=1.02)  # fmt: skip
    return grid.figure
