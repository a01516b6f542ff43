"""The paper's claims as rules over the per-seed tables, decided beyond noise, per SAE training practice.

Every verdict comes from a rule written here, applied to the generated tables; none is typed by hand. Each
claim compares two things in one or more settings (model, K, T, task group). In each setting the paired
differences (by seed, and by task where per-task F1 is compared) give a mean, its standard error and n; the
comparison holds beyond NOISE_SES standard errors, fails beyond them the other way, or is within noise
(eqsae.stats.compare). A claim made "in every setting" holds where every setting holds and fails where any
setting fails. A claim that needs a setting the config did not run (e.g. K = 32) is "not run".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from eqsae.io import NonFiniteError, check_finite
from eqsae.shapes import N_POSITIONS
from eqsae.stats import FAILS, HOLDS, NOISE_SES, WITHIN_NOISE, Comparison, compare, counts, overall, standard_error
from eqsae.tables import best_per_task

EQUIVARIANT_TASKS = ("SO", "SP", "SPO")
GROUPS = ("S", "SO", "SP", "SPO", "all")
DROP = 0.1
"""How far below S the equivariant latents' F1 on SO, SP and SPO must fall to count as a drop."""
R2_FLOOR = 0.98
REDUNDANCY_CEILING = 0.05
"""Share of live latents with a turned copy below which a dictionary "does not" spend latents on orientations."""
NOT_RUN = "not run"


@dataclass(frozen=True)
class Setting:
    """One comparison of a claim: where, the paired difference, the claim's verdict there, the numbers."""

    name: str
    comparison: Comparison
    verdict: str
    numbers: str
    pairs: pd.DataFrame
    """The paired differences (`seed`, `d`), for the claim's difference pooled over settings."""


@dataclass(frozen=True)
class Claim:
    id: str
    result: str
    statement: str
    """The paper's claim, in its words where possible."""
    rule: str
    """What is compared in which settings; the verdict follows eqsae.stats.compare and overall."""
    settings: Callable[[dict[str, pd.DataFrame], str], Iterator[Setting]]


def _ms(values: pd.Series) -> str:
    """`0.958 +- 0.004` over seeds."""
    se = standard_error(values)
    return f"{values.mean():.3g}" + ("" if math.isnan(se) else f" +- {se:.2g}")


def _setting(name: str, pairs: pd.DataFrame, numbers: str, verdict_of: Callable[[str], str] = str) -> Setting:
    comparison = compare(pairs["d"])
    return Setting(name, comparison, verdict_of(comparison.verdict), numbers, pairs[["seed", "d"]])


def _label(model, k=None, t=None, group=None) -> str:
    parts = [str(model), *([f"K={int(k)}"] if k is not None else []), *([f"T={int(t)}"] if t is not None else [])]
    return " ".join(parts + ([group] if group else []))


def _tasks(tables, practice: str, representation: str) -> pd.DataFrame:
    """Best-probe F1 per (seed, model, K, T, task) of every SAE of a practice, one column per SAE."""
    best = tables["best"]
    rows = best[(best.sae_training == practice) & (best.representation == representation)]
    return rows.pivot_table(index=["base_model", "k", "truncation", "task_group", "task", "seed"], columns="sae",
                            values="f1_best")  # fmt: skip


def _groups(frame: pd.DataFrame, groups=GROUPS) -> Iterator[tuple[tuple, str, pd.DataFrame]]:
    """(model, K, T), group, rows: each of `groups`, where "all" is every task together."""
    for key, rows in frame.groupby(level=["base_model", "k", "truncation"], sort=True):
        for group in groups:
            part = rows if group == "all" else rows[rows.index.get_level_values("task_group") == group]
            if len(part):
                yield key, group, part


def _versus_best_other(part: pd.DataFrame, sae: str, exclude: tuple[str, ...]) -> tuple[str, pd.DataFrame]:
    """The strongest other SAE in this setting (highest mean F1) and the paired differences sae - it."""
    others = [c for c in part.columns if c not in (sae, *exclude) and part[c].notna().all()]
    best = max(others, key=lambda c: part[c].mean())
    d = (part[sae] - part[best]).rename("d").reset_index()
    return best, d


def _m_fits(tables, practice) -> Iterator[Setting]:
    r1 = tables["result1"]
    mean = r1[r1.element.astype(str) == "mean"]
    for model, rows in mean.groupby("base_model", sort=False):
        numbers = f"learned {_ms(rows.r2_learned)}, identity {_ms(rows.r2_identity)}"
        yield _setting(f"{model} vs {R2_FLOOR}", rows.assign(d=rows.r2_learned - R2_FLOOR), numbers)
        yield _setting(f"{model} vs M = I", rows.assign(d=rows.r2_learned - rows.r2_identity), numbers)


