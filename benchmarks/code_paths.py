"""Where do results diverge between CPU code paths? One seed through the base autoencoder, its activations,
M and RESULT 1's R^2, under the code paths torch's CPU back ends can be told to take, compared stage by stage.

    python benchmarks/code_paths.py run default                               # this machine's own path
    python benchmarks/code_paths.py run mkl MKL_CBWR=COMPATIBLE               # MKL's portable kernels
    python benchmarks/code_paths.py run aten ATEN_CPU_CAPABILITY=default      # torch's unvectorised kernels
    python benchmarks/code_paths.py cross default mkl_m MKL_CBWR=COMPATIBLE   # M alone re-fitted on default's psi
    python benchmarks/code_paths.py compare default mkl aten mkl_m            # the stage-by-stage table
    python benchmarks/code_paths.py table published/code_paths/r2.csv         # every run's R^2, one csv

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

from eqsae.sources.shapes import read_activations

ROOT = Path(__file__).resolve().parents[1]


def snakemake(name: str, model: str, variables: list[str], *extra: str, seed: int = 0) -> None:
    env = {**os.environ, **dict(v.split("=", 1) for v in variables)}
    target = f"results/cp_{name}/seed{seed}/m/{model}/r2.csv"
    command = ["snakemake", "--cores", "1", target, "--config", f"run=cp_{name}", *extra]
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


def table(root: Path) -> pd.DataFrame:
    """Every run's RESULT 1 row per element and seed, with its base and M fit losses: the published study."""
    rows = []
    for r2 in sorted(root.glob("results/cp_*/seed*/m/*/r2.csv")):
        seed_dir, name, model = r2.parents[2], r2.parents[3].name.removeprefix("cp_"), r2.parent.name
        base = seed_dir / "base" / model / "cfg.json"
        frame = pd.read_csv(r2).assign(
            code_path=name.removesuffix("_m"),
            stage="M alone, on the default's psi" if name.endswith("_m") else "whole seed",
            base_train_mse=json.loads(base.read_text())["final_train_mse"] if base.exists() else None,
            m_fit_loss=json.loads((r2.parent / "fit.json").read_text())["final_loss"])  # fmt: skip
        rows.append(frame[frame.element != "std"])
    return pd.concat(rows, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mlp", choices=["mlp", "cnn"])
    parser.add_argument("--seed", type=int, default=0, help="run: which seed (compare and cross use seed 0)")
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
    args = parser.parse_args()
    if args.command == "run":
        snakemake(args.name, args.model, args.variables, seed=args.seed)
    elif args.command == "cross":
        cross(args.source, args.name, args.model, args.variables)
    elif args.command == "table":
        table(ROOT).to_csv(args.out, index=False, float_format="%.6g")
    else:
        print(compare(args.reference, args.others, args.model).to_markdown(index=False, floatfmt=".4g"))


if __name__ == "__main__":
    main()
