"""Where do results diverge between CPU code paths? One seed through the base autoencoder, its activations,
M and RESULT 1's R^2, under the code paths torch's CPU back ends can be told to take, compared stage by stage.

    python benchmarks/code_paths.py run default                               # this machine's own path
    python benchmarks/code_paths.py run mkl MKL_CBWR=COMPATIBLE               # MKL's portable kernels
    python benchmarks/code_paths.py run aten ATEN_CPU_CAPABILITY=default      # torch's unvectorised kernels
    python benchmarks/code_paths.py cross default mkl_m MKL_CBWR=COMPATIBLE   # M alone re-fitted on default's psi
    python benchmarks/code_paths.py compare default mkl aten mkl_m            # the stage-by-stage table
    python benchmarks/code_paths.py table published/code_paths/r2.csv         # every run's R^2, one csv
    python benchmarks/code_paths.py --seed 0 --seed 1 --seed 2 --cores 2 --saes run default   # + the K = 16 slice
    python benchmarks/code_paths.py spread published/code_paths/xeon          # its SAE metrics and probes

Each run writes results/cp_<name>/ (the paper's config, seed 0 or --seed, one base model); a variable set here
replaces the pipeline's pin (eqsae.pipeline.runtime.CODE_PATHS), since the shell's value wins.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from eqsae.io import read_table
from eqsae.paper.tables import PROBE_SUMMARY, SAE_METRICS
from eqsae.probing.probe import summarize
from eqsae.sources.shapes import read_activations

ROOT = Path(__file__).resolve().parents[1]


VARIANTS = ["regular", "wide", "twolayer", "invariant", "equivariant"]


def targets(name: str, model: str, seed: int, saes: bool, variants=VARIANTS) -> list[str]:
    """RESULT 1's R^2; with `saes`, also the K = 16 slice (paper practice): SAE metrics and probes of every variant."""
    run = f"results/cp_{name}/seed{seed}"
    out = [f"{run}/m/{model}/r2.csv"]
    if saes:
        out.append(f"{run}/probes/base/{model}.parquet")
        for variant in variants:
            out += [f"{run}/sae_metrics/paper/{model}/{variant}_k16.json", f"{run}/probes/paper/{model}/{variant}_k16.parquet"]
    return out


def snakemake(name: str, model: str, variables: list[str], *extra: str, seeds: tuple[int, ...] = (0,),
              saes: bool = False, cores: int = 1, variants=VARIANTS) -> None:
    """One Snakemake run of the seeds' targets; every job on one thread, as the published numbers were made."""
    env = {**os.environ, **dict(v.split("=", 1) for v in variables)}
    files = [f for seed in seeds for f in targets(name, model, seed, saes, variants)]
    command = ["snakemake", "--cores", str(cores), "--max-threads", "1", *files, "--config", f"run=cp_{name}", *extra]
    subprocess.run(command, cwd=ROOT, env=env, check=True)


def cross(source: str, name: str, model: str, variables: list[str]) -> None:
    """Re-fit M (and its R^2) under `variables` on the activations `source` made: M's own share."""
    for part in ("activations", "data"):
        shutil.copytree(ROOT / f"results/cp_{source}/seed0/{part}", ROOT / f"results/cp_{name}/seed0/{part}",
                        dirs_exist_ok=True)  # fmt: skip
    snakemake(name, model, variables, "--allowed-rules", "fit_m", "m_r2")


def stages(name: str, model: str) -> dict[str, object]:
    run = ROOT / f"results/cp_{name}/seed0"
    out: dict[str, object] = {}
    base = run / "base" / model
    if (base / "model.pt").exists():
        state = torch.load(base / "model.pt", map_location="cpu", weights_only=True)
        state = state.get("state_dict", state) if isinstance(state, dict) else state
        out["weights"] = np.concatenate([v.numpy().ravel() for v in state.values() if hasattr(v, "numpy")])
        out["train_mse"] = json.loads((base / "cfg.json").read_text()).get("final_train_mse")
    out["psi"] = read_activations(run / f"activations/{model}/probe.parquet").acts
    out["M"] = np.load(run / f"m/{model}/M.npy")
    out["m_loss"] = json.loads((run / f"m/{model}/fit.json").read_text())["final_loss"]
    r2 = pd.read_csv(run / f"m/{model}/r2.csv")
    turned = r2[~r2.element.isin(["mean", "std", "e", "identity", "0"])]
    out["r2"] = turned.r2_learned.mean()
    out["r2_identity"] = turned.r2_identity.mean()
    out["r2_elements"] = " / ".join(f"{v:.4f}" for v in turned.r2_learned)
    return out


def relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a, float) - b) / np.linalg.norm(b))


def compare(reference: str, others: list[str], model: str) -> pd.DataFrame:
    ref = stages(reference, model)
    rows = []
    for name in [reference, *others]:
        s = stages(name, model)
        rows.append({
            "code path": name,
            "base weights (rel. diff)": relative(s["weights"], ref["weights"]) if "weights" in s else None,
            "base train MSE": s.get("train_mse"),
            "psi (rel. diff)": relative(s["psi"], ref["psi"]),
            "M (rel. diff)": relative(s["M"], ref["M"]),
            "M fit loss": s["m_loss"],
            "R^2 learned": s["r2"],
            "R^2 M = I": s["r2_identity"],
            "R^2 p = 1 / 2 / 3": s["r2_elements"],
        })  # fmt: skip
    return pd.DataFrame(rows)


def machine(cfg: Path) -> dict[str, str]:
    """The CPU and the kernels a trained base model's provenance records (empty where it records none)."""
    cpu = json.loads(cfg.read_text()).get("provenance", {}).get("cpu", {}) if cfg.exists() else {}
    if not cpu:
        return {}
    variables = cpu.get("variables", {})
    return {"cpu": f"{cpu['model']} ({cpu['widest_isa']})", "torch_kernels": cpu["torch_capability"],
            "onednn_max_isa": variables.get("ONEDNN_MAX_CPU_ISA", ""), "mkl_cbwr": variables.get("MKL_CBWR", "")}


def table(root: Path) -> pd.DataFrame:
    """Every run's RESULT 1 row per element and seed, with its base and M fit losses: the published study."""
    rows = []
    for r2 in sorted(root.glob("results/cp_*/seed*/m/*/r2.csv")):
        seed_dir, name, model = r2.parents[2], r2.parents[3].name.removeprefix("cp_"), r2.parent.name
        base = seed_dir / "base" / model / "cfg.json"
        frame = pd.read_csv(r2).assign(
            code_path=name.removesuffix("_m"), **machine(base),
            stage="M alone, on the default's psi" if name.endswith("_m") else "whole seed",
            base_train_mse=json.loads(base.read_text())["final_train_mse"] if base.exists() else None,
            m_fit_loss=json.loads((r2.parent / "fit.json").read_text())["final_loss"])  # fmt: skip
        rows.append(frame[frame.element != "std"])
    return pd.concat(rows, ignore_index=True)


def run_name(path: Path) -> tuple[str, int]:
    """(code path, seed) of a file under results/cp_<path>/seed<s>/."""
    seed_dir = next(p for p in path.parents if p.name.startswith("seed"))
    return seed_dir.parent.name.removeprefix("cp_"), int(seed_dir.name.removeprefix("seed"))


def sae_table(root: Path) -> pd.DataFrame:
    """Every run's K = 16 SAE metrics, per code path and seed: RESULT 3's numbers."""
    rows = []
    for path in sorted(root.glob("results/cp_*/seed*/sae_metrics/paper/*/*_k16.json")):
        name, _ = run_name(path)
        rows.append({"code_path": name, **json.loads(path.read_text())})
    return pd.DataFrame(rows)


def probe_table(root: Path) -> pd.DataFrame:
    """Every run's K = 16 probe means per task group (best of three and XGBoost), per code path and seed."""
    frames = []
    for path in sorted(root.glob("results/cp_*/seed*/probes/*/*/*.parquet")):
        if "_k16" in path.name or path.parent.name == "base":
            frames.append(summarize(read_table(path)).assign(code_path=run_name(path)[0]))
    return pd.concat(frames, ignore_index=True).drop(columns=["n_tasks_no_positive"], errors="ignore")


def spread(frame: pd.DataFrame, values: list[str], reference: str = "default", seeds_of: str = "default") -> pd.DataFrame:
    """Per number: its mean and SD over `seeds_of`'s seeds, and each other code path's seed-0 shift from
    `reference`'s seed 0 in units of that SD times sqrt(2) (the SD of the difference of two independent seed draws):
    near |N(0, 1)| where a code path acts like another seed, far above where it moves a number more."""
    keys = [c for c in frame.columns if c not in (*values, "seed", "code_path", "n_tasks", "d_latent")]
    long = frame.melt(id_vars=[*keys, "seed", "code_path"], value_vars=values, var_name="number").dropna(subset=["value"])
    keys = [*keys, "number"]
    over = long[long.code_path == seeds_of].groupby(keys, dropna=False)["value"].agg(seed_mean="mean", seed_sd="std",
                                                                                     n_seeds="count")
    ref = long[(long.code_path == reference) & (long.seed == 0)].set_index(keys)["value"]
    rows = []
    for name, other in long[(long.code_path != reference) & (long.seed == 0)].groupby("code_path"):
        shift = other.set_index(keys)["value"] - ref
        rows.append(pd.DataFrame({"code_path": name, "seed0_reference": ref, "shift": shift}).dropna(subset=["shift"]))
    out = pd.concat(rows).join(over, how="left").reset_index()
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = out["shift"].abs() / (np.sqrt(2) * out["seed_sd"])
    out["shift_in_seed_sd"] = ratio.where(out["shift"] != 0, 0.0).where(np.isfinite(ratio) | (out["shift"] == 0))
    return out  # no seed spread but a shift: missing, and counted apart in the summary


