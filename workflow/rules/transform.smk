rule fit_m:
    input:
        f"{S}/activations/{{model}}/sae.parquet",
    output:
        m=f"{S}/m/{{model}}/M.npy",
        summary=f"{S}/m/{{model}}/fit.json",
    log:
        log_path("fit_m", "seed{seed}/{model}"),
    benchmark:
        benchmark_path("fit_m", "seed{seed}/{model}")
    params:
        **config["m_fit"],
        seed=seed_of,
        code=get_code("fit_m.py"),
    resources:
        mem_mb=1500,
        runtime=5,
    threads: config["threads"]["fit_m"]
    conda:
        ENV
    script:
        "../scripts/fit_m.py"


# R^2 in its own step: the probing set is not an input of the fit, so changing it re-fits nothing.
rule m_r2:
    input:
        m=f"{S}/m/{{model}}/M.npy",
        heldout=f"{S}/activations/{{model}}/probe.parquet",
    output:
        f"{S}/m/{{model}}/r2.csv",
    log:
        log_path("m_r2", "seed{seed}/{model}"),
    benchmark:
        benchmark_path("m_r2", "seed{seed}/{model}")
    params:
        code=get_code("m_r2.py"),
    resources:
        mem_mb=1500,
        runtime=5,
    threads: 1
    conda:
        ENV
    script:
        "../scripts/m_r2.py"


rule result1_table:
    input:
        seed_grid(f"{S}/m/{{model}}/r2.csv", model=config["models"]),
    output:
        seeds=f"{R}/tables/result1_m_fit_seeds.csv",
        table=report(
            f"{R}/tables/result1_m_fit.csv",
            caption="../report/result1.rst",
            category="RESULT 1: the matrix M",
        ),
    log:
        log_path("result1_table", "all"),
    benchmark:
        benchmark_path("result1_table", "all")
    params:
        code=get_code("result1_table.py"),
    resources:
        mem_mb=1000,
        runtime=5,
    threads: 1
    conda:
        ENV
    script:
        "../scripts/result1_table.py"
