"""The paper's later version (arXiv 2511.09432v2) beside ours: its published tables as data, our numbers in its
layout with the differences, its headline count, and its Figure 3 as we read it.

v2 averages its probe scores over MLP, CNN and a pretrained ViT whose weights cannot be fetched here, so our
per-model and CNN+MLP numbers are not the same quantity as its; every probe row says in words what it compares.
"""

from __future__ import annotations

import itertools
from importlib.resources import files

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from eqsae.paper.stats import over_seeds, se_columns  # noqa: E402
from eqsae.pipeline.config import V2_NAMES  # noqa: E402  (our variant -> v2's column; regular, wide, invariant* have none)
from eqsae.probing.probe import settings_only  # noqa: E402
from eqsae.probing.tasks import TASK_GROUPS  # noqa: E402

DATA = files("eqsae.paper") / "data" / "paper_v2"
BASELINES = ("vanilla", "vanilla_wide", "archetypal", "archetypal_wide")
EQUIVARIANT = ("equivariant_canonical", "equivariant_latent", "equivariant_output")
V2_PROBE_MODELS = ("mlp", "cnn", "vit_b_16")
"""The base models v2's Tables 4 and 5 average over."""
CELL = ["topk", "truncation", "group", "task_group"]
"""A cell of v2's Tables 4 and 5 (its "(T, group, task)" cell, per TopK), each holding one F1 per SAE."""
ALL = "all"
"""Pseudo task group: the unweighted mean of the four task groups' mean F1 (Figure 3's y, our reading)."""
R2 = ("r2_learned", "r2_identity")


def _read(name: str) -> pd.DataFrame:
    with (DATA / name).open() as f:
        return pd.read_csv(f)


def paper_table1() -> pd.DataFrame:
    """v2 Table 1 as published: R^2 of the learned M (and R) and of M = I, mean and SE over 3 seeds."""
    return _read("table1_r2.csv")


def paper_tables45() -> pd.DataFrame:
    """v2 Tables 4 and 5 as published: XGBoost F1 on reconstructions from T latents, mean over MLP, CNN, ViT
    and 3 seeds, with (most likely) the SE."""
    return _read("tables4_5_reconstruction_probes.csv")


def paper_table3() -> pd.DataFrame:
    """v2 Table 3 as published: the toy model with random orbit representatives, mean and std over 5 seeds."""
    return _read("table3_toy_random_representatives.csv")


def may_be_missing(table: pd.DataFrame) -> tuple[str, ...]:
    """Columns legitimately NaN: SEs of one seed, v2's numbers where v2 has no such setting, and differences
    from those (what write_table's `allow_missing` needs)."""
    paper = tuple(c for c in table.columns if c.startswith("paper_") or c.endswith("diff"))
    return (*se_columns(table), *paper)


def table1(r2_seeds: pd.DataFrame) -> pd.DataFrame:
    """Our R^2 of M and of M = I per (base_model, group) over seeds (the `mean`-over-elements rows, as v2's
    Table 1), beside v2's Shapes numbers and ours - v2's; settings v2 lacks keep NaN paper columns."""
    rows = r2_seeds[r2_seeds["element"].astype(str) == "mean"]
    ours = over_seeds(rows[["seed", "base_model", "group", *R2]], list(R2))
    paper = paper_table1().query("dataset == 'shapes'").drop(columns="dataset")
    paper = paper.rename(columns={c: f"paper_{c}" for c in paper.columns if c.startswith("r2_")})
    out = ours.merge(paper, on=["base_model", "group"], how="left", validate="one_to_one")
    for reading in R2:
        out[f"{reading}_diff"] = out[f"{reading}_mean"] - out[f"paper_{reading}"]
    return out


def _with_all_task_groups(table: pd.DataFrame, value: str) -> pd.DataFrame:
    """Append task_group `all`: per the remaining keys, the unweighted mean of the four groups' values."""
    keys = [c for c in table.columns if c not in ("task_group", value)]
    means = table.groupby(keys, sort=False)[value].mean().reset_index().assign(task_group=ALL)
    return pd.concat([table, means[table.columns]], ignore_index=True)


def _paper_cells() -> pd.DataFrame:
    """v2's F1 per cell and SAE, plus its `all` rows (our average; v2 gives no SE for them)."""
    paper = paper_tables45()
    return pd.concat([paper, _with_all_task_groups(paper.drop(columns="f1_se"), "f1_mean")[len(paper) :]])


