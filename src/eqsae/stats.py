"""Numbers over seeds: mean, standard error and n of every result, and comparisons decided beyond noise.

A seed is a whole replicate (images, inits, batches, probe split), so the spread over seeds is the honest
error bar of a number this pipeline reports. The standard error is std(ddof=1) / sqrt(n); with one seed it
is undefined (missing), never zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

NOISE_SES = 2.0
"""A difference is beyond noise when its mean exceeds this many standard errors of the paired difference."""

HOLDS, WITHIN_NOISE, FAILS, ONE_SEED = "holds", "within noise", "fails", "one seed: no error bar"


def standard_error(values: Sequence[float] | np.ndarray | pd.Series) -> float:
    """std(ddof=1) / sqrt(n); NaN for fewer than two values (one replicate has no error bar)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2:
        return math.nan
    return float(values.std(ddof=1) / math.sqrt(len(values)))


def over_seeds(table: pd.DataFrame, values: Sequence[str], seed: str = "seed") -> pd.DataFrame:
    """One row per setting (every column but `seed` and `values`): `n_seeds`, then `<value>_mean` and
    `<value>_se` for each value column. Settings keep their first-seen order."""
    keys = [c for c in table.columns if c != seed and c not in values]
    groups = table.groupby(keys, dropna=False, sort=False)
    out = groups[seed].nunique().rename("n_seeds").to_frame()
    if (groups.size() != out["n_seeds"]).any():
        raise ValueError(f"a setting appears twice within one seed; keys {keys}")
    for value in values:
        out[f"{value}_mean"] = groups[value].mean()
        out[f"{value}_se"] = groups[value].agg(standard_error)
    return out.reset_index()


def se_columns(table: pd.DataFrame) -> tuple[str, ...]:
    """The standard-error columns, which are missing (not zero) when a setting has one seed."""
    return tuple(c for c in table.columns if c.endswith("_se"))


@dataclass(frozen=True)
class Comparison:
    """A - B over paired replicates: mean difference, its standard error, the number of pairs, the verdict."""

    difference: float
    se: float
    n: int
    verdict: str
    """holds (A > B beyond noise), fails (B > A beyond noise), within noise, or no error bar with one pair."""

    def __str__(self) -> str:
        se = "no SE" if math.isnan(self.se) else f"+- {self.se:.2g}"
        return f"{self.difference:+.3g} {se} (n = {self.n})"


def compare(differences: Sequence[float] | np.ndarray | pd.Series) -> Comparison:
    """Decide A > B from paired differences A_i - B_i: holds when the mean exceeds NOISE_SES standard errors,
    fails when it is below minus that, within noise otherwise. Non-finite differences are refused."""
    d = np.asarray(differences, dtype=np.float64)
    if len(d) == 0:
        raise ValueError("no paired differences to compare")
    if not np.isfinite(d).all():
        raise ValueError(f"non-finite paired differences: {d[~np.isfinite(d)][:5]}")
    mean, se = float(d.mean()), standard_error(d)
    if math.isnan(se):
        verdict = ONE_SEED
    elif mean > NOISE_SES * se:
        verdict = HOLDS
    elif mean < -NOISE_SES * se:
        verdict = FAILS
    else:
        verdict = WITHIN_NOISE
    return Comparison(mean, se, len(d), verdict)


def overall(verdicts: Sequence[str]) -> str:
    """A claim made "in every setting": holds if it holds in each, fails if it fails beyond noise in any,
    otherwise within noise (or no error bar, when a setting has one seed)."""
    if FAILS in verdicts:
        return FAILS
    if all(v == HOLDS for v in verdicts):
        return HOLDS
    return ONE_SEED if ONE_SEED in verdicts else WITHIN_NOISE


def counts(verdicts: Sequence[str]) -> str:
    """`holds 8, within noise 2, fails 0 of 10 settings`."""
    parts = [f"{name} {sum(v == name for v in verdicts)}" for name in (HOLDS, WITHIN_NOISE, FAILS)]
    if ONE_SEED in verdicts:
        parts.append(f"no error bar {sum(v == ONE_SEED for v in verdicts)}")
    return f"{', '.join(parts)} of {len(verdicts)} settings"
