# v2's toy model with planted features (config/toy.yaml, reproduce: toy): one job per dataset trains every SAE
# type and scores it against the truth; the tables put v2's Table 3 beside ours.


rule toy_run:
    output:
        f"{TOY_RUN}.csv",
    log:
        log_path("toy_run", "{canonical}/g{order}/n{n}/seed{seed}"),
    benchmark:
        benchmark_path("toy_run", "{canonical}/g{order}/n{n}/seed{seed}")
    wildcard_constraints:
        canonical="fixed|random|orientation",
        order=r"\d+",
        n=r"\d+",
    conda:
        ENV
    threads: config["threads"]["toy"]
    resources:
        mem_mb=1500,
        runtime=30,
    params:
        toy=TOY_SETTINGS,
        seed=seed_of,
        code=get_code("toy_run.py"),
    script:
        "../scripts/toy_run.py"


rule toy_tables:
    input:
        toy_grid(f"{TOY_RUN}.csv"),
    output:
        scores=f"{R}/tables/toy/toy_scores.csv",
        summary=report(f"{R}/tables/toy/toy_summary.csv", caption="../report/toy_summary.rst", category="v2: toy model"),
        table3=report(f"{R}/tables/toy/table3.csv", caption="../report/toy_table3.rst", category="v2: toy model"),
        claims=report(f"{R}/tables/toy/toy_claims.csv", caption="../report/toy_claims.rst", category="v2: toy model"),
        findings=f"{R}/tables/toy/toy_findings.md",
    log:
        log_path("toy_tables", "all"),
    benchmark:
        benchmark_path("toy_tables", "all")
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        claims=config["claims"],
        toy_size=TOY_SIZE_BANNER,
        code=get_code("toy_tables.py"),
    script:
        "../scripts/toy_tables.py"


rule toy_figure:
    input:
        f"{R}/tables/toy/toy_summary.csv",
    output:
        png=report(
            f"{R}/figures/toy/figure2_{{canonical}}.png",
            caption="../report/toy_figure.rst",
            category="v2: toy model",
            labels={"figure": "Figure 2/8", "canonical": "{canonical}"},
        ),
        # fmt: skip
        pdf=f"{R}/figures/toy/figure2_{{canonical}}.pdf",
    log:
        log_path("toy_figure", "{canonical}"),
    benchmark:
        benchmark_path("toy_figure", "{canonical}")
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=get_code("toy_figure.py"),
    script:
        "../scripts/toy_figure.py"