def _equivariant_best_reconstructions(tables, practice) -> Iterator[Setting]:
    frame = _tasks(tables, practice, "reconstructions")
    if "equivariant" not in frame or frame.shape[1] < 2:
        return
    for (model, k, t), group, part in _groups(frame):
        best, d = _versus_best_other(part, "equivariant", ())
        numbers = f"equivariant {part['equivariant'].mean():.3f} vs {best} {part[best].mean():.3f}"
        yield _setting(_label(model, k, t, group), d, numbers)


def _equivariant_latents_lead_on_s(tables, practice) -> Iterator[Setting]:
    frame = _tasks(tables, practice, "latents")
    if "equivariant" not in frame or not set(frame.columns) - {"equivariant", "invariant"}:
        return
    for (model, k, t), group, part in _groups(frame, ("S",)):
        best, d = _versus_best_other(part, "equivariant", ("invariant",))
        numbers = f"equivariant {part['equivariant'].mean():.3f} vs {best} {part[best].mean():.3f}"
        yield _setting(_label(model, k, t, group), d, numbers)


def _equivariant_latents_drop(tables, practice) -> Iterator[Setting]:
    frame = _tasks(tables, practice, "latents")
    if "equivariant" not in frame:
        return
    by_group = frame["equivariant"].groupby(level=["base_model", "k", "truncation", "task_group", "seed"]).mean()
    by_group = by_group.unstack("task_group")
    if not {"S", *EQUIVARIANT_TASKS} <= set(by_group):
        return
    for (model, k, t), rows in by_group.groupby(level=["base_model", "k", "truncation"], sort=True):
        for group in EQUIVARIANT_TASKS:
            d = (rows["S"] - rows[group] - DROP).rename("d").reset_index()
            numbers = f"S {_ms(rows['S'])}, {group} {_ms(rows[group])}"
            yield _setting(_label(model, k, t, group), d, numbers)


def _as_match(verdict: str) -> str:
    """A claimed match holds where the difference is within noise and fails where it is beyond, either way."""
    return {WITHIN_NOISE: HOLDS, HOLDS: FAILS, FAILS: FAILS}.get(verdict, verdict)


def _twolayer_matches_only_at_32(tables, practice) -> Iterator[Setting]:
    frame = _tasks(tables, practice, "reconstructions")
    ks = set(frame.index.get_level_values("k")) if len(frame) else set()
    if not {"equivariant", "twolayer"} <= set(frame) or 32 not in ks or len(ks) < 2:
        return
    for (model, k, t), group, part in _groups(frame, ("all",)):
        d = (part["equivariant"] - part["twolayer"]).rename("d").reset_index()
        numbers = f"equivariant {part['equivariant'].mean():.3f} vs twolayer {part['twolayer'].mean():.3f}"
        yield _setting(_label(model, k, t, group), d, numbers, _as_match if k == 32 else str)


def _sae_metric(tables, practice: str, metric: str) -> pd.DataFrame:
    m = tables["sae"]
    return m[m.sae_training == practice].pivot_table(index=["base_model", "k", "seed"], columns="variant",
                                                     values=metric)  # fmt: skip


def _regular_sparser(tables, practice) -> Iterator[Setting]:
    m = _sae_metric(tables, practice, "l1")
    if not {"regular", "invariant"} <= set(m):
        return
    for (model, k), rows in m.groupby(level=["base_model", "k"], sort=True):
        others = rows[[c for c in ("invariant", "equivariant") if c in rows]].min(axis=1)
        numbers = f"mean L1 regular {_ms(rows['regular'])}, invariant {_ms(rows['invariant'])}"
        yield _setting(_label(model, k), (others - rows["regular"]).rename("d").reset_index(), numbers)


def _equivariant_reconstructs_better(tables, practice) -> Iterator[Setting]:
    m = _sae_metric(tables, practice, "spliced_loss")
    if not {"equivariant", "invariant"} <= set(m):
        return
    for (model, k), rows in m.groupby(level=["base_model", "k"], sort=True):
        numbers = f"spliced loss equivariant {_ms(rows['equivariant'])}, invariant {_ms(rows['invariant'])}"
        yield _setting(_label(model, k), (rows["invariant"] - rows["equivariant"]).rename("d").reset_index(), numbers)


def _regular_spends_latents_on_orientations(tables, practice) -> Iterator[Setting]:
    if "atlas" not in tables:
        return
    atlas = tables["atlas"]
    share = atlas[atlas.sae_training == practice].pivot_table(index=["base_model", "k", "seed"], columns="variant",
                                                              values="redundancy")  # fmt: skip
    if not {"regular", "equivariant"} <= set(share):
        return
    for (model, k), rows in share.groupby(level=["base_model", "k"], sort=True):
        numbers = f"redundancy regular {_ms(rows['regular'])}, equivariant {_ms(rows['equivariant'])}"
        d = (rows["regular"] - rows["equivariant"]).rename("d").reset_index()
        yield _setting(_label(model, k) + " regular vs equivariant", d, numbers)
        ceiling = (REDUNDANCY_CEILING - rows["equivariant"]).rename("d").reset_index()
        yield _setting(_label(model, k) + f" equivariant below {REDUNDANCY_CEILING}", ceiling, numbers)


