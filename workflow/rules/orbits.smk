# Your own orbits (reproduce: orbits): an orbit table (eqsae.sources.orbit_table) from your model, scikit-learn's
# handwritten digits through a base network trained here (orbits.source: digits, config/digits.yaml), or the
# paper's Shapes through one of its base autoencoders (orbits.source: shapes), or the toy model with its truth
# (orbits.source: toy); then M, the SAE variants, probes
# for the table's label columns (or the paper's tasks), SAE metrics, the atlas, its cards and the explorer, per seed.


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


rule shapes_orbits:
    input:
        acts=expand(f"{SHAPES_SEED}/activations/{ORBIT_MODEL}/{{s}}.parquet", s=["sae", "probe"], allow_missing=True),
        images=expand(f"{SHAPES_SEED}/data/{{s}}.npz", s=["sae", "probe"], allow_missing=True),
    output:
        table=f"{R}/seed{{seed}}/shapes/orbits.parquet",
        images=f"{R}/seed{{seed}}/shapes/images.npz",
    log:
        log_path("shapes_orbits", "seed{seed}"),
    benchmark:
        benchmark_path("shapes_orbits", "seed{seed}")
    priority: PRIORITY["activations"]
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=3000,
        runtime=5,
    params:
        model=ORBIT_MODEL,
        group=ORBIT_GROUP,
        code=get_code("shapes_orbits.py"),
    script:
        "../scripts/shapes_orbits.py"


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


rule orbits_m:
    input:
        orbit_source,
    output:
        generators=f"{O}/m/generators.npy",
        r2=f"{O}/m/r2.csv",
        summary=f"{O}/m/summary.json",
    log:
        log_path("orbits_m", "seed{seed}"),
    benchmark:
        benchmark_path("orbits_m", "seed{seed}")
    priority: PRIORITY["fit_m"]
    conda:
        ENV
    threads: gating_threads("fit_m")
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        orbits=SPLIT,
        m_fit=config["m_fit"],
        post_relu=ORBITS["source"] in PRE_RELU_SOURCES,  # R^2 after the base decoder's first ReLU too
        seed=seed_of,
        code=get_code("orbits_m.py"),
    script:
        "../scripts/orbits_m.py"


rule orbits_sae:
    input:
        orbit_source,
    output:
        weights=f"{O}/sae/{{training}}/{{variant}}/k{{k}}/sae.safetensors",
        cfg=f"{O}/sae/{{training}}/{{variant}}/k{{k}}/cfg.json",
    log:
        log_path("orbits_sae", "seed{seed}/{training}/{variant}_k{k}"),
    benchmark:
        benchmark_path("orbits_sae", "seed{seed}/{training}/{variant}_k{k}")
    wildcard_constraints:
        variant="|".join(VARIANTS),
    priority: PRIORITY["train_sae"]
    conda:
        ENV
    threads: config["threads"]["train_sae"]
    resources:
        mem_mb=lambda wc: orbit_sae_memory_mb(config, wc.variant),  # the dictionary's estimate (eqsae.pipeline.validate)
        runtime=60,
    params:
        orbits={**SPLIT, "expansion": ORBITS["expansion"]},
        epochs=config["sae"]["epochs"],
        batch_size=config["sae"]["batch_size"],
        lr=config["sae"]["lr"],
        auxk=sae_auxk,
        paired=sae_paired,
        architecture=sae_architecture,
        activation=sae_activation,
        anchors=sae_anchors,
        seed=seed_of,
        code=get_code("orbits_sae.py"),
    script:
        "../scripts/orbits_sae.py"


rule orbits_probe:
    input:
        unpack(orbit_sae_input),
    output:
        f"{O}/probes/{{training}}/{{variant}}_k{{k}}.parquet",
    log:
        log_path("orbits_probe", "seed{seed}/{training}/{variant}_k{k}"),
    benchmark:
        benchmark_path("orbits_probe", "seed{seed}/{training}/{variant}_k{k}")
    conda:
        ENV
    threads: config["threads"]["probe"]
    resources:
        mem_mb=2500,
        runtime=45,
    params:
        orbits=LABELS,
        probe=config["probe"],
        truncations=config["truncations"],
        seed=seed_of,
        code=get_code("orbits_probe.py"),
    script:
        "../scripts/orbits_probe.py"


