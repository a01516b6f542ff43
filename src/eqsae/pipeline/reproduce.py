"""Does a run reproduce the published numbers? Number by number, within a tolerance stated here.

`python -m eqsae.pipeline.reproduce published/paper results/paper/tables` (exit 1 if any number lies outside).

The same machine gives the same numbers to the last bit. Another CPU rounds differently (its vector units sum
in another order), and every training turns a last-bit difference into another trajectory: on another machine
a seed's number moves about as much as a rerun with other rounding would, which behaves like a fresh draw of
the same seed's noise. So a number's tolerance comes from how much it moves over seeds in the published table:

    |run - published| <= k * s + RTOL * |published| + ATOL,   k = sqrt(2) * z(1 - alpha / (2 m))

s is the standard deviation over the published seeds of the same number in the same setting; sqrt(2) because
both the run and the published value are draws; z is the normal quantile that holds the chance of any false
alarm over all m numbers compared to alpha (Bonferroni, alpha = 5%); RTOL and ATOL cover the numbers that do
not move over seeds (the dataset, closed forms). A machine that shifts a number beyond what its seeds could
explain is flagged; one that only rounds differently is not.

Rows are matched on their text columns, the seed and the fewest integer columns that name a row uniquely;
every other number is compared, except timings. Claims tables are compared verdict by verdict.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps

from eqsae.io import read_table

ALPHA = 0.05
"""Chance of flagging any number of a faithful rerun (over all numbers compared)."""
RTOL, ATOL = 1e-5, 1e-8
"""Floor for numbers that do not move over seeds: float32 rounding of a deterministic computation."""
TIMINGS = re.compile(r"seconds|(^|_)time($|_)|wall")
"""Columns that measure the machine, not the result."""
STATUS = ("within", "outside", "missing")


def split_columns(table: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(keys, values): keys are the text columns, the seed and the fewest integer columns (tried from the
    right, where tables keep their measurements) that still name each row once; values are the other numbers."""
    numeric = [c for c in table.columns if pd.api.types.is_numeric_dtype(table[c]) and table[c].dtype != bool]
    keys = [c for c in table.columns if c not in numeric or c == "seed"]
    integers = [c for c in numeric if pd.api.types.is_integer_dtype(table[c]) and c != "seed"]
    for column in reversed(integers):
        rest = [c for c in keys + integers if c != column]
        if not table.duplicated(subset=rest).any():
            integers.remove(column)
    keys = [c for c in table.columns if c in keys or c in integers]
    values = [c for c in numeric if c not in keys and not TIMINGS.search(c)]
    return keys, values


def long_form(table: pd.DataFrame, keys: list[str], values: list[str]) -> pd.DataFrame:
    """One row per number: the keys, `column` and `published`, with `seed_sd` over the table's seeds."""
    rows = table[keys + values].melt(id_vars=keys, var_name="column", value_name="published")
    setting = [k for k in keys if k != "seed"] + ["column"]
    rows["seed_sd"] = rows.groupby(setting, dropna=False)["published"].transform(lambda v: v.std(ddof=1))
    return rows


def compare_table(published: pd.DataFrame, run: pd.DataFrame, name: str) -> pd.DataFrame:
    """Every published number of the seeds the run has, beside the run's (NaN where the run lacks the row)."""
    keys, values = split_columns(published)
    absent = [c for c in keys + values if c not in run.columns]
    if absent:
        raise ValueError(f"{name}: the run's table has no column {', '.join(absent)}")
    rows = long_form(published, keys, values)
    rows = rows[rows.seed.isin(run.seed.unique())] if "seed" in keys else rows
    theirs = run[keys + values].melt(id_vars=keys, var_name="column", value_name="run")
    rows = rows.merge(theirs, on=keys + ["column"], how="left", validate="one_to_one")
    rows.insert(0, "table", name)
    rows["key"] = ""
    for column in keys:
        rows["key"] += f"{column}=" + rows[column].astype(object).astype(str) + " "
    rows["key"] = rows.key.str.rstrip()
    return rows[["table", "key", "column", "published", "run", "seed_sd"]]


def judge(rows: pd.DataFrame, alpha: float = ALPHA) -> pd.DataFrame:
    """Add the tolerance, |difference| / seed_sd and the status of each number (see the module's rule)."""
    m = max(len(rows), 1)
    k = math.sqrt(2) * sps.norm.ppf(1 - alpha / (2 * m))
    both_nan = rows.published.isna() & rows.run.isna()
    diff = (rows.run - rows.published).abs().where(~both_nan, 0.0)
    tolerance = k * rows.seed_sd.fillna(0.0) + RTOL * rows.published.abs().fillna(0.0) + ATOL
    status = np.where(diff <= tolerance, "within", "outside")
    status = np.where(rows.run.isna() & ~both_nan, "missing", status)
    with np.errstate(divide="ignore", invalid="ignore"):
        in_sds = diff / rows.seed_sd
    return rows.assign(difference=rows.run - rows.published, tolerance=tolerance, in_seed_sds=in_sds, k=k,
                       status=status)  # fmt: skip


