"""The paper's claims as rules over the per-seed tables, each decided by eqsae.paper.stats, per SAE training practice.

Every verdict comes from a rule written here, applied to the generated tables; none is typed by hand. A claim
names its comparators as the paper's sentence does (e.g. "outperforms regular and wide SAEs": the equivariant
SAE against the regular SAE and against the wide one, each a setting) and is compared in settings (base
model, K, T). In each setting the comparison reduces to one difference per seed, and the seed is the
replicate (eqsae.paper.stats). A claim gives two summary rows: "every setting" (intersection-union, Holm for a
reversal) and "average over settings" (per seed the mean over its settings, then the same test); the
paper's wording picks the primary one ("generally", "across all tasks", "tends to": the average; otherwise
every setting). A claim that needs a setting the config did not run (e.g. K = 32) is "not run".

Probes: XGBoost is primary, as in the paper's Figure 3; the best of the three probes is a secondary reading,
each task's probe picked by its F1 on the other seeds (other images and other test splits), so that no
seed's test split picks its own probe.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from eqsae.io import NonFiniteError, check_finite
from eqsae.paper.stats import (
    AVERAGE,
    EQUIVALENT,
    EVERY,
    GREATER,
    Comparison,
    average,
    counts,
    equivalent,
    every,
    greater,
    per_seed,  # fmt: skip
    standard_error,
)
from eqsae.paper.tables import best_on_other_seeds, best_per_task, xgboost_per_task
from eqsae.probing.probe import SCORES_MAY_BE_MISSING, check_missing_f1, settings_only
from eqsae.sources.shapes import N_POSITIONS

EQUIVARIANT_TASKS = ("SO", "SP", "SPO")
R2_FLOOR = 0.98
"""The paper's conclusion: "a single matrix can explain more than 98% of the variance"."""
MATCH_K = 32
"""The paper: the two-layer SAE matches the equivariant one "only at low sparsity (K = 32)"."""
NOT_RUN, NO_COMMON_SEED = "not run", "no seed in every setting"
NOTHING = "nothing to compare: not in the grid, or (frontier) no overlap of spliced losses"
PROBES = {"xgboost": xgboost_per_task, "best_on_other_seeds": best_on_other_seeds}
"""Per-task F1 of the primary probe (Figure 3's XGBoost) and of the secondary reading."""


@dataclass(frozen=True)
class ClaimSettings:
    """The margins and readings the claims need where the paper gives no number (config key `claims`)."""

    equivalence_margin: float = 0.02
    """F1: a "match" is a difference within +-this."""
    loss_ratio_margin: float = 1.25
    """Spliced loss: a "match" is a ratio within [1 / this, this] (the bioequivalence convention)."""
    drop_margin: float = 0.0
    """F1: how far below S the equivariant latents must fall on SO, SP, SPO to count as a drop."""
    redundancy_ceiling: float = 0.05
    """Share of live latents with a turned copy below which a dictionary "does not" spend latents on turns."""
    small_topk: tuple[int, ...] = (8, 16)
    """The paper's "small K values" at which the equivariant SAE matches the wide SAE's reconstruction."""

    @classmethod
    def from_config(cls, section: dict | None) -> ClaimSettings:
        section = dict(section or {})
        if "small_topk" in section:
            section["small_topk"] = tuple(int(k) for k in section["small_topk"])
        return cls(**section)


@dataclass(frozen=True)
class Setting:
    """One comparison of a claim: where, its numbers, the difference per seed and its comparison."""

    name: str
    numbers: str
    per_seed: pd.Series
    comparison: Comparison


@dataclass(frozen=True)
class Claim:
    id: str
    result: str
    statement: str
    """The paper's claim, in its words where possible."""
    rule: str
    """What is compared against what, in which settings."""
    units: str
    primary: str
    """EVERY or AVERAGE: which summary decides the claim, by the paper's wording."""
    settings: Callable[[dict, str, ClaimSettings], Iterator[tuple[str, str, pd.DataFrame]]]
    """(name, numbers, pairs with columns seed, d) per setting."""
    test: str = GREATER
    margin: Callable[[ClaimSettings], float] = field(default=lambda s: 0.0)
    uses_probes: bool = False


