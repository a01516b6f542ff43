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
GDIR = {name: "" if name == "C4" else f"{name}/" for name in [*GROUPS, *config["groups"]]}
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


# A replicate's source of orbits, the `model` of its paths: the Shapes' base autoencoders, the digits' network,
# the toy model or a user's table (eqsae.sources).
SOURCES = ["mlp", "cnn", "digits", "toy", "orbits"]


wildcard_constraints:
    gdir="|".join(GDIR.values()),  # "" (C4) or "D4/"
    model="|".join(SOURCES),
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
    return get_group(group_of(wildcards)).n_generators == 2


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


def orbit_tables(wildcards):
    """A replicate's orbit tables, `train` (M, R and the SAEs) and `held_out` (R^2, probes, metrics, the atlas): the
    Shapes' SAE and probing sets (each wholly its side: their `split` columns), or one table (the digits', the
    toy's, yours) that both name, split by orbits.held_out."""
    if wildcards.model in ("mlp", "cnn"):
        folder = f"{R}/{wildcards.gdir}seed{wildcards.seed}/activations/{wildcards.model}"
        return {"train": f"{folder}/sae.parquet", "held_out": f"{folder}/probe.parquet"}
    table = orbit_source(wildcards)
    return {"train": table, "held_out": table}


def orbit_settings(wildcards):
    """How a job finds its side of the orbits: the group and the split (the paper's runs: the Shapes' own)."""
    held_out = ORBITS["held_out"] if config["reproduce"] == "orbits" else "table"
    return {"group": group_of(wildcards), "held_out": held_out}


def label_settings(wildcards):
    """`orbit_settings` and the probing tasks: the paper's 180 (its runs) or the orbits section's."""
    if config["reproduce"] != "orbits":
        return orbit_settings(wildcards) | {"labels": [], "tasks": "paper"}
    return orbit_settings(wildcards) | {key: value for key, value in LABELS.items() if key not in SPLIT}


def get_training_input(wildcards):
    """An SAE's training orbits, and for an archetypal dictionary the anchors it is built from."""
    inputs = {"train": orbit_tables(wildcards)["train"]}
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


def source_kind(wildcards):
    """The kind of a replicate's source (eqsae.orbit_pipeline.source_network): the Shapes' two base models are one."""
    return "shapes" if wildcards.model in ("mlp", "cnn") else wildcards.model


def source_network_input(wildcards, seed=None, images=True):
    """The base network of a source that has one (a Shapes base autoencoder, the digits' network; none for the toy
    or a user's table) and, with `images`, the held-out orbits' images where the source has them (yours:
    orbits.images)."""
    seed = wildcards.seed if seed is None else seed
    folder = f"{R}/{wildcards.get('gdir', '')}seed{seed}"
    inputs = {}
    if wildcards.model in ("mlp", "cnn"):
        inputs = {"base": f"{folder}/base/{wildcards.model}/model.pt", "images": f"{folder}/data/probe.npz"}
    elif wildcards.model == "digits":  # the digits' network is the replicate's, whatever the group
        inputs = {"base": f"{R}/seed{seed}/digits/base/model.pt", "images": f"{R}/seed{seed}/digits/images.npz"}
    elif wildcards.model == "orbits" and ORBITS["images"]:
        inputs = {"images": ORBITS["images"]}
    return inputs if images else {key: path for key, path in inputs.items() if key != "images"}


def at_seed(wildcards, seed):
    """A job's wildcards at another replicate (the first seed's cards), C4's folder where it has none."""
    return Keys({"gdir": "", **dict(wildcards.items()), "seed": seed})


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
        cards = orbit_grid(f"{R}/figures/atlas/cards/{{training}}/{SOURCE_NAME}_{{variant}}_k{{k}}", seed=[FIRST])
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
    """An SAE's weights (get_sae_input) and the held-out orbits. An equivariant SAE's latents are its trained SAE's,
    so are their probes: where this run probes that SAE and latents anyway, its probe table comes too and its
    latent rows are copied."""
    inputs = get_sae_input(wildcards) | {"held_out": orbit_tables(wildcards)["held_out"]}
    trained = TRAINED_BY.get(wildcards.variant)
    if trained in config["variants"] and "latents" in config["probe"]["representations"]:
        table = f"{S}/probes/{{training}}/{{model}}/{trained}_k{{k}}.parquet"
        inputs["trained_probes"] = table.format(**wildcards)
    return inputs


# An SAE's settings from the `sae` section as params, only those it reads: AuxK belongs to the standard practice,
# lambda to the paired invariance losses, the relaxation and anchors to the archetypal dictionary, so changing
# one leaves the other SAEs cached. Every source's SAEs (train_sae) take them.
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
DIGITS = f"{R}/seed{{seed}}/digits"
ORBIT_MODEL = config["models"][0]  # the Shapes source's one base model (checked at start-up)
SOURCE_NAME = {"digits": "digits", "shapes": ORBIT_MODEL, "toy": "toy"}.get(ORBITS["source"], "orbits")
# An orbits run's replicate: M, the SAEs, their probes and metrics in the paper's layout, its source as the model
# (results/<run>/seed<s>/m/digits/M.npy); what only the orbits branch has under orbits/ (the atlas, toy scores).
OS = f"{R}/{GDIR[ORBIT_GROUP]}seed{{seed}}"
O = f"{R}/seed{{seed}}/orbits"


def orbit_source(wildcards):
    """The one orbit table of a replicate of the digits, the toy or yours (orbits.activations)."""
    if ORBITS["source"] in ("digits", "toy"):
        return f"{R}/seed{{seed}}/{ORBITS['source']}/orbits.parquet".format(seed=wildcards.seed)
    return ORBITS["activations"]


class Keys(dict):
    """Wildcards made in code (a mapping whose keys read as attributes, as Snakemake's)."""

    __getattr__ = dict.__getitem__


def orbit_keys(wildcards, seed=None):
    """One orbit SAE's wildcards in the paper's layout, at another replicate where `seed` is given (the cards:
    the first seed's)."""
    seed = wildcards.seed if seed is None else seed
    return Keys(gdir=GDIR[ORBIT_GROUP], seed=seed, model=SOURCE_NAME, training=wildcards.training,
                variant=wildcards.variant, k=wildcards.k)  # fmt: skip


def orbit_sae_input(wildcards, seed=None):
    """An orbit SAE's weights with M (and R): its trained SAE's for an equivariant one; and its held-out table."""
    wc = orbit_keys(wildcards, seed)
    return get_sae_input(wc, with_m=True) | {"table": orbit_tables(wc)["held_out"]}


def orbit_truth_input(wildcards):
    """An orbit SAE of the toy source is scored against the truth written beside the table."""
    return orbit_sae_input(wildcards) | {"truth": f"{R}/seed{{seed}}/toy/truth.npz".format(seed=wildcards.seed)}


def orbit_images():
    """Whether an orbits run's source has images of its orbits (the digits', the Shapes' probing set; yours with
    orbits.images): the cards and the explorer need them."""
    return ORBITS["source"] in ("digits", "shapes") or bool(ORBITS["images"])


def explorer_parts():
    """Every SAE's part of the run's explorer: the paper's (C4) or an orbit table's."""
    if config["reproduce"] == "orbits":
        return orbit_grid(f"{R}/explorer_saes/seed{{seed}}/{{training}}/{SOURCE_NAME}/{{variant}}_k{{k}}")
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