def _comparison(base_model: str, has_paper: bool) -> str:
    ours = f"mean over {base_model.replace('+', ', ')}" if "+" in base_model else f"{base_model} only"
    paper = f"mean over {', '.join(V2_PROBE_MODELS)}" if has_paper else "no such setting"
    return f"ours: {ours}; paper: {paper}"


def tables45(scores: pd.DataFrame) -> pd.DataFrame:
    """v2 Tables 4 and 5 from our probe scores: XGBoost on reconstructions, mean F1 over a task group's tasks
    per seed, then (per model, and averaged over the models present per seed) mean, SE and n over seeds,
    beside v2's number. Averaging tasks, then models, then seeds weighs each model equally and keeps the
    seed as the replicate. Task group `all` is the unweighted mean of the four groups (Figure 3)."""
    rows = settings_only(scores[(scores.probe == "xgboost") & (scores.representation == "reconstructions")])
    rows = rows[rows.sae.isin(list(V2_NAMES))]
    rows = rows.assign(sae=rows.sae.map(V2_NAMES), topk=rows.k.astype(int), truncation=rows.truncation.astype(int))
    keys = ["seed", "base_model", "sae_training", *CELL, "sae"]
    per_seed = _with_all_task_groups(rows.groupby(keys, sort=False)["f1"].mean().reset_index(), "f1")
    models = sorted(per_seed.base_model.unique())
    if len(models) > 1:
        by_seed = per_seed.groupby([k for k in keys if k != "base_model"], sort=False)["f1"]
        both = by_seed.agg(["mean", "count"])
        both = both[both["count"] == len(models)]  # a seed missing one model's cell drops out of the average
        both = both.reset_index().rename(columns={"mean": "f1"}).assign(base_model="+".join(models))
        per_seed = pd.concat([per_seed, both[per_seed.columns]], ignore_index=True)
    table = over_seeds(per_seed, ["f1"])
    paper = _paper_cells().rename(columns={"f1_mean": "paper_f1_mean", "f1_se": "paper_f1_se"})
    table = table.merge(paper, on=[*CELL, "sae"], how="left", validate="many_to_one")
    table["diff"] = table.f1_mean - table.paper_f1_mean
    table["comparison"] = [_comparison(m, p) for m, p in zip(table.base_model, table.paper_f1_mean.notna())]
    ranks = {"base_model": [*models, "+".join(models)], "task_group": [*TASK_GROUPS, ALL], "sae": [*BASELINES,
             *EQUIVARIANT]}  # fmt: skip
    rank = {column: {v: i for i, v in enumerate(values)} for column, values in ranks.items()}
    table = table.sort_values(["base_model", "sae_training", *CELL, "sae"],
                              key=lambda s: s.map(rank[s.name]) if s.name in rank else s)  # fmt: skip
    return table[[*CELL, "sae", "base_model", "sae_training", "n_seeds", "f1_mean", "f1_se", "paper_f1_mean",
                  "paper_f1_se", "diff", "comparison"]].reset_index(drop=True)  # fmt: skip


def _best_per_cell(table: pd.DataFrame, cells: list[str], value: str) -> pd.DataFrame:
    """Per cell: the best equivariant SAE and the best baseline, their F1, and whether the equivariant wins."""
    sides = []
    for side, names in (("equivariant", EQUIVARIANT), ("baseline", BASELINES)):
        part = table[table.sae.isin(names)]
        best = part.loc[part.groupby(cells, sort=False)[value].idxmax(), [*cells, "sae", value]]
        n = part.groupby(cells, sort=False)["sae"].nunique().rename(f"n_{side}_saes")
        sides.append(best.rename(columns={"sae": f"best_{side}", value: f"best_{side}_f1"}).merge(n, on=cells))
    out = sides[0].merge(sides[1], on=cells)
    out["equivariant_wins"] = out.best_equivariant_f1 > out.best_baseline_f1
    return out