def mean_se(values: pd.Series) -> str:
    """`0.958 +- 0.004` over seeds."""
    se = standard_error(values)
    return f"{values.mean():.3g}" + ("" if math.isnan(se) else f" +- {se:.2g}")


def _label(model, k=None, t=None, extra: str = "") -> str:
    parts = [str(model), *([f"K={int(k)}"] if k is not None else []), *([f"T={int(t)}"] if t is not None else [])]
    return " ".join(parts + ([extra] if extra else []))


def paired(a: pd.Series, b: pd.Series) -> pd.DataFrame:
    """Rows (seed, d = a - b) where both are present; a and b are indexed with a `seed` level."""
    d = (a - b).dropna().rename("d").reset_index()
    return d[["seed", "d"]]


def _tasks(tables, practice: str, representation: str) -> pd.DataFrame:
    """Per-task F1 per (model, K, T, group, task, seed) of every SAE of a practice, one column per SAE."""
    f1 = tables["f1"]
    rows = f1[(f1.sae_training == practice) & (f1.representation == representation)]
    return rows.pivot_table(index=["base_model", "k", "truncation", "task_group", "task", "seed"], columns="sae",
                            values="f1")  # fmt: skip


def _setups(frame: pd.DataFrame, ks=None) -> Iterator[tuple[tuple, pd.DataFrame]]:
    """(model, K, T), rows, in sorted order; only K in `ks` when given."""
    for key, rows in frame.groupby(level=["base_model", "k", "truncation"], sort=True):
        if ks is None or key[1] in ks:
            yield key, rows


def _versus(frame: pd.DataFrame, sae: str, others, group: str | None = None, ks=None):
    """sae - other on the per-task F1 of every task (or of one group), per setup and comparator."""
    if sae not in frame:
        return
    for (model, k, t), rows in _setups(frame, ks):
        part = rows if group is None else rows[rows.index.get_level_values("task_group") == group]
        for other in (o for o in others if o in frame and part[o].notna().any()):
            numbers = f"{sae} {part[sae].mean():.3f} vs {other} {part[other].mean():.3f}"
            yield _label(model, k, t, f"vs {other}"), numbers, paired(part[sae], part[other])


def _m_means(tables) -> Iterator[tuple[str, pd.DataFrame]]:
    """RESULT 1's per-seed rows of the mean over the group elements, per base model."""
    mean = tables["result1"][tables["result1"].element.astype(str) == "mean"]
    for model, rows in mean.groupby("base_model", sort=True):
        yield str(model), rows


def _m_floor(tables, practice, s):
    for model, rows in _m_means(tables):
        yield model, f"learned {mean_se(rows.r2_learned)}", rows.assign(d=rows.r2_learned - R2_FLOOR)[["seed", "d"]]


def _m_identity(tables, practice, s):
    for model, rows in _m_means(tables):
        numbers = f"learned {mean_se(rows.r2_learned)}, identity {mean_se(rows.r2_identity)}"
        yield model, numbers, rows.assign(d=rows.r2_learned - rows.r2_identity)[["seed", "d"]]


def _reconstructions_best(tables, practice, s):
    yield from _versus(_tasks(tables, practice, "reconstructions"), "equivariant", ("regular", "wide"))


def _latents_lead_on_s(tables, practice, s):
    yield from _versus(_tasks(tables, practice, "latents"), "equivariant", ("regular", "wide", "twolayer"), "S")


def _latents_drop(tables, practice, s):
    frame = _tasks(tables, practice, "latents")
    if "equivariant" not in frame:
        return
    by_group = frame["equivariant"].groupby(level=["base_model", "k", "truncation", "task_group", "seed"]).mean()
    by_group = by_group.unstack("task_group")
    if "S" not in by_group:
        return
    for (model, k, t), rows in by_group.groupby(level=["base_model", "k", "truncation"], sort=True):
        for group in (g for g in EQUIVARIANT_TASKS if g in rows):
            numbers = f"S {mean_se(rows['S'])}, {group} {mean_se(rows[group])}"
            yield _label(model, k, t, group), numbers, paired(rows["S"], rows[group])


