import os
from pathlib import Path

from eqsae.config import validate_config

# Checked before any job: an unknown key, a wrong type or an out-of-range value stops the run here.
validate_config(config, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml")

# glibc's defaults make torch's CPU allocator page-fault on every optimizer step (notes/cpu-costs.md);
# jobs inherit these.
os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", "33554432")
os.environ.setdefault("MALLOC_TRIM_THRESHOLD_", "1073741824")

# More --cores than the machine has puts torch jobs side by side on shared cores, where OpenMP's spinning
# barriers make each many times slower (measured: a CNN epoch 1.6 s alone, 16 s beside a twin). Passive
# waiting shares the cores fairly instead (3.9 s each), so `--cores 8` on a 2-core machine loses nothing.
if (workflow.resource_settings.cores or 0) > len(os.sched_getaffinity(0)):
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Jobs import eqsae from this checkout, also inside a `--sdm conda` environment built from envs/eqsae.yaml.
# (Lint asks for `envvars:` here; PYTHONPATH is optional, we only extend it, so asserting it would be wrong.)
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [str(Path(workflow.basedir) / "src"), os.environ.get("PYTHONPATH")])
)
ENV = "../../envs/eqsae.yaml"  # every rule's conda environment: the same pins as pyproject.toml

R = "results"
IMAGE_SETS = ["base", "sae", "probe"]  # independently seeded: base-AE training, SAE and M training, probing


wildcard_constraints:
    model="|".join(["mlp", "cnn"]),
    image_set="|".join(IMAGE_SETS),
    act_set="sae|probe",
    training="paper|standard",
    k=r"\d+",


def log_path(rule, pattern):
    return f"{R}/logs/{rule}/{pattern}.log"


def benchmark_path(rule, pattern):
    return f"{R}/benchmarks/{rule}/{pattern}.tsv"


SAE = f"{R}/sae/{{training}}/{{model}}/{{variant}}/k{{k}}"  # one trained SAE: sae.pt + cfg.json


def get_sae_input(wildcards):
    """An SAE's weights; the equivariant SAE is the invariant SAE plus the model's fitted M."""
    if wildcards.variant == "equivariant":
        sae = SAE.format(**{**wildcards, "variant": "invariant"})
        return {"sae": f"{sae}/sae.pt", "m": f"{R}/m/{wildcards.model}/M.npy"}
    return {"sae": f"{SAE.format(**wildcards)}/sae.pt"}


def sae_grid(pattern):
    return expand(pattern, training=config["sae_training"], model=config["models"], variant=config["variants"],
                  k=config["topk"])  # fmt: skip


def get_final_output():
    return [
        f"{R}/tables/result1_m_fit.csv",
        *expand(f"{R}/base/{{model}}/cfg.json", model=config["models"]),
        f"{R}/tables/sae_metrics.csv",
        f"{R}/figures/figure4.png",
        f"{R}/tables/probe_summary.csv",
        f"{R}/tables/claims.csv",
        *expand(f"{R}/figures/probing/{{training}}_{{model}}_t{{t}}.png", training=config["sae_training"],
                model=config["models"], t=config["truncations"]),  # fmt: skip
    ]
