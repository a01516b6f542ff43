"""The paper's claims as rules over the pipeline's tables, decided per SAE training practice.

Every verdict comes from a rule written here, applied to the generated tables; none is typed by hand. A claim
that needs a setting the config did not run (e.g. K = 32) is "not run", not "false".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from eqsae.io import NonFiniteError, check_finite
from eqsae.shapes import N_POSITIONS

EQUIVARIANT_TASKS = ("SO", "SP", "SPO")
MATCH = 0.01
"""F1 within this of each other counts as a tie (about the noise of F1 on 2,000 test rows)."""


@dataclass(frozen=True)
class Verdict:
    holds: bool | None
    """None: the tables lack what the rule needs."""
    numbers: str


@dataclass(frozen=True)
class Claim:
    id: str
    result: str
    statement: str
    """The paper's claim, in its words where possible."""
    rule: str
    """How we decide it from the tables."""
    decide: Callable[[dict[str, pd.DataFrame], str], Verdict]


def _fmt(values: pd.Series) -> str:
    """`cnn K=16: 0.157, ...`: index levels (model, K, T) spelled out."""
    names = [{"k": "K=", "truncation": "T="}.get(name, "") for name in values.index.names]

    def label(key) -> str:
        parts = key if isinstance(key, tuple) else (key,)
        return " ".join(f"{n}{int(p) if isinstance(p, float) else p}" for n, p in zip(names, parts))

    return ", ".join(f"{label(key)}: {value:.3g}" for key, value in values.items())


def _recon(summary: pd.DataFrame, practice: str) -> pd.DataFrame:
    """Best-probe F1 of reconstructions, one column per SAE, rows (base_model, k, truncation, task_group)."""
    rows = summary[(summary.sae_training == practice) & (summary.representation == "reconstructions")]
    return rows.pivot_table(index=["base_model", "k", "truncation", "task_group"], columns="sae", values="f1_best")


def _latents(summary: pd.DataFrame, practice: str) -> pd.DataFrame:
    rows = summary[(summary.sae_training == practice) & (summary.representation == "latents")]
    return rows.pivot_table(index=["base_model", "k", "truncation", "task_group"], columns="sae", values="f1_best")


def _m_fits(tables, practice) -> Verdict:
    r1 = tables["result1"]
    mean = r1[r1.rotation.astype(str) == "mean"].set_index("base_model")
    if mean.empty:
        return Verdict(None, "no RESULT 1 table")
    ok = bool((mean.r2_learned >= 0.98).all() and (mean.r2_learned > mean.r2_identity).all())
    return Verdict(ok, f"learned {_fmt(mean.r2_learned)}; identity {_fmt(mean.r2_identity)}")


def _equivariant_best_reconstructions(tables, practice) -> Verdict:
    table = _recon(tables["probes"], practice)
    if "equivariant" not in table or table.shape[1] < 2:
        return Verdict(None, "needs the equivariant SAE and another SAE")
    others = table.drop(columns="equivariant").max(axis=1)
    wins = table["equivariant"] >= others - MATCH
    by_group = table.groupby(level="task_group").mean()
    numbers = f"wins {int(wins.sum())}/{len(wins)} settings; mean F1 equivariant {_fmt(by_group['equivariant'])}"
    numbers += f"; best other {_fmt(others.groupby(level='task_group').mean())}"
    return Verdict(bool(wins.all()), numbers)


def _equivariant_latents_lead_on_s(tables, practice) -> Verdict:
    table = _latents(tables["probes"], practice)
    if "equivariant" not in table or table.shape[1] < 2:
        return Verdict(None, "needs the equivariant SAE and another SAE")
    s = table.xs("S", level="task_group")
    others = s.drop(columns=[c for c in ("equivariant", "invariant") if c in s]).max(axis=1)
    if others.isna().all():
        return Verdict(None, "needs a non-invariant SAE")
    wins = s["equivariant"] >= others - MATCH
    return Verdict(bool(wins.all()), f"S: equivariant {s['equivariant'].mean():.3f} vs best other "
                                      f"{others.mean():.3f} (wins {int(wins.sum())}/{len(wins)})")  # fmt: skip


