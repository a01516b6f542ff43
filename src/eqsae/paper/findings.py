"""The findings blocks: Markdown tables generated from a claims table, never typed. The paper's block lies in
README.md, the toy model's in docs/toy.md (`DOCUMENT` names where each block lies).

`findings` gives each claim's verdict by its primary rule, its average effect over settings with the
interval in the claim's own units, the every-setting verdict beside it and the smallest difference the
design detects; `where` lists the settings in which each claim holds, fails or is not established.
"""

from __future__ import annotations

import math

import pandas as pd

from eqsae.paper.stats import AVERAGE, EVERY

BEGIN, END = "<!-- findings:begin (generated: python -m eqsae.paper.verdicts published/paper) -->", "<!-- findings:end -->"
TOY_BEGIN = "<!-- toy-findings:begin (generated: python -m eqsae.paper.verdicts published/toy published/toy_orientation) -->"
TOY_END = "<!-- toy-findings:end -->"
DOCUMENT = {BEGIN: "README.md", TOY_BEGIN: "docs/toy.md"}
"""The file, from the repository root, whose markers each block goes between."""
PRIMARY_PROBE = "xgboost"


def _g(x: float) -> str:
    return f"{x:+.3g}"


def _effect(row) -> str:
    """`+0.041 [+0.012, +0.070] (3 seeds)`; a 90% interval says so."""
    if pd.isna(row.difference):
        return "-"
    if pd.isna(row.low):
        return f"{_g(row.difference)} (1 seed)"
    level = "" if math.isclose(row.level, 0.95) else f" {row.level:.0%}"
    return f"{_g(row.difference)} [{_g(row.low)}, {_g(row.high)}]{level} ({int(row.n)} seeds)"


def _margin(row) -> str:
    if pd.isna(row.margin) or (row.test == "greater" and row.margin == 0):
        return ""
    return f" (margin {'+-' if row.test == 'equivalent' else ''}{row.margin:.3g})"


def _claim_rows(claims: pd.DataFrame) -> pd.DataFrame:
    """The summary rows of the primary probe (or no probe), one pair per claim and practice."""
    head = claims[claims.setting.isin([EVERY, AVERAGE]) & (claims.result != "ceiling")]
    return head[head.probe.isna() | (head.probe == PRIMARY_PROBE)]


def findings(claims: pd.DataFrame) -> str:
    """A row per claim and practice: verdict (primary rule), average effect [95% interval], every setting."""
    lines = ["| claim | practice | verdict | average effect [95% CI] (n) | every setting | detectable at 80% power "
             "| best probe, picked on other seeds |", "|---|---|---|---|---|---|---|"]
    for (claim, practice), rows in _claim_rows(claims).groupby(["claim", "sae_training"], sort=False):
        rows = rows.set_index("setting")
        first = rows.iloc[0]
        primary = rows[rows.primary.astype(bool)].index[0]
        verdict = f"**{rows.loc[primary, 'verdict']}** ({primary}){_margin(rows.iloc[0])}"
        average = rows.loc[AVERAGE] if AVERAGE in rows.index else None
        every = f"{rows.loc[EVERY, 'verdict']}: {rows.loc[EVERY, 'numbers']}"
        effect = "-" if average is None else f"{_effect(average)} {first.units}"
        power = "-" if average is None or pd.isna(average.detectable) else f"{average.detectable:.3g}"
        lines.append(f"| {first.result}: {first.statement} | {practice} | {verdict} | {effect} | {every} | {power} "
                     f"| {_secondary(claims, claim, practice)} |")  # fmt: skip
    for row in claims[claims.result == "ceiling"].itertuples():
        lines.append(f"| ceiling: {row.rule} | - | - | {row.numbers} | - | - | - |")
    return "\n".join(lines) + "\n"


def _secondary(claims: pd.DataFrame, claim: str, practice: str) -> str:
    rows = claims[(claims.claim == claim) & (claims.sae_training == practice) & (claims.probe.notna())
                  & (claims.probe != PRIMARY_PROBE) & (claims.primary.fillna(False).astype(bool))]  # fmt: skip
    return "-" if rows.empty else str(rows.verdict.iloc[0])


def where(claims: pd.DataFrame) -> str:
    """Per claim and practice (primary probe): the settings in which it holds, fails, is not established."""
    settings = claims[~claims.setting.isin([EVERY, AVERAGE]) & (claims.result != "ceiling")]
    return _where(settings[settings.probe.isna() | (settings.probe == PRIMARY_PROBE)], "sae_training", "practice")


