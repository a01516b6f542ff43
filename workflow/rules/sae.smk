# The archetypal SAE's anchors: KMeans centroids of the training orbits' activations (every group element), one
# set per source shared by the narrow and the wide dictionary.
rule anchors:
    input:
        train=lambda wc: orbit_tables(wc)["train"],
    output:
        f"{S}/anchors/{{model}}.npy",
    log:
        log_path("anchors", "{gdir}seed{seed}/{model}"),
    benchmark:
        benchmark_path("anchors", "{gdir}seed{seed}/{model}")
    priority: PRIORITY["fit_m"]
    conda:
        ENV
    threads: config["threads"]["train_sae"]
    resources:
        mem_mb=3000,
        runtime=20,
    params:
        orbits=orbit_settings,
        n_anchors=config["sae"]["anchors"],
        seed=seed_of,
        code=get_code("anchors.py"),
    script:
        "../scripts/anchors.py"


# Every SAE variant of every source, on its training orbits: expansion x d latents (the paper's 8 x 256 = 2,048).
rule train_sae:
    input:
        unpack(get_training_input),
    output:
        weights=f"{SAE}/sae.safetensors",
        cfg=f"{SAE}/cfg.json",
    log:
        log_path("train_sae", "{gdir}seed{seed}/{training}/{model}_{variant}_k{k}"),
    benchmark:
        benchmark_path("train_sae", "{gdir}seed{seed}/{training}/{model}_{variant}_k{k}")
    wildcard_constraints:
        variant="|".join(VARIANTS),
    priority: PRIORITY["train_sae"]
    conda:
        ENV
    threads: config["threads"]["train_sae"]
    resources:
        mem_mb=lambda wc: orbit_sae_memory_mb(config, wc.variant) if config["reproduce"] == "orbits" else 2000,
        runtime=60,
    params:
        orbits=orbit_settings,
        expansion=ORBITS["expansion"],
        epochs=config["sae"]["epochs"],
        batch_size=config["sae"]["batch_size"],
        lr=config["sae"]["lr"],
        auxk=sae_auxk,
        paired=sae_paired,
        architecture=sae_architecture,
        activation=sae_activation,
        seed=seed_of,
        code=get_code("train_sae.py"),
    script:
        "../scripts/train_sae.py"


# RESULT 3 on the held-out orbits; the spliced loss where the source has a base network and images.
rule sae_metrics:
    input:
        unpack(get_sae_input),
        unpack(source_network_input),
        held_out=lambda wc: orbit_tables(wc)["held_out"],
    output:
        f"{S}/sae_metrics/{{training}}/{{model}}/{{variant}}_k{{k}}.json",
    log:
        log_path("sae_metrics", "{gdir}seed{seed}/{training}/{model}_{variant}_k{k}"),
    benchmark:
        benchmark_path("sae_metrics", "{gdir}seed{seed}/{training}/{model}_{variant}_k{k}")
    conda:
        ENV
    threads: config["threads"]["sae_metrics"]
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        orbits=orbit_settings,
        source=source_kind,
        seed=seed_of,
        code=get_code("sae_metrics.py"),
    script:
        "../scripts/sae_metrics.py"


rule sae_metrics_table:
    input:
        sae_grid(f"{S}/sae_metrics/{{training}}/{{model}}/{{variant}}_k{{k}}.json"),
    output:
        seeds=f"{R}/tables/sae_metrics_seeds.csv",
        table=report(f"{R}/tables/sae_metrics.csv", caption="../report/sae_metrics.rst", category="RESULT 3: SAEs"),
    log:
        log_path("sae_metrics_table", "all"),
    benchmark:
        benchmark_path("sae_metrics_table", "all")
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=get_code("sae_metrics_table.py"),
    script:
        "../scripts/sae_metrics_table.py"


rule figure4:
    input:
        f"{R}/tables/sae_metrics.csv",
    output:
        report(f"{R}/figures/figure4.png", caption="../report/figure4.rst", category="RESULT 3: SAEs"),
        f"{R}/figures/figure4.pdf",
    log:
        log_path("figure4", "all"),
    benchmark:
        benchmark_path("figure4", "all")
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=get_code("figure4.py"),
    script:
        "../scripts/figure4.py"