def _equivariant_latents_drop(tables, practice) -> Verdict:
    table = _latents(tables["probes"], practice)
    if "equivariant" not in table:
        return Verdict(None, "needs the equivariant SAE")
    groups = table["equivariant"].unstack("task_group")
    if "S" not in groups or not set(EQUIVARIANT_TASKS) <= set(groups):
        return Verdict(None, "needs every task group")
    drop = groups[list(EQUIVARIANT_TASKS)].lt(groups["S"] - 0.1, axis=0).all(axis=1)
    means = groups[["S", *EQUIVARIANT_TASKS]].mean()
    return Verdict(bool(drop.all()), f"equivariant latents {_fmt(means)} (drop > 0.1 below S in "
                                     f"{int(drop.sum())}/{len(drop)} settings)")  # fmt: skip


def _twolayer_matches_only_at_32(tables, practice) -> Verdict:
    table = _recon(tables["probes"], practice)
    if not {"equivariant", "twolayer"} <= set(table):
        return Verdict(None, "needs the two-layer and equivariant SAEs")
    gap = (table["equivariant"] - table["twolayer"]).xs("all", level="task_group").abs()
    ks = set(gap.index.get_level_values("k"))
    if 32 not in ks or len(ks) < 2:
        return Verdict(None, f"needs K = 32 and a smaller K; ran K = {sorted(int(k) for k in ks)}")
    at32 = gap.xs(32, level="k") <= MATCH
    below = gap[gap.index.get_level_values("k") < 32] > MATCH
    by_k = gap.groupby(level="k").mean()
    return Verdict(bool(at32.all() and below.all()), f"|equivariant - twolayer| F1 (all tasks) by K: {_fmt(by_k)}")


def _regular_sparser(tables, practice) -> Verdict:
    m = tables["sae"]
    m = m[m.sae_training == practice].pivot_table(index=["base_model", "k"], columns="variant", values="l1")
    if not {"regular", "invariant"} <= set(m):
        return Verdict(None, "needs the regular and invariant SAEs")
    sparser = m["regular"] < m[[c for c in ("invariant", "equivariant") if c in m]].min(axis=1)
    return Verdict(bool(sparser.all()), f"mean L1 regular {_fmt(m['regular'])}; invariant {_fmt(m['invariant'])}")


def _equivariant_reconstructs_better(tables, practice) -> Verdict:
    m = tables["sae"]
    m = m[m.sae_training == practice].pivot_table(index=["base_model", "k"], columns="variant",
                                                  values="spliced_loss")  # fmt: skip
    if not {"equivariant", "invariant"} <= set(m):
        return Verdict(None, "needs the invariant and equivariant SAEs")
    better = m["equivariant"] < m["invariant"]
    return Verdict(bool(better.all()), f"spliced loss equivariant {_fmt(m['equivariant'])}; "
                                       f"invariant {_fmt(m['invariant'])}")  # fmt: skip


