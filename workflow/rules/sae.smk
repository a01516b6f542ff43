# The archetypal SAE's anchors: KMeans centroids of the SAE set's activations (every group element), one set
# per model shared by the narrow and the wide dictionary.
rule anchors:
    input:
        f"{S}/activations/{{model}}/sae.parquet",
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
        n_anchors=config["sae"]["anchors"],
        seed=seed_of,
        code=get_code("anchors.py"),
    script:
        "../scripts/anchors.py"


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
        mem_mb=2000,
        runtime=60,
    params:
        epochs=config["sae"]["epochs"],
        batch_size=config["sae"]["batch_size"],
        lr=config["sae"]["lr"],
        auxk=sae_auxk,
        paired=sae_paired,
        architecture=sae_architecture,
        activation=sae_activation,
        group=group_of,
        seed=seed_of,
        code=get_code("train_sae.py"),
    script:
        "../scripts/train_sae.py"


rule sae_metrics:
    input:
        unpack(get_sae_input),
        acts=f"{S}/activations/{{model}}/probe.parquet",
        images=f"{S}/data/probe.npz",
        base=f"{S}/base/{{model}}/model.pt",
        base_cfg=f"{S}/base/{{model}}/cfg.json",
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
        group=group_of,
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
