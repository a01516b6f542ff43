rule train_sae:
    input:
        f"{R}/activations/{{model}}/sae.parquet",
    output:
        weights=f"{R}/sae/{{model}}/{{variant}}/k{{k}}/sae.pt",
        cfg=f"{R}/sae/{{model}}/{{variant}}/k{{k}}/cfg.json",
    log:
        log_path("train_sae", "{model}_{variant}_k{k}"),
    benchmark:
        benchmark_path("train_sae", "{model}_{variant}_k{k}")
    wildcard_constraints:
        variant="regular|wide|twolayer|invariant",
        k=r"\d+",
    params:
        **config["sae"],
        seed=config["seed"],
        device=config["device"],
    threads: config["threads"]["train_sae"]
    script:
        "../scripts/train_sae.py"


rule sae_metrics:
    input:
        unpack(get_sae_metrics_input),
        acts=f"{R}/activations/{{model}}/probe.parquet",
        images=f"{R}/data/probe.npz",
        base=f"{R}/base/{{model}}/model.pt",
    output:
        f"{R}/sae_metrics/{{model}}/{{variant}}_k{{k}}.json",
    log:
        log_path("sae_metrics", "{model}_{variant}_k{k}"),
    benchmark:
        benchmark_path("sae_metrics", "{model}_{variant}_k{k}")
    wildcard_constraints:
        k=r"\d+",
    threads: config["threads"]["sae_metrics"]
    script:
        "../scripts/sae_metrics.py"


rule sae_metrics_table:
    input:
        expand(f"{R}/sae_metrics/{{model}}/{{variant}}_k{{k}}.json", model=config["models"],
               variant=config["variants"], k=config["k"]),  # fmt: skip
    output:
        report(f"{R}/tables/sae_metrics.csv", caption="../report/sae_metrics.rst", category="RESULT 3: SAEs"),
    log:
        log_path("sae_metrics_table", "all"),
    benchmark:
        benchmark_path("sae_metrics_table", "all")
    threads: 1
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
    threads: 1
    script:
        "../scripts/figure4.py"