def _twolayer_latents(tables, practice, s):
    yield from _versus(_tasks(tables, practice, "latents"), "twolayer", ("regular", "wide"))


def _twolayer_gain_grows(tables, practice, s):
    """(twolayer - other) at the largest K minus at the smallest, per seed, over all tasks."""
    frame = _tasks(tables, practice, "latents")
    ks = sorted(set(frame.index.get_level_values("k"))) if len(frame) else []
    if "twolayer" not in frame or len(ks) < 2:
        return
    for other in (o for o in ("regular", "wide") if o in frame):
        gain = (frame["twolayer"] - frame[other]).groupby(level=["base_model", "truncation", "k", "seed"]).mean()
        for (model, t), rows in gain.groupby(level=["base_model", "truncation"], sort=True):
            high, low = rows.xs(ks[-1], level="k"), rows.xs(ks[0], level="k")
            numbers = f"gain over {other} at K={int(ks[-1])} {mean_se(high)}, at K={int(ks[0])} {mean_se(low)}"
            yield _label(model, None, t, f"vs {other}"), numbers, paired(high, low)


def _beats_twolayer_below(tables, practice, s):
    frame = _tasks(tables, practice, "reconstructions")
    if MATCH_K not in set(frame.index.get_level_values("k")):
        return
    below = {k for k in frame.index.get_level_values("k") if k < MATCH_K}
    yield from _versus(frame, "equivariant", ("twolayer",), ks=below)


def _twolayer_matches(tables, practice, s):
    yield from _versus(_tasks(tables, practice, "reconstructions"), "equivariant", ("twolayer",), ks={MATCH_K})


def _sae_metric(tables, practice: str, metric: str) -> pd.DataFrame:
    m = tables["sae"]
    return m[m.sae_training == practice].pivot_table(index=["base_model", "k", "seed"], columns="variant",
                                                     values=metric)  # fmt: skip


def _matches_wide(tables, practice, s):
    loss = _sae_metric(tables, practice, "spliced_loss")
    if not {"equivariant", "wide"} <= set(loss):
        return
    for (model, k), rows in loss.groupby(level=["base_model", "k"], sort=True):
        if k in s.small_topk:
            numbers = f"spliced loss equivariant {mean_se(rows['equivariant'])}, wide {mean_se(rows['wide'])}"
            ratio = np.log(rows["equivariant"]) - np.log(rows["wide"])
            yield _label(model, k), numbers, ratio.rename("d").reset_index()[["seed", "d"]]


def _regular_sparser(tables, practice, s):
    """On the L1 / spliced-loss frontier: at the equivariant SAE's spliced loss, its L1 minus the L1 a
    regular SAE has there (interpolated across K, linear in log loss, per seed; never extrapolated)."""
    m = tables["sae"][tables["sae"].sae_training == practice]
    if "equivariant" not in set(m.variant):
        return
    for (model, k), eq in m[m.variant == "equivariant"].groupby(["base_model", "k"], sort=True):
        for variant in (v for v in ("regular", "wide", "twolayer") if v in set(m.variant)):
            curve = m[(m.base_model == model) & (m.variant == variant)]
            d = [_frontier_gap(row, curve[curve.seed == row.seed]) for row in eq.itertuples()]
            if len(d) and all(np.isfinite(d)):
                pairs = pd.DataFrame(dict(seed=eq.seed.to_numpy(), d=d))
                numbers = f"L1 equivariant {mean_se(eq.l1)} at loss {mean_se(eq.spliced_loss)}, {variant} there {mean_se(eq.l1 - d)}"
                yield _label(model, k, None, f"vs {variant}"), numbers, pairs


def _frontier_gap(row, curve: pd.DataFrame) -> float:
    """row.l1 minus the curve's L1 at row's spliced loss; NaN outside the curve's range of losses."""
    if len(curve) < 2:
        return math.nan
    x = np.log(curve.spliced_loss.to_numpy())
    order = np.argsort(x)
    at = math.log(row.spliced_loss)
    if not x[order[0]] <= at <= x[order[-1]]:
        return math.nan
    return float(row.l1 - np.interp(at, x[order], curve.l1.to_numpy()[order]))