BEYOND = f"by more than {NOISE_SES:g} SE"
CLAIMS = [
    Claim("M", "RESULT 1", "A learned M maps psi(x) to psi(g^p x): R^2 0.987 +- 0.001, far above M = I",
          f"mean pooled R^2 over p = 1..3 above {R2_FLOOR} and above M = I's {BEYOND} (paired by seed), for every "
          "base model", _m_fits),
    Claim("equivariant_reconstructions_best", "RESULT 2",
          "The equivariant SAE gives the best probes over reconstructions in every task group",
          f"equivariant reconstruction F1 above the best other SAE's {BEYOND} of the difference paired by seed and "
          "task, in every (model, K, T, task group)", _equivariant_best_reconstructions),
    Claim("equivariant_latents_lead_on_S", "RESULT 2", "Its latent probes lead on S (the invariant tasks)",
          f"equivariant latent F1 on S above the best non-invariant SAE's {BEYOND} (paired by seed and task), in "
          "every (model, K, T)", _equivariant_latents_lead_on_s),
    Claim("equivariant_latents_drop", "RESULT 2", "Its latent probes drop on SO, SP and SPO",
          f"equivariant latent F1 on each of SO, SP, SPO more than {DROP} below its F1 on S, {BEYOND} (paired by "
          "seed), in every (model, K, T)", _equivariant_latents_drop),
    Claim("twolayer_matches_at_32", "RESULT 2", "The two-layer SAE matches it on reconstructions only at K = 32",
          "equivariant - twolayer reconstruction F1 over all tasks (paired by seed and task) within noise at K = 32 "
          f"and above zero {BEYOND} at smaller K", _twolayer_matches_only_at_32),
    Claim("regular_sparser", "RESULT 3", "Regular SAEs are sparser (lower mean L1 of the latents)",
          f"regular SAE's mean L1 below the invariant and equivariant SAEs' {BEYOND} (paired by seed), for every "
          "(model, K)", _regular_sparser),
    Claim("equivariant_reconstructs_better", "RESULT 3", "The equivariant SAE reconstructs better than the invariant",
          f"equivariant spliced loss below the invariant's {BEYOND} (paired by seed), for every (model, K)",
          _equivariant_reconstructs_better),
    Claim("regular_spends_latents_on_orientations", "ATLAS",
          "A regular SAE spends latents on orientations of a feature; the equivariant SAE does not (the paper's "
          "motivation, measured by the feature atlas)",
          "redundancy (share of live latents with a turned copy cos(M^p d_i, d_j) >= atlas.partner in the same "
          f"dictionary) of the regular SAE above the equivariant SAE's {BEYOND} (paired by seed), and the "
          f"equivariant SAE's below {REDUNDANCY_CEILING} {BEYOND}, for every (model, K)",
          _regular_spends_latents_on_orientations),
]  # fmt: skip


# The numbers each input table's rules decide on; `k` and `truncation` are empty on the base-activation rows.
DECIDED = {"result1": ("r2_learned", "r2_identity"), "sae": ("k", "l1", "spliced_loss"),
           "probes": ("k", "truncation", "f1"), "atlas": ("k", "redundancy")}  # fmt: skip
MAY_BE_MISSING = {"probes": ("k", "truncation")}
COLUMNS = ["claim", "result", "statement", "rule", "sae_training", "setting", "verdict", "difference", "se", "n",
           "numbers"]  # fmt: skip
MAY_BE_EMPTY = ("difference", "se", "n")
"""Empty where nothing was compared: not run, the ceiling rows, or an SE with one seed."""


def check_inputs(tables: dict[str, pd.DataFrame]) -> None:
    """A NaN compares false with everything, so a rule fed one would decide a claim on nothing: refuse it."""
    for name, columns in DECIDED.items():
        if name in tables:
            check_finite(tables[name], name, MAY_BE_MISSING.get(name, ()), columns=columns)


