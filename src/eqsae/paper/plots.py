"""The paper's figures, drawn with matplotlib from the pipeline's headline tables, with standard errors."""

from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from eqsae.probing.probe import GROUP_ELEMENT, LEAK_T  # noqa: E402
from eqsae.probing.tasks import TASK_GROUPS  # noqa: E402

VARIANT_ORDER = ["regular", "wide", "twolayer", "invariant", "equivariant", "twolayer_wide", "archetypal",
                 "archetypal_wide", "invariant_latent", "invariant_output", "equivariant_latent", "equivariant_output"]


def _colors() -> dict[str, tuple]:
    """One colour per variant in every figure, whichever variants a config runs."""
    return dict(zip(VARIANT_ORDER, sns.color_palette("colorblind", len(VARIANT_ORDER))))


def _over(n: int) -> str:
    return f"SE over {n} seed{'s' * (n > 1)}"


def _se(values: pd.Series) -> np.ndarray:
    """Standard errors for error bars; a setting with one seed has none (drawn as zero)."""
    return values.fillna(0.0).to_numpy()


def figure4(metrics: pd.DataFrame) -> plt.Figure:
    """x = spliced loss, y = mean L1 of the latents, a point per (variant, K) with standard-error crosses over
    seeds in both directions, a panel per base model (and a row per SAE training practice when there are
    several); points of one variant are joined in order of K, larger markers for larger K."""
    order = [v for v in VARIANT_ORDER if v in set(metrics["variant"])]
    palette = _colors()
    markers = dict(zip(VARIANT_ORDER, "osD^v<>phH*X"))
    practices, models = sorted(metrics["sae_training"].unique()), list(dict.fromkeys(metrics["base_model"]))
    ks = sorted(metrics["k"].unique())
    fig, axes = plt.subplots(len(practices), len(models), figsize=(4.2 * len(models), 3.6 * len(practices)),
                             squeeze=False)  # fmt: skip
    for (i, practice), (j, model) in itertools.product(enumerate(practices), enumerate(models)):
        ax, panel = axes[i, j], metrics[(metrics.base_model == model) & (metrics.sae_training == practice)]
        for variant in order:
            line = panel[panel.variant == variant].sort_values("k")
            ax.plot(line["spliced_loss_mean"], line["l1_mean"], lw=0.8, alpha=0.6, color=palette[variant])
            ax.errorbar(line["spliced_loss_mean"], line["l1_mean"], xerr=_se(line["spliced_loss_se"]),
                        yerr=_se(line["l1_se"]), fmt="none", ecolor=palette[variant], elinewidth=1, capsize=2)
            sizes = [40 + 120 * ks.index(k) / max(len(ks) - 1, 1) for k in line["k"]]
            ax.scatter(line["spliced_loss_mean"], line["l1_mean"], s=sizes, color=palette[variant],
                       marker=markers[variant], label=variant, zorder=3)  # fmt: skip
        ax.set_title(f"{model}" + (f", {practice} SAEs" if len(practices) > 1 else ""))
        ax.xaxis.set_major_locator(MaxNLocator(5))  # the losses' long decimals otherwise collide
        ax.set_xlabel("spliced reconstruction loss (image MSE)")
        ax.set_ylabel("mean L1 of latents")
    handles, labels = axes[-1, 0].get_legend_handles_labels()
    fig.legend(handles, labels, title=f"variant\n(K = {', '.join(str(int(k)) for k in ks)})", fontsize=8,
               loc="center left", bbox_to_anchor=(1.0, 0.5))  # fmt: skip
    fig.suptitle(f"Sparsity / reconstruction of SAEs (Figure 4); crosses: {_over(int(metrics['n_seeds'].min()))}")
    fig.tight_layout()
    return fig


GROUP_ORDER = [*TASK_GROUPS, "all"]


def probing_figure(summary: pd.DataFrame, training: str, model: str, t: int) -> plt.Figure:
    """Figures 3 and 7: mean F1 (best probe per task) per task group, a bar per SAE with its standard error
    over seeds, a column per K, a row per representation (truncated latents, reconstructions from them);
    dashed: the base activations; dotted: the one-hot group element alone; a black tick on a reconstruction bar:
    that SAE's reconstruction from no latent (T = 0), the leaks."""
    panel = summary[(summary.base_model == model) & (summary.sae_training == training) & (summary.truncation == t)]
    here = summary[summary.base_model == model]
    base = here[here.sae == "base"].set_index("task_group")["f1_best_mean"]
    turn = here[here.sae == GROUP_ELEMENT].set_index("task_group")["f1_best_mean"]
    leak = here[(here.sae_training == training) & (here.truncation == LEAK_T)]
    if panel.empty:
        raise ValueError(f"probe_summary has no rows for {training} SAEs on {model} at T={t}")
    order = [v for v in VARIANT_ORDER if v in set(panel["sae"])]
    colors = _colors()
    ks, rows = sorted(int(k) for k in panel["k"].unique()), ["latents", "reconstructions"]
    fig, axes = plt.subplots(len(rows), len(ks), figsize=(3.6 * len(ks) + 1.2, 5.6), squeeze=False, sharey=True)
    width = 0.8 / len(order)
    for (i, representation), (j, k) in itertools.product(enumerate(rows), enumerate(ks)):
        ax = axes[i, j]
        cell = panel[(panel.representation == representation) & (panel.k == k)].set_index(["sae", "task_group"])
        for n, sae in enumerate(order):
            keys = [(sae, g) for g in GROUP_ORDER]
            mean = cell["f1_best_mean"].reindex(keys)
            x = np.arange(len(GROUP_ORDER)) - 0.4 + width * (n + 0.5)
            ax.bar(x, mean, width, yerr=_se(cell["f1_best_se"].reindex(keys)), color=colors[sae], label=sae,
                   error_kw=dict(elinewidth=0.8, capsize=1.5))  # fmt: skip
            if representation == "reconstructions":
                at_zero = leak[(leak.k == k) & (leak.sae == sae)].set_index("task_group")["f1_best_mean"]
                ax.scatter(x, at_zero.reindex(GROUP_ORDER), marker="_", s=40, c="k", lw=1.2, zorder=3,
                           label="T = 0" if n == 0 else None)  # fmt: skip
        for x, group in enumerate(GROUP_ORDER):
            if group in base:
                ax.hlines(base[group], x - 0.45, x + 0.45, colors="k", linestyles="--", lw=1)
            if group in turn:
                ax.hlines(turn[group], x - 0.45, x + 0.45, colors="0.4", linestyles=":", lw=1.2)
        ax.set_xticks(range(len(GROUP_ORDER)), GROUP_ORDER)
        ax.set_ylim(0, 1.02)
        ax.set_title(f"{representation}, K = {k}", fontsize=9)
        ax.set_xlabel("task group" if i == len(rows) - 1 else "")
        ax.set_ylabel("mean F1 (best probe)" if j == 0 else "")
    handles, labels = axes[-1, 0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle(f"Probing, {model.upper()}, T = {t}, {training} SAEs (dashed: base activations; dotted: group "
                 f"element alone; ticks: reconstruction at T = 0; bars: "
                 f"{_over(int(panel['n_seeds'].min()))})", fontsize=10)  # fmt: skip
    fig.tight_layout()
    return fig