def versus(published: pd.DataFrame, here: pd.DataFrame, reference: str = "default") -> pd.DataFrame:
    """RESULT 1 (mean over the turns) of each run here beside the published reference path's same seed, the
    shift in units of sqrt(2) x the published seeds' SD: what another machine moves."""
    def means(t: pd.DataFrame) -> pd.DataFrame:
        t = t[(t.element.astype(str) == "mean") & (t.stage == "whole seed")]
        return t.set_index(["code_path", "seed"])[["r2_learned", "r2_identity"]]

    ref = means(published).loc[reference]
    sd = ref.std(ddof=1)
    out = means(here).reset_index()
    for value in ("r2_learned", "r2_identity"):
        out[f"{value}_published"] = out.seed.map(ref[value])
        out[f"{value}_shift_in_seed_sd"] = (out[value] - out[f"{value}_published"]) / (np.sqrt(2) * sd[value])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mlp", choices=["mlp", "cnn"])
    parser.add_argument("--seed", type=int, action="append", help="run: a seed, repeatable (default 0; compare and "
                        "cross read seed 0)")  # fmt: skip
    parser.add_argument("--cores", type=int, default=1, help="run: jobs side by side, one thread each")
    parser.add_argument("--saes", action="store_true", help="run: also the K = 16 slice's SAEs, metrics and probes")
    parser.add_argument("--variant", action="append", choices=VARIANTS, help="run: with --saes, only these (repeatable)")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("name")
    run.add_argument("variables", nargs="*", help="VAR=VALUE")
    x = sub.add_parser("cross")
    x.add_argument("source")
    x.add_argument("name")
    x.add_argument("variables", nargs="*")
    c = sub.add_parser("compare")
    c.add_argument("reference")
    c.add_argument("others", nargs="*")
    t = sub.add_parser("table", help="every run's R^2 per seed and element as one csv")
    t.add_argument("out", type=Path)
    v = sub.add_parser("versus", help="this machine's R^2 table beside a published one, seed by seed")
    v.add_argument("published", type=Path)
    v.add_argument("here", type=Path)
    sp = sub.add_parser("spread", help="the K = 16 slice: saes.csv, probes.csv and spread.csv into a folder")
    sp.add_argument("out", type=Path)
    args = parser.parse_args()
    if args.command == "run":
        snakemake(args.name, args.model, args.variables, seeds=tuple(args.seed or [0]), saes=args.saes, cores=args.cores,
                  variants=args.variant or VARIANTS)
    elif args.command == "cross":
        cross(args.source, args.name, args.model, args.variables)
    elif args.command == "table":
        table(ROOT).to_csv(args.out, index=False, float_format="%.6g")
    elif args.command == "versus":
        print(versus(pd.read_csv(args.published), pd.read_csv(args.here)).to_markdown(index=False, floatfmt=".4g"))
    elif args.command == "spread":
        saes, probes = sae_table(ROOT), probe_table(ROOT)
        saes.to_csv(args.out / "saes.csv", index=False, float_format="%.6g")
        probes.to_csv(args.out / "probes.csv", index=False, float_format="%.6g")
        both = pd.concat([spread(saes, [c for c in SAE_METRICS if c in saes]).assign(table="sae_metrics"),
                          spread(probes, list(PROBE_SUMMARY)).assign(table="probes")], ignore_index=True)
        both.to_csv(args.out / "spread.csv", index=False, float_format="%.6g")
        summary = both.groupby(["table", "number", "code_path"])["shift_in_seed_sd"].describe(percentiles=[0.5])
        print(summary.to_markdown(floatfmt=".3g"))
    else:
        print(compare(args.reference, args.others, args.model).to_markdown(index=False, floatfmt=".4g"))


if __name__ == "__main__":
    main()
