"""Numbers over seeds, and the one rule that decides a comparison: the seed is the replicate.

A seed redraws everything random in a run (images, inits, batches, probe split); the 180 probing tasks, the
base models, K and T are a fixed design, not a sample. So a comparison first reduces to one number per seed
(for per-task scores: the mean over the setting's tasks of the per-task difference, every task weighted
equally), and a paired t test on the n seeds decides it, with n - 1 degrees of freedom:

- `greater`: holds where the 95% interval lies above the margin (one-sided 2.5%), fails where it lies below,
  otherwise "not established" (this design cannot tell);
- `equivalent` ("matches"): two one-sided tests; holds where the 90% interval lies inside +-margin, fails
  where the 95% interval lies wholly outside it, otherwise not established;
- `every` ("in every setting"): holds where every setting holds (intersection-union: no correction needed),
  fails where Holm's step-down over the settings finds at least one reversed at 2.5%, otherwise not
  established; `average`: per seed the mean over the settings, then the same test.

The standard error is std(ddof=1) / sqrt(n); with one seed it is undefined (missing), never zero.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats

ALPHA = 0.05
"""Two-sided level of every interval: 2.5% on each side (TOST: 5% on each side, the 90% interval)."""
POWER = 0.8
"""The power at which `Comparison.detectable` is given."""

HOLDS, NOT_ESTABLISHED, FAILS, ONE_SEED = "holds", "not established", "fails", "one seed: no interval"
VERDICTS = (HOLDS, NOT_ESTABLISHED, FAILS, ONE_SEED)
GREATER, EQUIVALENT = "greater", "equivalent"
EVERY, AVERAGE = "every setting", "average over settings"
"""The two summary rows of a claim: `every` and `average` over its settings."""


def standard_error(values: Sequence[float] | np.ndarray | pd.Series) -> float:
    """std(ddof=1) / sqrt(n); NaN for fewer than two values (one replicate has no error bar)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2:
        return math.nan
    return float(values.std(ddof=1) / math.sqrt(len(values)))


@functools.cache
def t_quantile(q: float, n: int) -> float:
    """The q quantile of Student's t with n - 1 degrees of freedom (4.30 for q = 0.975 and n = 3)."""
    return float(stats.t.ppf(q, n - 1))


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


def per_seed(pairs: pd.DataFrame) -> pd.Series:
    """One difference per seed from rows (`seed`, `d`): the mean over each seed's rows (its tasks), each
    row weighted equally (`greater` and `equivalent` refuse non-finite ones)."""
    return pairs.groupby("seed")["d"].mean()


@dataclass(frozen=True)
class Comparison:
    """One comparison over seeds: the mean per-seed difference, its SE, n seeds, the interval, p, verdict."""

    test: str
    """greater (difference above the margin) or equivalent (within +-margin)."""
    margin: float
    difference: float
    se: float
    n: int
    low: float
    high: float
    level: float
    """Coverage of [low, high]: 0.95, or 0.90 for an equivalence test (TOST)."""
    p: float
    """greater: two-sided p of difference = margin; equivalent: TOST's p (the larger one-sided p)."""
    p_reversed: float
    """One-sided p that the claim is reversed (below the margin; outside it for equivalence), for Holm."""
    detectable: float
    """The smallest true distance from the margin this design detects at POWER (one-sided 2.5%)."""
    verdict: str

    @property
    def df(self) -> int:
        return self.n - 1

    def __str__(self) -> str:
        if self.n < 2:
            return f"{self.difference:+.3g} (n = 1)"
        return f"{self.difference:+.3g} [{self.low:+.3g}, {self.high:+.3g}] (n = {self.n})"


def _one_seed(test: str, margin: float, d: np.ndarray) -> Comparison:
    nan = math.nan
    return Comparison(test, margin, float(d.mean()), nan, len(d), nan, nan, nan, nan, nan, nan, ONE_SEED)


def _as_array(values) -> np.ndarray:
    d = np.asarray(values, dtype=np.float64)
    if len(d) == 0:
        raise ValueError("no per-seed differences to compare")
    if not np.isfinite(d).all():
        raise ValueError(f"non-finite per-seed differences: {d[~np.isfinite(d)][:5]}")
    return d


def _t_cdf(x: float, df: int) -> float:
    """P(T <= x); with a zero standard error x is +-inf (or NaN at exactly the margin: 0.5)."""
    return 0.5 if math.isnan(x) else float(stats.t.cdf(x, df))


def _ratio(num: float, se: float) -> float:
    if se > 0:
        return num / se
    return math.nan if num == 0 else math.copysign(math.inf, num)


