"""Publish a run's per-seed tables: copy them into a committed folder (published/<name>/) with a README that
says which commit, config and command made them, so anyone can re-decide the claims without the run.

`python -m eqsae.pipeline.publish results/paper/tables published/paper --commit SHA --command "snakemake ..."`
"""

from __future__ import annotations

import argparse
import shutil
from datetime import date
from pathlib import Path

from eqsae.io import read_table

PAPER = ("result1_m_fit_seeds.csv", "sae_metrics_seeds.csv", "probe_scores.parquet", "atlas_census_seeds.csv",
         "label_code_r2_seeds.csv", "claims.csv")  # fmt: skip
TOY = ("toy/toy_scores.csv", "toy/toy_summary.csv", "toy/toy_claims.csv")
MAX_BYTES = 5 * 2**20
"""Each published file stays under 5 MiB, so the repository stays small to clone."""


def publish(tables: Path, out: Path, commit: str, command: str, note: str = "") -> list[Path]:
    """Copy the per-seed tables of a paper or toy run (by what `tables` holds) into `out`, flat, with a
    README.md; refuses a file over MAX_BYTES."""
    names = TOY if (tables / TOY[0]).exists() else PAPER
    missing = [n for n in names if not (tables / n).exists()]
    if missing:
        raise FileNotFoundError(f"{tables}: no {', '.join(missing)}")
    big = [n for n in names if (tables / n).stat().st_size > MAX_BYTES]
    if big:
        raise ValueError(f"{big[0]} is over {MAX_BYTES} bytes: publish it as Parquet or leave it out")
    out.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in names:
        copied.append(Path(shutil.copyfile(tables / name, out / Path(name).name)))
    (out / "README.md").write_text(readme(out, copied, commit, command, note))
    return copied


def readme(out: Path, files: list[Path], commit: str, command: str, note: str) -> str:
    lines = [f"# {out.name}: the per-seed tables behind the findings", "",
             f"Made by commit `{commit}` on {date.today().isoformat()} with", "", "```bash", command, "```", ""]
    if note:
        lines += [note, ""]
    lines += ["Re-decide every claim from this folder (seconds): `python -m eqsae.paper.verdicts " + str(out) + "`.", "",
              "| file | rows | seeds | bytes |", "|---|--:|---|--:|"]  # fmt: skip
    for path in files:
        table = read_table(path)
        seeds = ", ".join(str(s) for s in sorted(table.seed.unique())) if "seed" in table else "-"
        lines.append(f"| `{path.name}` | {len(table):,} | {seeds} | {path.stat().st_size:,} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tables", type=Path, help="a run's tables folder, e.g. results/paper/tables")
    parser.add_argument("out", type=Path, help="e.g. published/paper")
    parser.add_argument("--commit", required=True, help="the commit whose code made the run")
    parser.add_argument("--command", required=True, help="the command that made the run")
    parser.add_argument("--note", default="", help="what else a reader needs (e.g. which slice of the grid)")
    args = parser.parse_args(argv)
    for path in publish(args.tables, args.out, args.commit, args.command, args.note):
        print(path)


if __name__ == "__main__":
    main()