def _where(settings: pd.DataFrame, context: str, title: str) -> str:
    """A row per (claim, context): the settings, with their differences, by verdict."""
    lines = [f"| claim | {title} | holds in | fails in | not established in |", "|---|---|---|---|---|"]
    for (claim, where), rows in settings.groupby(["claim", context], sort=False):
        cells = [", ".join(f"{r.setting} ({_g(r.difference)})" for r in rows[rows.verdict == v].itertuples()) or "-"
                 for v in ("holds", "fails", "not established")]  # fmt: skip
        lines.append(f"| {claim} | {where} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def section(claims: pd.DataFrame) -> str:
    """What goes between the paper's findings markers (in README.md)."""
    return f"{findings(claims)}\nWhere each claim holds and where it does not (difference per setting):\n\n{where(claims)}"


TOY_METRICS = ("reconstruction_mse", "reconstruction_fvu", "feature_recovery", "detection_top1", "detection_top4")


def _mean_se(row, metric: str) -> str:
    """`mean ± SE`; `-` where the metric was not recorded (FVU joined the toy tables later)."""
    mean = getattr(row, f"{metric}_mean", float("nan"))
    return "-" if pd.isna(mean) else f"{mean:.3f} ± {getattr(row, metric + '_se'):.3f}"


def toy_numbers(summary: pd.DataFrame) -> str:
    """Mean +- SE over seeds per (representatives, |G|, N, SAE type); the equivariant SAE with the fitted M."""
    rows = summary[(summary.sae != "equivariant_canonical") | (summary.transformation == "fitted")]
    rows = rows[~rows.sae.isin(["equivariant_latent", "equivariant_output"])]
    lines = ["| representatives, \\|G\\| | N | SAE | MSE | FVU | recovery | detection top-1 | top-4 | seeds |",
             "|---|--:|---|---|---|---|---|---|--:|"]  # fmt: skip
    for r in rows.sort_values(["canonical", "order", "n_features"], kind="stable").itertuples():
        cells = [_mean_se(r, m) for m in TOY_METRICS]
        lines.append(f"| {r.canonical}, {r.order} | {r.n_features} | {r.sae} | {' | '.join(cells)} | {r.n_seeds} |")
    return "\n".join(lines) + "\n"


def toy_section(claims: pd.DataFrame, summary: pd.DataFrame | None = None) -> str:
    """The toy model's claims (a row per claim, kind of representatives and orbit size), where each holds,
    and the numbers behind them when the summary is given."""
    numbers = "" if summary is None else f"\nThe numbers (mean ± SE over seeds):\n\n{toy_numbers(summary)}"
    return _toy_claims(claims) + numbers


def _toy_claims(claims: pd.DataFrame) -> str:
    lines = ["| claim | representatives, \\|G\\| | verdict | average effect [95% CI] (n) | every setting | "
             "detectable at 80% power |", "|---|---|---|---|---|---|"]  # fmt: skip
    head = claims[claims.setting.isin([EVERY, AVERAGE])]
    for (_claim, canonical, order), rows in head.groupby(["claim", "canonical", "order"], sort=False):
        rows = rows.set_index("setting")
        first, primary = rows.iloc[0], rows[rows.primary.astype(bool)].index[0]
        average = rows.loc[AVERAGE]
        power = "-" if pd.isna(average.detectable) else f"{average.detectable:.3g}"
        lines.append(f"| {first.statement} | {canonical}, {order} | **{rows.loc[primary, 'verdict']}** ({primary}) | "
                     f"{_effect(average)} {first.units} | {rows.loc[EVERY, 'verdict']}: "
                     f"{rows.loc[EVERY, 'numbers']} | {power} |")  # fmt: skip
    settings = claims[~claims.setting.isin([EVERY, AVERAGE])]
    where = _where(settings, "canonical", "representatives")
    return "\n".join(lines) + f"\n\nWhere each holds and where it does not (difference per setting):\n\n{where}"


def splice(readme: str, text: str, begin: str = BEGIN, end: str = END) -> str:
    """Put `text` between a document's findings markers (`begin`, `end`)."""
    if readme.count(begin) != 1 or readme.count(end) != 1 or readme.index(begin) > readme.index(end):
        raise ValueError(f"the document needs one {begin!r} line and one {end!r} line after it")
    head, rest = readme.split(begin)
    _, tail = rest.split(end)
    return f"{head}{begin}\n{text}{end}{tail}"



def toy_size_banner(banner: str) -> str:
    """The line a toy-size run's findings open with (nothing for a paper-size run; `banner` is the workflow's,
    eqsae.pipeline.validate.toy_size's reasons included): its verdicts are the pipeline's output at sizes that cannot
    reproduce the paper, and must not be read as a failed reproduction."""
    return f"> **{banner}**\n\n" if banner else ""