def detectable(se: float, n: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """The true distance from the margin that a one-sided t test at alpha / 2 detects with `power`, for a
    standard error `se` over n seeds (noncentral t; the observed SE stands for sigma / sqrt(n))."""
    if n < 2 or math.isnan(se):
        return math.nan
    return _noncentrality(n, alpha, power) * se  # 0 where the seeds agree exactly: any difference shows


@functools.cache
def _noncentrality(n: int, alpha: float, power: float) -> float:
    df, crit = n - 1, t_quantile(1 - alpha / 2, n)
    return float(optimize.brentq(lambda ncp: stats.nct.sf(crit, df, ncp) - power, 0.0, 1e3))


def greater(values, margin: float = 0.0, alpha: float = ALPHA) -> Comparison:
    """Is the per-seed difference above `margin`? holds / fails where the 1 - alpha interval lies above /
    below it, otherwise not established."""
    d = _as_array(values)
    if len(d) < 2:
        return _one_seed(GREATER, margin, d)
    mean, se, n = float(d.mean()), standard_error(d), len(d)
    half = t_quantile(1 - alpha / 2, n) * se
    t = _ratio(mean - margin, se)
    p = min(1.0, 2 * min(_t_cdf(t, n - 1), 1 - _t_cdf(t, n - 1)))
    low, high = mean - half, mean + half
    verdict = HOLDS if low > margin else FAILS if high < margin else NOT_ESTABLISHED
    return Comparison(GREATER, margin, mean, se, n, low, high, 1 - alpha, p, _t_cdf(t, n - 1),
                      detectable(se, n, alpha), verdict)  # fmt: skip


def equivalent(values, margin: float, alpha: float = ALPHA) -> Comparison:
    """Does the per-seed difference lie within +-margin (TOST)? holds where the 1 - 2 alpha interval lies
    inside, fails where the 1 - alpha interval lies wholly outside, otherwise not established."""
    if not margin > 0:
        raise ValueError(f"an equivalence margin must be positive, got {margin}")
    d = _as_array(values)
    if len(d) < 2:
        return _one_seed(EQUIVALENT, margin, d)
    mean, se, n = float(d.mean()), standard_error(d), len(d)
    half90, half95 = t_quantile(1 - alpha, n) * se, t_quantile(1 - alpha / 2, n) * se
    above, below = _ratio(mean + margin, se), _ratio(mean - margin, se)
    p = max(1 - _t_cdf(above, n - 1), _t_cdf(below, n - 1))
    p_reversed = min(_t_cdf(above, n - 1), 1 - _t_cdf(below, n - 1))
    low, high = mean - half90, mean + half90
    if -margin < low and high < margin:
        verdict = HOLDS
    elif mean - half95 > margin or mean + half95 < -margin:
        verdict = FAILS
    else:
        verdict = NOT_ESTABLISHED
    return Comparison(EQUIVALENT, margin, mean, se, n, low, high, 1 - 2 * alpha, p, p_reversed,
                      detectable(se, n, alpha), verdict)  # fmt: skip


def holm(p_values: Sequence[float], level: float) -> list[bool]:
    """Holm's step-down: which hypotheses are rejected with the family-wise error rate held at `level`."""
    order = np.argsort(p_values, kind="stable")
    rejected = [False] * len(p_values)
    for rank, i in enumerate(order):
        if p_values[i] > level / (len(p_values) - rank):
            break
        rejected[i] = True
    return rejected


def every(comparisons: Sequence[Comparison], alpha: float = ALPHA) -> str:
    """A claim made in every setting: holds where each setting holds (intersection-union), fails where Holm
    over the settings finds one reversed at alpha / 2, otherwise not established."""
    if not comparisons:
        raise ValueError("no settings to decide")
    if any(c.verdict == ONE_SEED for c in comparisons):
        return ONE_SEED
    if all(c.verdict == HOLDS for c in comparisons):
        return HOLDS
    if any(holm([c.p_reversed for c in comparisons], alpha / 2)):
        return FAILS
    return NOT_ESTABLISHED


def average(per_seeds: Sequence[pd.Series]) -> pd.Series:
    """Per seed, the mean over settings of their per-seed differences, over the seeds every setting has
    (a setting with extra seeds does not tilt the average); empty where they share none."""
    table = pd.concat(list(per_seeds), axis=1, ignore_index=True).dropna()
    return table.mean(axis=1)


def counts(verdicts: Sequence[str]) -> str:
    """`holds 8, not established 2, fails 0 of 10 settings`."""
    parts = [f"{name} {sum(v == name for v in verdicts)}" for name in (HOLDS, NOT_ESTABLISHED, FAILS)]
    if ONE_SEED in verdicts:
        parts.append(f"one seed {sum(v == ONE_SEED for v in verdicts)}")
    return f"{', '.join(parts)} of {len(verdicts)} settings"