def _less_sensitive(tables, practice, s):
    l1 = _sae_metric(tables, practice, "l1")
    if not {"equivariant", "twolayer"} <= set(l1) or len(set(l1.index.get_level_values("k"))) < 2:
        return
    spread = l1.groupby(level=["base_model", "seed"]).agg(lambda v: v.max() - v.min())
    for model, rows in spread.groupby(level="base_model", sort=True):
        numbers = f"range of L1 over K: twolayer {mean_se(rows['twolayer'])}, equivariant {mean_se(rows['equivariant'])}"
        yield str(model), numbers, paired(rows["twolayer"].droplevel(0), rows["equivariant"].droplevel(0))


def _reconstructs_better(tables, practice, s):
    loss = _sae_metric(tables, practice, "spliced_loss")
    if not {"equivariant", "invariant"} <= set(loss):
        return
    for (model, k), rows in loss.groupby(level=["base_model", "k"], sort=True):
        numbers = f"spliced loss equivariant {mean_se(rows['equivariant'])}, invariant {mean_se(rows['invariant'])}"
        yield _label(model, k), numbers, paired(rows["invariant"], rows["equivariant"])


def _redundancy(tables, practice) -> pd.DataFrame:
    if "atlas" not in tables:
        return pd.DataFrame()
    atlas = tables["atlas"]
    return atlas[atlas.sae_training == practice].pivot_table(index=["base_model", "k", "seed"], columns="variant",
                                                             values="redundancy")  # fmt: skip


def _more_turned_copies(tables, practice, s):
    share = _redundancy(tables, practice)
    if not {"regular", "equivariant"} <= set(share):
        return
    for (model, k), rows in share.groupby(level=["base_model", "k"], sort=True):
        numbers = f"redundancy regular {mean_se(rows['regular'])}, equivariant {mean_se(rows['equivariant'])}"
        yield _label(model, k), numbers, paired(rows["regular"], rows["equivariant"])


def _no_turned_copies(tables, practice, s):
    share = _redundancy(tables, practice)
    if "equivariant" not in share:
        return
    for (model, k), rows in share.groupby(level=["base_model", "k"], sort=True):
        ceiling = (s.redundancy_ceiling - rows["equivariant"]).rename("d").reset_index()
        yield _label(model, k), f"redundancy equivariant {mean_se(rows['equivariant'])}", ceiling[["seed", "d"]]