def best_equivariant_vs_best_baseline(t45: pd.DataFrame) -> pd.DataFrame:
    """v2's headline ("the best equivariant SAE beats the best baseline in 79 of 80 (T, group, task) cells")
    per cell of ours, beside v2's cell; `n_wins` of `n_cells` per (base_model, sae_training) is our count,
    `paper_n_wins` of `paper_n_cells` v2's, counted the same way over its whole table (79 of 80)."""
    ours = t45[t45.task_group != ALL]
    cells = ["base_model", "sae_training", *CELL]
    out = _best_per_cell(ours, cells, "f1_mean")
    paper = _best_per_cell(paper_tables45(), CELL, "f1_mean")
    out = out.merge(paper.add_prefix("paper_").rename(columns={f"paper_{c}": c for c in CELL}), on=CELL, how="left")
    out = out.astype({"paper_equivariant_wins": "boolean", "paper_n_equivariant_saes": "Int64",
                      "paper_n_baseline_saes": "Int64"})  # missing where v2 has no such cell
    count = out.groupby(["base_model", "sae_training"], sort=False)["equivariant_wins"]
    out["n_wins"], out["n_cells"] = count.transform("sum"), count.transform("size")
    out["paper_n_wins"], out["paper_n_cells"] = int(paper.equivariant_wins.sum()), len(paper)
    return out


def figure3(table: pd.DataFrame, base_model: str) -> plt.Figure:
    """v2 Figure 3 for one base model, our reading (v2's figures came without values): XGBoost F1 on
    reconstructions, the unweighted mean of the four task groups' mean F1 (each group counts once, as v2's
    tables report per group; its task counts under D4 are not stated), against T on a log2 axis, a line per SAE
    with SE error bars over seeds, a panel per (group, TopK). Thin dashed: v2's numbers averaged the same way,
    which are means over MLP, CNN and ViT, not this model's. Takes the tables45 table or the probe scores."""
    if "probe" in table.columns:
        table = tables45(table)
    ours = table[(table.base_model == base_model) & (table.task_group == ALL)]
    if ours.empty:
        raise ValueError(f"no Tables 4/5 rows for base model {base_model!r}")
    paper = _paper_cells().query("task_group == @ALL")
    colors = dict(zip([*BASELINES, *EQUIVARIANT], sns.color_palette("colorblind", len(BASELINES) + len(EQUIVARIANT))))
    saes = [s for s in colors if s in set(ours.sae)]
    rows = list(ours[["sae_training", "group"]].drop_duplicates().itertuples(index=False))
    topks, ticks = sorted(ours.topk.unique()), sorted({*ours.truncation, *paper.truncation})
    fig, axes = plt.subplots(len(rows), len(topks), figsize=(3.8 * len(topks) + 1.6, 3.2 * len(rows)), squeeze=False,
                             sharey=True)  # fmt: skip
    for (i, (training, group)), (j, topk) in itertools.product(enumerate(rows), enumerate(topks)):
        ax = axes[i, j]
        panel = ours[(ours.sae_training == training) & (ours.group == group) & (ours.topk == topk)]
        for sae in saes:
            line = panel[panel.sae == sae].sort_values("truncation")
            ax.errorbar(line.truncation, line.f1_mean, yerr=line.f1_se.fillna(0.0), color=colors[sae], marker="o",
                        ms=3, lw=1.2, capsize=2, label=sae)  # fmt: skip
            v2 = paper[(paper.group == group) & (paper.topk == topk) & (paper.sae == sae)].sort_values("truncation")
            ax.plot(v2.truncation, v2.f1_mean, color=colors[sae], ls="--", lw=0.7)
        ax.set_xscale("log", base=2)
        ax.set_xticks(ticks, [str(t) for t in ticks], minor=False)
        ax.minorticks_off()
        ax.set_title(f"{group}, TopK {topk}" + (f", {training} SAEs" if len(rows) > len(ours.group.unique()) else ""))
        ax.set_xlabel("T (latents kept per task)")
        ax.set_ylabel("XGBoost F1, mean of task groups" if j == 0 else "")
    handles = [Line2D([], [], color=colors[s], marker="o", ms=3, label=s) for s in saes]
    handles.append(Line2D([], [], color="grey", ls="--", lw=0.7, label="v2 (MLP+CNN+ViT mean)"))
    fig.legend(handles=handles, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    n = int(ours.n_seeds.min())
    fig.suptitle(f"v2 Figure 3, our reading: {base_model.upper()}, reconstructions from T latents "
                 f"(bars: SE over {n} seed{'s' * (n > 1)})", fontsize=10)  # fmt: skip
    fig.tight_layout()
    return fig
