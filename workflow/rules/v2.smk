# The paper's later version (v2): its tables beside ours, with v2's published numbers shipped in the
# package (eqsae/paper/data/paper_v2). Made by `all` under `reproduce: v2` (config/v2.yaml).


rule v2_tables:
    input:
        r2=f"{R}/tables/result1_m_fit_seeds.csv",
        scores=f"{R}/tables/probe_scores.parquet",
    output:
        table1=report(f"{R}/tables/v2/table1.csv", caption="../report/v2_table1.rst", category="v2: tables"),
        tables45=report(f"{R}/tables/v2/tables4_5.csv", caption="../report/v2_tables45.rst", category="v2: tables"),
        headline=f"{R}/tables/v2/headline.csv",
    log:
        log_path("v2_tables", "all"),
    benchmark:
        benchmark_path("v2_tables", "all")
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        code=get_code("v2_tables.py"),
    script:
        "../scripts/v2_tables.py"


rule v2_figure:
    input:
        f"{R}/tables/v2/tables4_5.csv",
    output:
        png=report(
            f"{R}/figures/v2/figure3_{{model}}.png",
            caption="../report/v2_figure3.rst",
            category="v2: tables",
            labels={"figure": "Figure 3", "model": "{model}"},
        ),
        # fmt: skip
        pdf=f"{R}/figures/v2/figure3_{{model}}.pdf",
    log:
        log_path("v2_figure", "{model}"),
    benchmark:
        benchmark_path("v2_figure", "{model}")
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=get_code("v2_figure.py"),
    script:
        "../scripts/v2_figure.py"