_EQ = dict(test=EQUIVALENT)
CLAIMS = [
    Claim("M_above_98", "RESULT 1", "A single matrix M explains more than 98% of the variance in how the activations "
          "transform (R^2 0.987 +- 0.001)", f"R^2 of the learned M (mean over p = 1..3) - {R2_FLOOR}, per base model",
          "R^2", EVERY, _m_floor),
    Claim("M_beats_identity", "RESULT 1", "The learned M is far above the naive baseline M = I (R^2 0.05 CNN, 0.49 MLP)",
          "R^2 of the learned M - R^2 of M = I, per base model", "R^2", EVERY, _m_identity),
    Claim("equivariant_reconstructions_best", "RESULT 2", "Across all tasks and setups, the equivariant SAE "
          "outperforms regular and wide SAEs when probes are trained over the truncated reconstructions",
          "reconstruction F1 over the 180 tasks, equivariant - regular and equivariant - wide, per (model, K, T)",
          "F1", AVERAGE, _reconstructions_best, uses_probes=True),
    Claim("equivariant_latents_lead_on_S", "RESULT 2", "Probing over the latents, the equivariant SAE performs the "
          "best on the S tasks", "latent F1 on the 8 S tasks, equivariant - regular, - wide and - two-layer, per "
          "(model, K, T)", "F1", EVERY, _latents_lead_on_s, uses_probes=True),
    Claim("equivariant_latents_drop", "RESULT 2", "Its latent probes drop for the equivariant tasks (SO, SP, SPO)",
          "equivariant latent F1 on S - on each of SO, SP, SPO (each group's mean over its tasks), per (model, K, "
          "T), above claims.drop_margin", "F1", EVERY, _latents_drop, margin=lambda s: s.drop_margin,
          uses_probes=True),
    Claim("twolayer_latents_beat_one_layer", "RESULT 2", "The regular SAE with the two-layer encoder outperforms "
          "the SAEs with one-layer encoders (latent probes)", "latent F1 over the 180 tasks, two-layer - regular and "
          "two-layer - wide, per (model, K, T)", "F1", EVERY, _twolayer_latents, uses_probes=True),
    Claim("twolayer_gain_grows_with_k", "RESULT 2", "... especially with higher K", "the two-layer SAE's latent "
          "F1 gain over regular (and over wide) at the largest K - at the smallest K, per (model, T)", "F1",
          AVERAGE, _twolayer_gain_grows, uses_probes=True),
    Claim("equivariant_beats_twolayer_below_32", "RESULT 2", "The two-layer SAE does not match the equivariant "
          f"SAE's reconstruction probes below K = {MATCH_K}", "reconstruction F1 over the 180 tasks, equivariant - "
          f"two-layer, per (model, K < {MATCH_K}, T)", "F1", EVERY, _beats_twolayer_below, uses_probes=True),
    Claim("twolayer_matches_at_32", "RESULT 2", "... and matches them at low sparsity (K = 32)", "reconstruction "
          f"F1 over the 180 tasks, equivariant - two-layer within +-claims.equivalence_margin, per (model, T) at K = "
          f"{MATCH_K}", "F1", EVERY, _twolayer_matches, margin=lambda s: s.equivalence_margin, uses_probes=True, **_EQ),
    Claim("equivariant_matches_wide_at_small_k", "RESULT 3", "For small K values the equivariant SAE matches the "
          "wide SAE's reconstruction performance", "log(spliced loss equivariant / wide) within +-log("
          "claims.loss_ratio_margin), per (model, K in claims.small_topk)", "log loss ratio", EVERY, _matches_wide,
          margin=lambda s: math.log(s.loss_ratio_margin), **_EQ),
    Claim("regular_sparser", "RESULT 3", "Regular SAEs generally have sparser latents (on the L1 / spliced-loss "
          "frontier of Figure 4)", "mean L1 of the equivariant SAE - that of the regular, wide and two-layer SAEs "
          "at the same spliced loss (their L1 interpolated across K, linear in log loss, per seed)", "mean L1",
          AVERAGE, _regular_sparser),
    Claim("invariance_less_sensitive_to_k", "RESULT 3", "The invariance objective tends to make the models less "
          "sensitive to K: a smaller range of L1 than the two-layer regular SAE's", "range of mean L1 over K, "
          "two-layer - equivariant, per base model", "mean L1", AVERAGE, _less_sensitive),
    Claim("equivariant_reconstructs_better", "RESULT 3", "Reconstruction improves from the invariant to the "
          "equivariant SAE (the effect of learning M)", "spliced loss invariant - equivariant, per (model, K)",
          "spliced loss", EVERY, _reconstructs_better),
    Claim("regular_more_turned_copies", "ATLAS", "A regular SAE spends latents on turned copies of a feature "
          "(the paper's motivation, measured by the feature atlas)", "redundancy (share of live latents with a "
          "turned copy cos(M^p d_i, d_j) >= atlas.partner) regular - equivariant, per (model, K)",
          "share of live latents", EVERY, _more_turned_copies),
    Claim("equivariant_no_turned_copies", "ATLAS", "The equivariant SAE does not spend latents on turned copies",
          "claims.redundancy_ceiling - the equivariant SAE's redundancy, per (model, K)", "share of live latents",
          EVERY, _no_turned_copies),
]  # fmt: skip


# The numbers each input table's rules decide on; `k` and `truncation` are empty on the base-activation rows.
DECIDED = {"result1": ("r2_learned", "r2_identity"), "sae": ("k", "l1", "spliced_loss"),
           "probes": ("k", "truncation", "f1"), "atlas": ("k", "redundancy")}  # fmt: skip
