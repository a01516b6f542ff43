import os
import sys
from argparse import Namespace
from functools import cache
from pathlib import Path

# Jobs import eqsae from this checkout (PYTHONPATH below); the Snakefile does too, so the config checks and
# the code hashes below see the very code the jobs will run.
SRC = Path(workflow.basedir) / "src"
sys.path.insert(0, str(SRC))

from eqsae.pipeline.codehash import code_digest, files_digest
from eqsae.pipeline.config import TRAINED_BY, VARIANTS, uses_anchors
from eqsae.group import GROUPS, get_group
from eqsae.pipeline.runtime import code_path_env
from eqsae.sources import PRE_RELU_SOURCES
from eqsae.sources.toy import toy_source_settings
from eqsae.pipeline.validate import (
    TOY_SIZE,
    check_config_files,
    check_run_identity,
    check_sae_memory,
    orbit_sae_memory_mb,
    toy_size,
    validate_config,
)


def command_line_config(argv):
    """How many --configfile flags, and the KEY words after --config (up to the next option), on the command line."""
    flags = sum(arg.split("=")[0] in ("--configfile", "--configfiles") for arg in argv)
    keys, inside = [], False
    for arg in argv:
        if arg.startswith("-"):
            inside = arg == "--config"
        elif inside and "=" in arg:
            keys.append(arg.split("=", 1)[0])
    return flags, keys


# Checked before any job: an unknown key, a wrong type, an out-of-range value or values that cannot work
# together stop the run here, naming the key.
if workflow.is_main_process:
    FLAGS, CLI_KEYS = command_line_config(sys.argv)
    check_config_files(workflow.overwrite_configfiles, workflow.config_settings.overwrite_config, FLAGS, CLI_KEYS)
validate_config(config, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml")

R = f"results/{config['run']}"  # every output of this run; another run name never touches it
# Sizes below the paper's: the findings and the report's landing page say so (the report reads it from config).
TOY_SIZE_REASONS = toy_size(config, Path(workflow.basedir) / "config")
TOY_SIZE_BANNER = f"{TOY_SIZE} ({', '.join(TOY_SIZE_REASONS)})" if TOY_SIZE_REASONS else ""
config["toy_size"] = TOY_SIZE_BANNER
if workflow.is_main_process:  # a folder made by another kind of config is refused, dry runs included
    check_run_identity(R, config, write=False)


onstart:
    # Only a real run gets here (not a dry run), and only here is the executor known: record this run's kind in
    # its folder, and where jobs run on this machine, check that a user's dictionary fits its memory.
    check_run_identity(R, config, write=True)
    if workflow.local_exec:
        check_sae_memory(config)


# One replicate of one group: everything seeded (images, inits, batches, probe split) from its seed. C4, v1's
# group, keeps v1's layout (results/<run>/seed<s>/); any other group has its own folder (results/<run>/D4/seed<s>/).
S = f"{R}/{{gdir}}seed{{seed}}"
GDIR = {name: "" if name == "C4" else f"{name}/" for name in GROUPS}
if workflow.is_main_process:
    files = [
        os.path.relpath(f) for f in [Path(workflow.basedir) / "config/config.yaml", *workflow.overwrite_configfiles]
    ]
    print(f"eqsae: run '{config['run']}' -> {R}/ (config files: {', '.join(files)})", file=sys.stderr)
    if TOY_SIZE_BANNER:
        print(f"eqsae: {TOY_SIZE_BANNER}", file=sys.stderr)

# glibc's defaults make torch's CPU allocator page-fault on every optimizer step (measured: 2,000 faults and
# 5.3 ms per Adam step against none and 0.55 ms); jobs inherit these.
os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", "33554432")
os.environ.setdefault("MALLOC_TRIM_THRESHOLD_", "1073741824")
# The CPU code path (eqsae.pipeline.runtime.CODE_PATHS), like `device` a runtime knob that re-runs nothing; jobs inherit
# it, and a variable already set in the shell wins.
for name, value in code_path_env(config["cpu_code_path"]).items():
    os.environ.setdefault(name, value)

# More --cores than the machine has puts torch jobs side by side on shared cores, where OpenMP's spinning
# barriers make each many times slower (measured: a CNN epoch 1.6 s alone, 16 s beside a twin). Passive
# waiting shares the cores fairly instead (3.9 s each), so `--cores 8` on a 2-core machine loses nothing.
# Otherwise each job chooses at start-up from the machine's load (eqsae.pipeline.runtime.wait_politely): passive
# waiting costs a 2-thread job ~20% alone and saves 2.3-2.9x beside other load (benchmarks/omp_wait.py).
if (workflow.resource_settings.cores or 0) > len(os.sched_getaffinity(0)):
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Jobs import eqsae from this checkout, also inside a `--sdm conda` environment built from envs/eqsae.yaml.
# (Lint asks for `envvars:` here; PYTHONPATH is optional, we only extend it, so asserting it would be wrong.)
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))
ENV = "../../envs/eqsae.yaml"  # every rule's conda environment: the versions of requirements.lock

