rule claims:
    input:
        result1=f"{R}/tables/result1_m_fit_seeds.csv",
        sae=f"{R}/tables/sae_metrics_seeds.csv",
        probes=f"{R}/tables/probe_scores.parquet",
        atlas=f"{R}/tables/atlas_census_seeds.csv",
        acts=seed_grid(f"{S}/activations/{{model}}/probe.parquet", groups=["C4"], model=config["models"]),
    output:
        table=report(f"{R}/tables/claims.csv", caption="../report/claims.rst", category="Claims"),
        findings=f"{R}/tables/findings.md",
        code_r2=f"{R}/tables/label_code_r2_seeds.csv",
    log:
        log_path("claims", "all"),
    benchmark:
        benchmark_path("claims", "all")
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        practices=config["sae_training"],
        seed_models=[(seed, model) for seed in config["seeds"] + extra_seeds()[0] for model in config["models"]],
        claims=config["claims"],
        toy_size=TOY_SIZE_BANNER,
        code=get_code("claims.py"),
    script:
        "../scripts/claims.py"