CLAIMS = [
    Claim("M", "RESULT 1", "A learned M maps psi(x) to psi(g^p x): R^2 0.987 +- 0.001, far above M = I",
          "mean pooled R^2 over p = 1..3 >= 0.98 and above M = I, for every base model", _m_fits),
    Claim("equivariant_reconstructions_best", "RESULT 2",
          "The equivariant SAE gives the best probes over reconstructions in every task group",
          f"equivariant reconstruction F1 >= every other SAE's - {MATCH}, in every (model, K, T, task group)",
          _equivariant_best_reconstructions),
    Claim("equivariant_latents_lead_on_S", "RESULT 2", "Its latent probes lead on S (the invariant tasks)",
          f"equivariant latent F1 on S >= every non-invariant SAE's - {MATCH}, in every (model, K, T)",
          _equivariant_latents_lead_on_s),
    Claim("equivariant_latents_drop", "RESULT 2", "Its latent probes drop on SO, SP and SPO",
          "equivariant latent F1 on each of SO, SP, SPO more than 0.1 below its F1 on S, in every (model, K, T)",
          _equivariant_latents_drop),
    Claim("twolayer_matches_at_32", "RESULT 2", "The two-layer SAE matches it on reconstructions only at K = 32",
          f"|equivariant - twolayer| reconstruction F1 over all tasks <= {MATCH} at K = 32 and above it at smaller K",
          _twolayer_matches_only_at_32),
    Claim("regular_sparser", "RESULT 3", "Regular SAEs are sparser (lower mean L1 of the latents)",
          "regular SAE's mean L1 below the invariant and equivariant SAEs', for every (model, K)", _regular_sparser),
    Claim("equivariant_reconstructs_better", "RESULT 3", "The equivariant SAE reconstructs better than the invariant",
          "equivariant spliced loss below the invariant's, for every (model, K)", _equivariant_reconstructs_better),
]  # fmt: skip


# The numbers each input table's rules decide on; `k` and `truncation` are empty on the base-activation rows.
DECIDED = {"result1": ("r2_learned", "r2_identity"), "sae": ("k", "l1", "spliced_loss"),
           "probes": ("k", "truncation", "f1_best")}  # fmt: skip
MAY_BE_MISSING = {"probes": ("k", "truncation")}


def check_inputs(tables: dict[str, pd.DataFrame]) -> None:
    """A NaN compares false with everything, so a rule fed one would decide a claim on nothing: refuse it."""
    for name, columns in DECIDED.items():
        if name in tables:
            check_finite(tables[name], name, MAY_BE_MISSING.get(name, ()), columns=columns)


def claims_table(tables: dict[str, pd.DataFrame], practices: list[str]) -> pd.DataFrame:
    """tables: result1 (RESULT 1 table), sae (sae_metrics), probes (probe_summary). One row per claim.
    Non-finite numbers in what the rules decide on raise NonFiniteError naming the table and column."""
    check_inputs(tables)
    rows = []
    for claim in CLAIMS:
        row = dict(claim=claim.id, result=claim.result, statement=claim.statement, rule=claim.rule)
        for practice in ("paper", "standard"):
            verdict = claim.decide(tables, practice) if practice in practices else Verdict(None, "not run")
            row[f"holds_{practice}"] = "not run" if verdict.holds is None else str(verdict.holds).lower()
            row[f"numbers_{practice}"] = verdict.numbers
        rows.append(row)
    return pd.DataFrame(rows)


def ceiling_rows(summary: pd.DataFrame, code_r2: dict[str, float]) -> pd.DataFrame:
    """How much headroom the tasks leave: base activations' probe F1, and how linear the label code is."""
    check_inputs({"probes": summary})
    for model, r2 in code_r2.items():
        if not math.isfinite(r2):
            raise NonFiniteError(f"code_r2: the label code R^2 of {model} is {r2}")
    base = summary[(summary.sae == "base") & (summary.task_group == "all")].set_index("base_model")["f1_best"]
    numbers = {
        "ceiling_base_probe": ("F1 of the best probe on the base activations, all 180 tasks", _fmt(base)),
        "ceiling_label_code": ("R^2 of a linear regression from the (position, shape, orientation) one-hots "
                               "to the activations", ", ".join(f"{m}: 1 - {1 - r:.1e}" for m, r in code_r2.items())),
    }  # fmt: skip
    return pd.DataFrame([
        dict(claim=claim, result="ceiling", statement="headroom of the probing tasks", rule=rule,
             holds_paper="-", numbers_paper=value, holds_standard="-", numbers_standard=value)
        for claim, (rule, value) in numbers.items()
    ])  # fmt: skip


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