# Jobs that gate a branch (the images, base autoencoders, activations, M, the SAEs) start before the probes and
# atlas jobs that only end one: Snakemake starts the highest-priority ready jobs first (`priority:`). It does not
# hold cores back for a waiting job, though: each core that frees goes to the next ready job that fits, so a
# job asking for every core of the run waits behind a stream of 1-thread jobs until all cores free at once (a
# `--cores 2` run's 2-thread fit_m did, leaving a core idle while the equivariant branch waited for M). A gating
# job therefore asks for at most one core fewer than the run has (config threads, else).
PRIORITY = {"dataset": 4, "train_base": 3, "activations": 3, "fit_m": 2, "train_sae": 1}


def gating_threads(stage: str) -> int:
    """config["threads"][stage], at most --cores - 1 where a local run has more than one core. A cluster run asks
    for the configured threads: each job gets its own CPUs there (and re-reads this file inside its allocation)."""
    cores = workflow.resource_settings.cores
    local = workflow.is_main_process and workflow.local_exec and cores and cores > 1
    return min(config["threads"][stage], cores - 1) if local else config["threads"][stage]


IMAGE_SETS = ["base", "sae", "probe"]  # independently seeded: base-AE training, SAE and M training, probing


wildcard_constraints:
    gdir="|".join(GDIR.values()),  # "" (C4) or "D4/"
    model="|".join(["mlp", "cnn"]),
    image_set="|".join(IMAGE_SETS),
    act_set="sae|probe",
    training="paper|standard",
    k=r"\d+",
    seed=r"\d+",


def log_path(rule, pattern):
    return f"{R}/logs/{rule}/{pattern}.log"


def benchmark_path(rule, pattern):
    return f"{R}/benchmarks/{rule}/{pattern}.tsv"


@cache
def get_code(script):
    """Hash of the library code a stage script runs, a param of its rule: editing that code re-runs the stage
    and everything downstream (comments and layout do not count)."""
    return code_digest(Path(workflow.basedir) / "workflow/scripts" / script, SRC / "eqsae")


def seed_of(wildcards):
    """A job's seed is its replicate's: seed s does what a single run with seed s did before seeds were an axis."""
    return int(wildcards.seed)


def group_of(wildcards):
    """The group a job works under, from its folder ("" is C4)."""
    return wildcards.gdir[:-1] or "C4"  # gdir is "" or "<group>/"


def two_generators(wildcards):
    return GROUPS[group_of(wildcards)].n_generators == 2


def get_generators(wildcards, seed=None):
    """The model's fitted M (and R, for a group of two generators) of the job's group and replicate."""
    folder = f"{R}/{wildcards.gdir}seed{wildcards.seed if seed is None else seed}/m/{wildcards.model}"
    return {"m": f"{folder}/M.npy", **({"r": f"{folder}/R.npy"} if two_generators(wildcards) else {})}


SAE = f"{S}/sae/{{training}}/{{model}}/{{variant}}/k{{k}}"  # one trained SAE: sae.safetensors + cfg.json


def get_sae_input(wildcards, seed=None, with_m=False):
    """An SAE's weights and cfg.json; an equivariant SAE is its invariant SAE plus the model's fitted M (and R).
    `seed`: that replicate's SAE instead of the job's own (jobs without a seed wildcard); `with_m`: the model's
    M for every variant (the atlas reads every SAE through it)."""
    seed = wildcards.seed if seed is None else seed
    gdir = wildcards.get("gdir", "")
    trained = TRAINED_BY.get(wildcards.variant, wildcards.variant)
    sae = SAE.format(**{**wildcards, "gdir": gdir, "seed": seed, "variant": trained})
    inputs = {"sae": f"{sae}/sae.safetensors", "sae_cfg": f"{sae}/cfg.json"}
    if with_m or wildcards.variant in TRAINED_BY:
        inputs |= get_generators(Namespace(gdir=gdir, model=wildcards.model, seed=seed))
    return inputs


