# Your own orbits (reproduce: orbits): an orbit table (eqsae.sources.orbit_table) from your model, scikit-learn's
# handwritten digits through a base network trained here (orbits.source: digits, config/digits.yaml), the paper's
# Shapes through one of its base autoencoders (orbits.source: shapes), or the toy model with its truth (orbits.source:
# toy). M, the SAE variants, their probes and metrics are the paper's own rules (transform.smk, sae.smk, probe.smk),
# the atlas, its cards and the explorer too (atlas.smk, explorer.smk); here: the sources, the truth scores, the tables.


rule digits_base:
    output:
        weights=f"{DIGITS}/base/model.pt",
        cfg=f"{DIGITS}/base/cfg.json",
    log:
        log_path("digits_base", "seed{seed}"),
    benchmark:
        benchmark_path("digits_base", "seed{seed}")
    priority: PRIORITY["train_base"]
    conda:
        ENV
    threads: gating_threads("train_base")
    resources:
        mem_mb=1500,
        runtime=20,
    params:
        digits=ORBITS["digits"],
        group=ORBIT_GROUP,
        seed=seed_of,
        code=get_code("digits_base.py"),
    script:
        "../scripts/digits_base.py"


rule digits_activations:
    input:
        weights=f"{DIGITS}/base/model.pt",
    output:
        table=f"{DIGITS}/orbits.parquet",
        images=f"{DIGITS}/images.npz",
    log:
        log_path("digits_activations", "seed{seed}"),
    benchmark:
        benchmark_path("digits_activations", "seed{seed}")
    priority: PRIORITY["activations"]
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1500,
        runtime=5,
    params:
        digits=ORBITS["digits"],
        group=ORBIT_GROUP,
        seed=seed_of,
        code=get_code("digits_activations.py"),
    script:
        "../scripts/digits_activations.py"


rule toy_orbits:
    output:
        table=f"{R}/seed{{seed}}/toy/orbits.parquet",
        truth=f"{R}/seed{{seed}}/toy/truth.npz",
    log:
        log_path("toy_orbits", "seed{seed}"),
    benchmark:
        benchmark_path("toy_orbits", "seed{seed}")
    priority: PRIORITY["activations"]
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1500,
        runtime=5,
    params:
        toy=TOY_SOURCE,
        group=ORBIT_GROUP,
        seed=seed_of,
        code=get_code("toy_orbits.py"),
    script:
        "../scripts/toy_orbits.py"


# The toy source's planted features: each trained SAE's recovery, detection and symmetry classes.
rule orbits_toy_scores:
    input:
        unpack(orbit_truth_input),
    output:
        f"{O}/toy_scores/{{training}}/{{variant}}_k{{k}}.json",
    log:
        log_path("orbits_toy_scores", "seed{seed}/{training}/{variant}_k{k}"),
    benchmark:
        benchmark_path("orbits_toy_scores", "seed{seed}/{training}/{variant}_k{k}")
    conda:
        ENV
    threads: config["threads"]["probe"]
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        orbits=SPLIT,
        seed=seed_of,
        code=get_code("orbits_toy_scores.py"),
    script:
        "../scripts/orbits_toy_scores.py"


rule orbits_toy_table:
    input:
        trained_grid(f"{O}/toy_scores/{{training}}/{{variant}}_k{{k}}.json"),
    output:
        seeds=f"{R}/tables/orbits/toy_scores_seeds.csv",
        table=f"{R}/tables/orbits/toy_scores.csv",
    log:
        log_path("orbits_toy_table", "all"),
    benchmark:
        benchmark_path("orbits_toy_table", "all")
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=get_code("orbits_toy_table.py"),
    script:
        "../scripts/orbits_toy_table.py"


rule orbits_tables:
    input:
        r2=expand(f"{OS}/m/{SOURCE_NAME}/r2.csv", seed=config["seeds"]),
        base=expand(f"{OS}/probes/base/{SOURCE_NAME}.parquet", seed=config["seeds"]),
        probes=orbit_grid(f"{OS}/probes/{{training}}/{SOURCE_NAME}/{{variant}}_k{{k}}.parquet"),
        metrics=orbit_grid(f"{OS}/sae_metrics/{{training}}/{SOURCE_NAME}/{{variant}}_k{{k}}.json"),
        atlas=(
            orbit_grid(f"{OS}/atlas/{{training}}/{SOURCE_NAME}/{{variant}}_k{{k}}.json") if ORBIT_GROUP == "C4" else []
        ),
    output:
        r2=f"{R}/tables/orbits/result1_m_fit.csv",
        scores=f"{R}/tables/orbits/probe_scores.parquet",
        probes=f"{R}/tables/orbits/probe_summary.csv",
        metrics_seeds=f"{R}/tables/orbits/sae_metrics_seeds.csv",
        metrics=f"{R}/tables/orbits/sae_metrics.csv",
        atlas=f"{R}/tables/orbits/atlas_census.csv",
    log:
        log_path("orbits_tables", "all"),
    benchmark:
        benchmark_path("orbits_tables", "all")
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        code=get_code("orbits_tables.py"),
    script:
        "../scripts/orbits_tables.py"