def compare_verdicts(published: pd.DataFrame, run: pd.DataFrame, name: str) -> pd.DataFrame:
    """Each published verdict beside the run's, matched on the claim's text columns."""
    keys = [c for c in published.columns if c not in ("verdict", "numbers")
            and not pd.api.types.is_float_dtype(published[c])]  # fmt: skip
    rows = published[keys + ["verdict"]].merge(run[keys + ["verdict"]], on=keys, how="left",
                                               suffixes=("_published", "_run"))  # fmt: skip
    same = rows.verdict_published == rows.verdict_run
    rows["status"] = np.where(rows.verdict_run.isna(), "missing", np.where(same, "same", "changed"))
    rows.insert(0, "table", name)
    return rows


def run_file(run: Path, name: str) -> Path | None:
    """A published file's counterpart in a run's tables folder (the toy's live under toy/)."""
    for path in (run / name, run / "toy" / name):
        if path.exists():
            return path
    return None


def compare_folders(published: Path, run: Path, alpha: float = ALPHA) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(numbers, verdicts): every per-seed table of `published` against the run's; tables without a seed
    (summaries derived from the per-seed ones) are not compared, claims tables by verdict where the run has
    them and every published seed."""
    tables = {p.name: read_table(p) for p in sorted(published.iterdir()) if p.suffix in (".csv", ".parquet")}
    tables = {name: table for name, table in tables.items() if "verdict" in table or "seed" in table}
    missing = [name for name, table in tables.items() if "verdict" not in table and run_file(run, name) is None]
    if missing:
        raise FileNotFoundError(f"{run}: no {', '.join(missing)} (published in {published})")
    numbers, claims, fewer_seeds = [], [], False
    for name, ours in tables.items():
        if run_file(run, name) is None:
            continue  # a run that stopped before its claims: its numbers are still worth comparing
        theirs = read_table(run_file(run, name))
        if "verdict" in ours:
            claims.append((ours, theirs, name))
        else:
            numbers.append(compare_table(ours, theirs, name))
            fewer_seeds |= not set(ours.seed).issubset(theirs.seed)
    if not numbers:
        raise FileNotFoundError(f"{published}: no per-seed table (a csv or parquet file with a seed column)")
    # A run of fewer seeds decides its claims on less data: its verdicts are not the published ones' peers.
    verdicts = [compare_verdicts(*c) for c in claims] if not fewer_seeds else []
    return judge(pd.concat(numbers, ignore_index=True), alpha), (pd.concat(verdicts, ignore_index=True)
                                                                 if verdicts else pd.DataFrame())  # fmt: skip


def summary(numbers: pd.DataFrame) -> pd.DataFrame:
    """Per table: how many numbers lie within, outside, missing; the largest and median |difference| in seed SDs."""
    counts = numbers.groupby("table").status.value_counts().unstack(fill_value=0).reindex(columns=STATUS, fill_value=0)
    sds = numbers.groupby("table").in_seed_sds.agg(largest="max", median="median")
    return counts.join(sds).reset_index()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("published", type=Path, help="e.g. published/paper")
    parser.add_argument("run", type=Path, nargs="?", help="a run's tables folder (default results/<name>/tables)")
    parser.add_argument("--out", type=Path, help="write every number's comparison here (csv)")
    parser.add_argument("--alpha", type=float, default=ALPHA, help="chance of any false alarm (default 0.05)")
    args = parser.parse_args(argv)
    run = args.run or Path("results") / args.published.name / "tables"
    numbers, verdicts = compare_folders(args.published, run, args.alpha)
    if args.out:
        numbers.to_csv(args.out, index=False)
    print(f"{run} against {args.published}: k = {numbers.k.iloc[0]:.2f} seed SDs over {len(numbers):,} numbers")
    print(summary(numbers).to_string(index=False, float_format="%.3g"))
    bad = numbers[numbers.status != "within"]
    if len(bad):
        print(f"\n{len(bad)} numbers not within tolerance (largest first):")
        print(bad.sort_values("in_seed_sds", ascending=False).head(20).to_string(index=False, float_format="%.4g"))
    if verdicts.empty:
        print("\nverdicts not compared: the run has no claims table, or fewer seeds than the published one")
    changed = verdicts[verdicts.status != "same"] if len(verdicts) else verdicts
    if len(changed):
        print(f"\n{len(changed)} verdicts differ:\n{changed.to_string(index=False)}")
    return int(bool(len(bad) or len(changed)))


if __name__ == "__main__":
    sys.exit(main())
