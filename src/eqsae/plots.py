"""The paper's figures, drawn with seaborn from the pipeline's tables."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

VARIANT_ORDER = ["regular", "wide", "twolayer", "invariant", "equivariant"]


def figure4(metrics: pd.DataFrame) -> plt.Figure:
    """x = spliced loss, y = mean L1 of the latents, a point per (variant, K), a panel per base model;
    points of one variant are joined in order of K."""
    order = [v for v in VARIANT_ORDER if v in set(metrics["variant"])]
    palette = dict(zip(order, sns.color_palette("colorblind", len(order))))
    grid = sns.relplot(
        data=metrics, x="spliced_loss", y="l1", hue="variant", hue_order=order, palette=palette,
        style="variant", style_order=order, size="k", sizes=(40, 160), col="base_model", kind="scatter",
        facet_kws={"sharex": False, "sharey": False}, height=3.6,
    )  # fmt: skip
    for model, ax in grid.axes_dict.items():
        for variant in order:
            line = metrics[(metrics.base_model == model) & (metrics.variant == variant)].sort_values("k")
            ax.plot(line["spliced_loss"], line["l1"], lw=0.8, alpha=0.6, color=palette[variant])
    grid.set_axis_labels("spliced reconstruction loss (image MSE)", "mean L1 of latents")
    grid.figure.suptitle("Sparsity / reconstruction of SAEs (Figure 4)", y=1.03)
    return grid.figure