rule orbits_sae_metrics:
    input:
        unpack(orbit_metrics_input),
    output:
        f"{O}/sae_metrics/{{training}}/{{variant}}_k{{k}}.json",
    log:
        log_path("orbits_sae_metrics", "seed{seed}/{training}/{variant}_k{k}"),
    benchmark:
        benchmark_path("orbits_sae_metrics", "seed{seed}/{training}/{variant}_k{k}")
    conda:
        ENV
    threads: config["threads"]["sae_metrics"]
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        orbits=SPLIT,
        source=ORBITS["source"],
        seed=seed_of,
        code=get_code("orbits_sae_metrics.py"),
    script:
        "../scripts/orbits_sae_metrics.py"


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


use rule orbits_probe as orbits_probe_base with:
    input:
        table=orbit_source,
    output:
        f"{O}/probes/base.parquet",
    log:
        log_path("orbits_probe_base", "seed{seed}"),
    benchmark:
        benchmark_path("orbits_probe_base", "seed{seed}")


rule orbits_atlas:
    input:
        unpack(orbit_atlas_input),
    output:
        table=f"{O}/atlas/{{training}}/{{variant}}_k{{k}}.parquet",
        summary=f"{O}/atlas/{{training}}/{{variant}}_k{{k}}.json",
    log:
        log_path("orbits_atlas", "seed{seed}/{training}/{variant}_k{k}"),
    benchmark:
        benchmark_path("orbits_atlas", "seed{seed}/{training}/{variant}_k{k}")
    conda:
        ENV
    threads: config["threads"]["atlas"]
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        orbits=LABELS,
        atlas={key: config["atlas"][key] for key in ATLAS_KEYS},  # not the cards' or the diagnostics' settings
        source=ORBITS["source"],
        seed=seed_of,
        code=get_code("orbits_atlas.py"),
    script:
        "../scripts/orbits_atlas.py"


rule orbits_explorer_sae:
    input:
        unpack(orbit_explorer_input),
    output:
        directory(f"{R}/explorer_saes/seed{{seed}}/orbits/{{training}}/{{variant}}_k{{k}}"),
    log:
        log_path("orbits_explorer_sae", "seed{seed}/{training}/{variant}_k{k}"),
    benchmark:
        benchmark_path("orbits_explorer_sae", "seed{seed}/{training}/{variant}_k{k}")
    conda:
        ENV
    threads: config["threads"]["atlas"]
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        orbits=LABELS,
        source=ORBITS["source"],
        base_model=SOURCE_NAME,
        seed=seed_of,
        code=get_code("orbits_explorer_sae.py"),
    script:
        "../scripts/orbits_explorer_sae.py"


rule orbits_atlas_cards:
    input:
        unpack(lambda wildcards: orbit_explorer_input(wildcards, seed=FIRST)),
    output:
        cards=report(
            directory(f"{R}/figures/atlas/cards/orbits/{{training}}/{{variant}}_k{{k}}"),
            patterns=["feature{feature}.png"],
            caption="../report/orbits_atlas_card.rst",
            category="Feature atlas",
            subcategory="feature cards ({training} SAEs)",
            labels={"SAE": "{variant}", "K": "{k}", "latent": "{feature}"},
        ),
        # fmt: skip
        gallery=report(
            f"{R}/figures/atlas/gallery/orbits_{{training}}_{{variant}}_k{{k}}.png",
            caption="../report/orbits_atlas_gallery.rst",
            category="Feature atlas",
            subcategory="orbit galleries ({training} SAEs)",
            labels={"SAE": "{variant}", "K": "{k}"},
        ),
        # fmt: skip
    log:
        log_path("orbits_atlas_cards", "{training}/{variant}_k{k}"),
    benchmark:
        benchmark_path("orbits_atlas_cards", "{training}/{variant}_k{k}")
    wildcard_constraints:
        variant=r"[a-z_]+",
    conda:
        ENV
    threads: config["threads"]["atlas"]
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        orbits=LABELS,
        cards=config["atlas"]["cards"],
        source=ORBITS["source"],
        base_model=SOURCE_NAME,
        seed=FIRST,
        code=get_code("orbits_atlas_cards.py"),
    script:
        "../scripts/orbits_atlas_cards.py"


rule orbits_tables:
    input:
        r2=expand(f"{O}/m/r2.csv", seed=config["seeds"]),
        base=expand(f"{O}/probes/base.parquet", seed=config["seeds"]),
        probes=orbit_grid(f"{O}/probes/{{training}}/{{variant}}_k{{k}}.parquet"),
        metrics=orbit_grid(f"{O}/sae_metrics/{{training}}/{{variant}}_k{{k}}.json"),
        atlas=orbit_grid(f"{O}/atlas/{{training}}/{{variant}}_k{{k}}.json") if ORBIT_GROUP == "C4" else [],
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
