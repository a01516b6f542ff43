rule fit_m:
    input:
        train=f"{R}/activations/{{model}}/sae.parquet",
        heldout=f"{R}/activations/{{model}}/probe.parquet",
    output:
        m=f"{R}/m/{{model}}/M.npy",
        summary=f"{R}/m/{{model}}/fit.json",
        r2=f"{R}/m/{{model}}/r2.csv",
    log:
        log_path("fit_m", "{model}"),
    benchmark:
        benchmark_path("fit_m", "{model}")
    params:
        **config["m"],
        seed=config["seed"],
        device=config["device"],
    resources:
        mem_mb=1500,
        runtime=5,
    threads: config["threads"]["fit_m"]
    conda:
        ENV
    script:
        "../scripts/fit_m.py"


rule result1_table:
    input:
        expand(f"{R}/m/{{model}}/r2.csv", model=config["models"]),
    output:
        report(
            f"{R}/tables/result1_m_fit.csv",
            caption="../report/result1.rst",
            category="RESULT 1: the matrix M",
        ),
    log:
        log_path("result1_table", "all"),
    benchmark:
        benchmark_path("result1_table", "all")
    resources:
        mem_mb=1000,
        runtime=5,
    threads: 1
    conda:
        ENV
    script:
        "../scripts/result1_table.py"