def get_training_input(wildcards):
    """An SAE's training activations, and for an archetypal dictionary the anchors it is built from."""
    inputs = {"acts": f"{R}/{wildcards.gdir}seed{wildcards.seed}/activations/{wildcards.model}/sae.parquet"}
    if uses_anchors(wildcards.variant):
        inputs["anchors"] = f"{R}/{wildcards.gdir}seed{wildcards.seed}/anchors/{wildcards.model}.npy"
    return inputs


def group_dirs(groups=None):
    """Each group's folder under the run (a toy run's cyclic groups get one too; no image rule is asked for it)."""
    return [GDIR.get(g, f"{g}/") for g in (config["groups"] if groups is None else groups)]


def extra_seeds():
    """(seeds, K): the extra replicates at the headline K (config key extra_seeds), those `topk` runs."""
    ks = [k for k in config["extra_seeds"]["topk"] if k in config["topk"]]
    seeds = [s for s in config["extra_seeds"]["seeds"] if s not in config["seeds"]] if ks else []
    return seeds, ks


def sae_grid(pattern, groups=None):
    """Every SAE of the grid: seeds x K, and the extra seeds at their K."""
    both = dict(gdir=group_dirs(groups), training=config["sae_training"], model=config["models"],
                variant=config["variants"])  # fmt: skip
    seeds, ks = extra_seeds()
    return expand(pattern, seed=config["seeds"], k=config["topk"], **both) + expand(pattern, seed=seeds, k=ks, **both)


def seed_grid(pattern, groups=None, **wildcards):
    return expand(pattern, gdir=group_dirs(groups), seed=config["seeds"] + extra_seeds()[0], **wildcards)


def get_final_output():
    """What `all` makes: v1's results, v2's tables beside its published numbers, or v2's toy model (config key
    reproduce)."""
    if config["reproduce"] == "orbits":
        tables = [
            f"{R}/tables/orbits/{name}"
            for name in ("result1_m_fit.csv", "probe_summary.csv", "sae_metrics.csv", "atlas_census.csv")
        ]
        if ORBITS["source"] == "toy":
            tables.append(f"{R}/tables/orbits/toy_scores.csv")
        if not (orbit_images() and ORBIT_GROUP == "C4"):  # the atlas's figures need images and quarter turns
            return tables
        cards = orbit_grid(f"{R}/figures/atlas/cards/orbits/{{training}}/{{variant}}_k{{k}}", seed=[FIRST])
        return [*tables, f"{R}/explorer", *cards]
    if config["reproduce"] == "toy":
        return [
            f"{R}/tables/toy/table3.csv",
            f"{R}/tables/toy/toy_claims.csv",
            *expand(f"{R}/figures/toy/figure2_{{canonical}}.png", canonical=config["toy"]["canonical"]),
        ]
    both = [
        f"{R}/tables/result1_m_fit.csv",
        *seed_grid(f"{S}/base/{{model}}/heldout.json", model=config["models"]),
        f"{R}/tables/sae_metrics.csv",
        f"{R}/tables/probe_summary.csv",
    ]
    if config["reproduce"] == "v2":
        return [
            *both,
            f"{R}/tables/v2/table1.csv",
            f"{R}/tables/v2/tables4_5.csv",
            *expand(f"{R}/figures/v2/figure3_{{model}}.png", model=config["models"]),
        ]
    return [
        *both,
        f"{R}/figures/figure4.png",
        f"{R}/tables/claims.csv",
        *expand(
            f"{R}/figures/probing/{{training}}_{{model}}_t{{t}}.png",
            training=config["sae_training"],
            model=config["models"],
            t=config["truncations"],
        ),
        f"{R}/tables/atlas_redundancy.csv",
        f"{R}/figures/atlas/census.png",
        *expand(
            f"{R}/figures/atlas/cards/{{training}}/{{model}}_{{variant}}_k{{k}}",
            training=config["sae_training"],
            model=config["models"],
            variant=config["variants"],
            k=config["topk"],
        ),
        *expand(f"{R}/figures/atlas/m_diagnostics_{{model}}.png", model=config["models"]),
        f"{R}/figures/figure2_dataset.png",
        f"{R}/explorer",
    ]


# Inputs of the probes (workflow/rules/probe.smk).
def get_probe_input(wildcards):
    """An SAE's weights (get_sae_input). An equivariant SAE's latents are its trained SAE's, so are their probes:
    where this run probes that SAE and latents anyway, its probe table comes too and its latent rows are copied."""
    inputs = get_sae_input(wildcards)
    trained = TRAINED_BY.get(wildcards.variant)
    if trained in config["variants"] and "latents" in config["probe"]["representations"]:
        table = f"{S}/probes/{{training}}/{{model}}/{trained}_k{{k}}.parquet"
        inputs["trained_probes"] = table.format(**wildcards)
    return inputs