def claims_table(tables: dict[str, pd.DataFrame], practices: list[str]) -> pd.DataFrame:
    """tables: result1 (RESULT 1 per seed), sae (sae_metrics per seed), probes (probe_scores, every seed),
    optionally atlas (the atlas census per seed; without it the atlas claim is "not run").

    Per claim and practice: a row `setting = all` with the claim's verdict, the difference pooled over its
    settings (each seed's mean over them, then mean +- SE over seeds) and the counts of per-setting verdicts,
    then a row per setting. Non-finite inputs raise NonFiniteError naming the table and column."""
    check_inputs(tables)
    tables = {**tables, "best": best_per_task(tables["probes"])}
    rows = []
    for claim in CLAIMS:
        head = dict(claim=claim.id, result=claim.result, statement=claim.statement, rule=claim.rule)
        for practice in practices:
            settings = list(claim.settings(tables, practice))
            if not settings:
                rows.append({**head, "sae_training": practice, "setting": "all", "verdict": NOT_RUN,
                             "numbers": "the config did not run what this rule needs"})  # fmt: skip
                continue
            verdicts = [s.verdict for s in settings]
            pooled = compare(pd.concat([s.pairs for s in settings]).groupby("seed")["d"].mean())
            rows.append({**head, "sae_training": practice, "setting": "all", "verdict": overall(verdicts),
                         **_numbers(pooled), "numbers": counts(verdicts)})  # fmt: skip
            for s in settings:
                rows.append({**head, "sae_training": practice, "setting": s.name, "verdict": s.verdict,
                             **_numbers(s.comparison), "numbers": s.numbers})  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS).astype({"n": "Int64"})


def _numbers(c: Comparison) -> dict:
    return {"difference": c.difference, "se": c.se, "n": c.n}


def ceiling_rows(scores: pd.DataFrame, code_r2: pd.DataFrame) -> pd.DataFrame:
    """How much headroom the tasks leave: base activations' probe F1 over all tasks, and how linear the label
    code is; code_r2 has columns seed, base_model, r2."""
    check_inputs({"probes": scores})
    bad = code_r2[~np.isfinite(code_r2.r2)]
    if len(bad):
        raise NonFiniteError(f"code_r2: the label code R^2 is {bad.r2.iloc[0]} for {bad.base_model.iloc[0]}")
    best = best_per_task(scores[scores.sae == "base"])
    base = best.groupby(["base_model", "seed"])["f1_best"].mean()
    numbers = {
        "ceiling_base_probe": ("F1 of the best probe on the base activations, all 180 tasks, mean +- SE over seeds",
                               ", ".join(f"{m}: {_ms(v)}" for m, v in base.groupby(level="base_model"))),
        "ceiling_label_code": ("R^2 of a linear regression from the (position, shape, orientation) one-hots "
                               "to the activations, lowest over seeds",
                               ", ".join(f"{m}: 1 - {1 - v.min():.1e}" for m, v in code_r2.groupby("base_model").r2)),
    }  # fmt: skip
    return pd.DataFrame([
        dict(claim=claim, result="ceiling", statement="headroom of the probing tasks", rule=rule, sae_training="-",
             setting="all", verdict="-", numbers=value)
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


BEGIN, END = "<!-- findings:begin (generated from claims.csv: python -m eqsae.claims) -->", "<!-- findings:end -->"


def findings(claims: pd.DataFrame) -> str:
    """The README's "What we found" table: each claim's verdict per practice, with its pooled difference."""
    lines = ["| claim | practice | verdict | difference +- SE (n seeds) | settings |", "|---|---|---|---|---|"]
    for row in claims[claims.setting == "all"].itertuples():
        if row.result == "ceiling":
            lines.append(f"| {row.result}: {row.rule} | - | - | - | {row.numbers} |")
            continue
        diff = "-" if pd.isna(row.difference) else f"{row.difference:+.3g}"
        if not pd.isna(row.se):
            diff += f" +- {row.se:.2g}"
        if not pd.isna(row.n):
            diff += f" ({int(row.n)})"
        lines.append(f"| {row.result}: {row.statement} | {row.sae_training} | {row.verdict} | {diff} | {row.numbers} |")
    return "\n".join(lines) + "\n"


def splice(readme: str, section: str) -> str:
    """Put `section` between the findings markers of the README's text."""
    if readme.count(BEGIN) != 1 or readme.count(END) != 1 or readme.index(BEGIN) > readme.index(END):
        raise ValueError(f"the README needs one {BEGIN!r} line and one {END!r} line after it")
    head, rest = readme.split(BEGIN)
    _, tail = rest.split(END)
    return f"{head}{BEGIN}\n{section}{END}{tail}"


def main(argv: list[str] | None = None) -> None:
    """`python -m eqsae.claims [README.md] [results/paper/tables/claims.csv]`: regenerate "What we found"."""
    import argparse
    from pathlib import Path

    from eqsae.io import read_table

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("readme", nargs="?", default="README.md")
    parser.add_argument("claims", nargs="?", default="results/paper/tables/claims.csv")
    args = parser.parse_args(argv)
    readme = Path(args.readme)
    readme.write_text(splice(readme.read_text(), findings(read_table(args.claims))))


if __name__ == "__main__":
    main()