MAY_BE_MISSING = {"probes": SCORES_MAY_BE_MISSING}
COLUMNS = ["claim", "result", "statement", "rule", "units", "sae_training", "probe", "setting", "primary", "test",
           "margin", "verdict", "difference", "se", "n", "df", "low", "high", "level", "p", "detectable", "numbers"]  # fmt: skip
MAY_BE_EMPTY = ("probe", "primary", "test", "margin", "difference", "se", "n", "df", "low", "high", "level", "p",
                "detectable")  # fmt: skip
"""Empty where nothing was compared (not run, the ceiling rows) or where one seed gives no interval."""


def check_inputs(tables: dict[str, pd.DataFrame]) -> None:
    """A NaN compares false with everything, so a rule fed one would decide a claim on nothing: refuse it."""
    for name, columns in DECIDED.items():
        if name in tables:
            check_finite(tables[name], name, MAY_BE_MISSING.get(name, ()), columns=columns)
    if "probes" in tables:  # a task whose test split holds no positive has no F1; it drops out of its pairs
        check_missing_f1(tables["probes"], "probes")


def compare(claim: Claim, s: ClaimSettings, values) -> Comparison:
    test = equivalent if claim.test == EQUIVALENT else greater
    return test(values, claim.margin(s))


def decide(claim: Claim, tables: dict, practice: str, s: ClaimSettings) -> list[dict]:
    """The claim's rows for one practice and probe: every setting, average over settings, then each setting."""
    settings = []
    for name, numbers, pairs in claim.settings(tables, practice, s):
        if pairs.empty:  # no seed has both sides
            continue
        seeds = per_seed(pairs)
        settings.append(Setting(name, numbers, seeds, compare(claim, s, seeds)))
    if not settings:
        return [dict(setting=EVERY, primary=True, verdict=NOT_RUN, numbers=NOTHING)]
    comparisons = [x.comparison for x in settings]
    common = average([x.per_seed for x in settings])
    mean = _numbers(compare(claim, s, common)) if len(common) else dict(verdict=NO_COMMON_SEED)
    rows = [dict(setting=EVERY, primary=claim.primary == EVERY, verdict=every(comparisons),
                 numbers=counts([c.verdict for c in comparisons]), test=claim.test, margin=claim.margin(s)),
            dict(setting=AVERAGE, primary=claim.primary == AVERAGE, numbers=f"over {len(settings)} settings",
                 **mean)]  # fmt: skip
    return rows + [dict(setting=x.name, numbers=x.numbers, **_numbers(x.comparison)) for x in settings]


def _numbers(c: Comparison) -> dict:
    return dict(test=c.test, margin=c.margin, verdict=c.verdict, difference=c.difference, se=c.se, n=c.n,
                df=c.n - 1 if c.n > 1 else math.nan, low=c.low, high=c.high, level=c.level, p=c.p,
                detectable=c.detectable)  # fmt: skip


def claims_table(tables: dict[str, pd.DataFrame], practices: list[str], settings: ClaimSettings | None = None
                 ) -> pd.DataFrame:  # fmt: skip
    """tables: result1 (RESULT 1 per seed), sae (sae_metrics per seed), probes (probe_scores, every seed),
    optionally atlas (the atlas census per seed; without it the atlas claims are "not run").

    Per claim, practice and (for probe claims) probe: the rows of `decide`. Non-finite inputs raise
    NonFiniteError naming the table and column."""
    check_inputs(tables)
    s = settings or ClaimSettings()
    saes = settings_only(tables["probes"][tables["probes"].sae != "base"])
    f1 = {probe: pick(saes) for probe, pick in PROBES.items()}  # once, not per claim and practice
    rows = []
    for claim in CLAIMS:
        head = dict(claim=claim.id, result=claim.result, statement=claim.statement, rule=claim.rule, units=claim.units)
        for practice in practices:
            for probe in f1 if claim.uses_probes else [None]:
                inputs = {**tables, "f1": f1[probe]} if probe else tables
                for row in decide(claim, inputs, practice, s):
                    rows.append({**head, "sae_training": practice, "probe": probe, **row})
    return pd.DataFrame(rows, columns=COLUMNS).astype({"n": "Int64", "df": "Int64"})