# An SAE's settings from the `sae` section as params, only those it reads: AuxK belongs to the standard practice,
# lambda to the paired invariance losses, the relaxation and anchors to the archetypal dictionary, so changing
# one leaves the other SAEs cached. The paper's SAEs (train_sae) and an orbit table's (orbits_sae, the paper
# practice) take the same.
def sae_auxk(wc):
    return (
        {k: config["sae"][k] for k in ("auxk_alpha", "k_aux")} if getattr(wc, "training", "paper") == "standard" else {}
    )


def sae_paired(wc):
    return (
        {"invariance_lambda": config["sae"]["invariance_lambda"]}
        if VARIANTS[wc.variant][1] in ("latent", "output")
        else {}
    )


def sae_architecture(wc):
    return {"d_hidden": config["sae"]["d_hidden"]} | (
        {"relax_delta": config["sae"]["relax_delta"]} if uses_anchors(wc.variant) else {}
    )


def sae_activation(wc):
    """The default (signed) adds nothing, so runs made before the setting existed stay cached."""
    return {} if config["sae"]["topk_activation"] == "signed" else {"topk_activation": config["sae"]["topk_activation"]}


def sae_anchors(wc):
    return {"n_anchors": config["sae"]["anchors"]} if uses_anchors(wc.variant) else {}


# Paths of the toy model (workflow/rules/toy.smk).
TOY = config["toy"]
TOY_RUN = f"{R}/toy/{{canonical}}/g{{order}}/n{{n}}/seed{{seed}}"
TOY_ORDERS = [get_group(name).order for name in config["groups"]]  # the toy's cyclic groups, by orbit size
# What a toy job reads: its section but the grid axes (wildcards), and its K (topk, one per toy run).
TOY_SETTINGS = {key: value for key, value in TOY.items() if key not in ("n_features", "canonical")}
TOY_SETTINGS["k"] = config["topk"][0]


def toy_grid(pattern):
    return expand(pattern, canonical=TOY["canonical"], order=TOY_ORDERS, n=TOY["n_features"], seed=config["seeds"])


# Paths and inputs of your own orbits (workflow/rules/orbits.smk).
ORBITS = config["orbits"]
ORBIT_GROUP = config["groups"][0]  # the one group an orbit table counts (checked at start-up)
O = f"{R}/seed{{seed}}/orbits"  # one replicate: its split of the orbits, M, SAEs, probes, atlas
DIGITS = f"{R}/seed{{seed}}/digits"


ORBIT_MODEL = config["models"][0]  # the Shapes source's one base model (checked at start-up)
SHAPES_SEED = f"{R}/{group_dirs([ORBIT_GROUP])[0]}seed{{seed}}"  # the Shapes source's image sets and base model
SOURCE_NAME = {"digits": "digits", "shapes": ORBIT_MODEL}.get(ORBITS["source"], "orbits")  # the explorer's base model


def orbit_source(wildcards):
    """The orbit table a replicate reads: yours (orbits.activations), or the digits', the Shapes' or the toy's of
    that seed."""
    if ORBITS["source"] in ("digits", "shapes", "toy"):
        return f"{R}/seed{{seed}}/{ORBITS['source']}/orbits.parquet".format(seed=wildcards.seed)
    return ORBITS["activations"]


def orbit_keys(wildcards, seed=None):
    """One orbit SAE's wildcards, at another replicate where `seed` is given (the cards: the first seed's)."""
    seed = wildcards.seed if seed is None else seed
    return Namespace(seed=seed, training=wildcards.training, variant=wildcards.variant, k=wildcards.k)


def orbit_sae_input(wildcards, seed=None):
    """An orbit SAE's weights (its trained SAE's, with M, for an equivariant one) and the table it reads."""
    wc = orbit_keys(wildcards, seed)
    trained = TRAINED_BY.get(wc.variant, wc.variant)
    sae = f"{O}/sae/{wc.training}/{trained}/k{wc.k}/sae.safetensors".format(seed=wc.seed)
    inputs = {"sae": sae, "table": orbit_source(wc)}
    if wc.variant in TRAINED_BY:
        inputs["generators"] = f"{O}/m/generators.npy".format(seed=wc.seed)
    return inputs


def orbit_atlas_input(wildcards, seed=None):
    """The atlas reads every SAE through M, and draws its latents with the source's decoder (the digits' or the
    Shapes' base network; a user's table has none)."""
    wc = orbit_keys(wildcards, seed)
    inputs = orbit_sae_input(wc) | {"generators": f"{O}/m/generators.npy".format(seed=wc.seed)}
    if ORBITS["source"] == "digits":
        inputs["base"] = f"{DIGITS}/base/model.pt".format(seed=wc.seed)
    if ORBITS["source"] == "shapes":
        inputs["base"] = f"{SHAPES_SEED}/base/{ORBIT_MODEL}/model.pt".format(seed=wc.seed)
    return inputs


def orbit_truth_input(wildcards):
    """An orbit SAE of the toy source is scored against the truth written beside the table."""
    return orbit_sae_input(wildcards) | {"truth": f"{R}/seed{{seed}}/toy/truth.npz".format(seed=wildcards.seed)}


def orbit_metrics_input(wildcards):
    """An orbit SAE's metrics read its weights (M too for an equivariant one) and, where the source has a base
    network, that network and the orbits' images (the spliced loss)."""
    inputs = orbit_sae_input(wildcards)
    base = orbit_atlas_input(wildcards).get("base")
    return inputs | ({"base": base, "images": orbit_images().format(seed=wildcards.seed)} if base else {})


def orbit_images():
    """The file of the orbits' input images, where the source has them (the digits', the Shapes'; yours with
    orbits.images)."""
    if ORBITS["source"] in ("digits", "shapes"):
        return f"{R}/seed{{seed}}/{ORBITS['source']}/images.npz"
    return ORBITS["images"] or None


def orbit_explorer_input(wildcards, seed=None):
    """An orbit SAE's part of the explorer (and its cards) reads what its atlas read, its atlas rows and the
    orbits' images."""
    wc = orbit_keys(wildcards, seed)
    return orbit_atlas_input(wc) | {
        "images": orbit_images().format(seed=wc.seed),
        "atlas": f"{O}/atlas/{wc.training}/{wc.variant}_k{wc.k}.parquet".format(seed=wc.seed),
    }


def explorer_parts():
    """Every SAE's part of the run's explorer: the paper's (C4) or an orbit table's."""
    if config["reproduce"] == "orbits":
        return orbit_grid(f"{R}/explorer_saes/seed{{seed}}/orbits/{{training}}/{{variant}}_k{{k}}")
    return sae_grid(f"{R}/explorer_saes/{{gdir}}seed{{seed}}/{{training}}/{{model}}/{{variant}}_k{{k}}", groups=["C4"])


def orbit_grid(pattern, **wildcards):
    axes = dict(seed=config["seeds"], training=config["sae_training"], variant=config["variants"], k=config["topk"])
    return expand(pattern, **(axes | wildcards))


def trained_grid(pattern):
    """`orbit_grid` over the trained SAEs only: an equivariant SAE's dictionary and latents are its trained SAE's."""
    return orbit_grid(pattern, variant=[v for v in config["variants"] if v not in TRAINED_BY])


# Each rule's params are exactly the settings its stage reads (an XGBoost setting re-runs the probes only): the
# split of the orbits (every stage), then its own section.
SPLIT = {"group": ORBIT_GROUP, "held_out": ORBITS["held_out"]}
TOY_SOURCE = toy_source_settings(TOY)  # the toy source's one dataset per seed
LABELS = {**SPLIT, "labels": ORBITS["labels"]}
if ORBITS["tasks"] != "labels":  # only where set, so that runs from before the key keep their jobs
    LABELS["tasks"] = ORBITS["tasks"]


def report_tables(outputs):
    """The HTML page (rule table_html) of every table among `all`'s outputs and the run's other report tables."""
    extra = {
        "v1": ["claims.csv", "probe_summary.csv", "sae_metrics.csv", "atlas_census.csv", "atlas_redundancy.csv"],
        "v2": ["probe_summary.csv", "sae_metrics.csv", "v2/table1.csv", "v2/tables4_5.csv"],
        "toy": ["toy/toy_summary.csv", "toy/table3.csv", "toy/toy_claims.csv"],
    }.get(config["reproduce"], [])
    tables = {path for path in outputs if path.startswith(f"{R}/tables/") and path.endswith(".csv")}
    tables |= {f"{R}/tables/{name}" for name in extra}
    return sorted(path.replace(f"{R}/tables/", f"{R}/report/tables/").replace(".csv", ".html") for path in tables)