def ceiling_rows(scores: pd.DataFrame, code_r2: pd.DataFrame) -> pd.DataFrame:
    """How much headroom the tasks leave: base activations' probe F1 over all tasks, and how linear the label
    code is; code_r2 has columns seed, base_model, r2."""
    check_inputs({"probes": scores})
    bad = code_r2[~np.isfinite(code_r2.r2)]
    if len(bad):
        raise NonFiniteError(f"code_r2: the label code R^2 is {bad.r2.iloc[0]} for {bad.base_model.iloc[0]}")
    # 1 - R^2 as its own column keeps its digits through a CSV (R^2 = 1 - 3e-14 prints as 1).
    unexplained = code_r2["unexplained"] if "unexplained" in code_r2 else 1 - code_r2["r2"]
    unexplained = unexplained.set_axis(code_r2.base_model)
    best = best_per_task(scores[scores.sae == "base"])
    base = best.groupby(["base_model", "seed"])["f1_best"].mean()
    numbers = {
        "ceiling_base_probe": ("F1 of the best probe on the base activations, all 180 tasks, mean +- SE over seeds",
                               ", ".join(f"{m}: {mean_se(v)}" for m, v in base.groupby(level="base_model"))),
        "ceiling_label_code": ("R^2 of a linear regression from the (position, shape, orientation) one-hots "
                               "to the activations, lowest over seeds",
                               ", ".join(f"{m}: 1 - {v.max():.1e}" for m, v in unexplained.groupby("base_model"))),
    }  # fmt: skip
    return pd.DataFrame([
        dict(claim=claim, result="ceiling", statement="headroom of the probing tasks", rule=rule, sae_training="-",
             setting=EVERY, verdict="-", numbers=value)
        for claim, (rule, value) in numbers.items()
    ], columns=COLUMNS)  # fmt: skip


def label_code_r2(acts: np.ndarray, shapes: np.ndarray, orientations: np.ndarray, n_turns: int = 4) -> float:
    """Ceiling check: pooled R^2 of a linear regression from the (position, shape, orientation) one-hots to the
    activations. Near 1 means the activation is an additive code of the labels, so every probe task is easy."""
    x = acts.reshape(-1, acts.shape[-1]).astype(np.float64)
    codes = (shapes.astype(np.int64) * n_turns + orientations).reshape(-1, N_POSITIONS)
    n_codes = int(codes.max()) + 1
    onehot = np.zeros((len(x), N_POSITIONS * n_codes + 1))
    onehot[:, -1] = 1.0
    for q in range(N_POSITIONS):
        onehot[np.arange(len(x)), q * n_codes + codes[:, q]] = 1.0
    coef, *_ = np.linalg.lstsq(onehot, x, rcond=None)
    residual = x - onehot @ coef
    return float(1 - residual.var(0).sum() / x.var(0).sum())


TABLES = {"result1": "result1_m_fit_seeds.csv", "sae": "sae_metrics_seeds.csv", "probes": "probe_scores.parquet",
          "atlas": "atlas_census_seeds.csv", "code_r2": "label_code_r2_seeds.csv"}  # fmt: skip
"""The per-seed tables the claims are decided from, as named under results/<run>/tables/ and published/."""
TOY_SCORES = "toy_scores.csv"
"""The toy model's per-seed scores: in published/toy/, and in toy/ under a toy run's tables/."""


def decide_folder(folder, settings: ClaimSettings | None = None) -> pd.DataFrame:
    """Every claim and the ceiling rows from a folder of per-seed tables (a run's tables/ or published/)."""
    from pathlib import Path

    from eqsae.io import read_table

    tables = {name: read_table(Path(folder) / file) for name, file in TABLES.items() if (Path(folder) / file).exists()}
    missing = [TABLES[name] for name in ("result1", "sae", "probes", "code_r2") if name not in tables]
    if missing:
        raise FileNotFoundError(f"{folder}: no {', '.join(missing)}")
    practices = sorted(set(tables["sae"].sae_training.dropna()))
    code_r2 = tables.pop("code_r2")
    return pd.concat([claims_table(tables, practices, settings), ceiling_rows(tables["probes"], code_r2)],
                     ignore_index=True)  # fmt: skip
