# Every probing task (the paper's 180, or one per value of a table's label columns) on a source's held-out
# orbits: the activations and the group element alone, or one SAE's truncated latents and reconstructions.
rule probe_base:
    input:
        held_out=lambda wc: orbit_tables(wc)["held_out"],
    output:
        f"{S}/probes/base/{{model}}.parquet",
    log:
        log_path("probe_base", "{gdir}seed{seed}/{model}"),
    benchmark:
        benchmark_path("probe_base", "{gdir}seed{seed}/{model}")
    conda:
        ENV
    threads: config["threads"]["probe"]
    resources:
        mem_mb=2500,
        runtime=30,
    params:
        orbits=label_settings,
        probe=config["probe"],
        seed=seed_of,
        code=get_code("probe.py"),
    script:
        "../scripts/probe.py"


rule probe:
    input:
        unpack(get_probe_input),
    output:
        f"{S}/probes/{{training}}/{{model}}/{{variant}}_k{{k}}.parquet",
    log:
        log_path("probe", "{gdir}seed{seed}/{training}/{model}_{variant}_k{k}"),
    benchmark:
        benchmark_path("probe", "{gdir}seed{seed}/{training}/{model}_{variant}_k{k}")
    conda:
        ENV
    threads: config["threads"]["probe"]
    resources:
        mem_mb=2500,
        runtime=45,
    params:
        orbits=label_settings,
        probe=config["probe"],
        t=config["truncations"],
        seed=seed_of,
        code=get_code("probe.py"),
    script:
        "../scripts/probe.py"


rule probe_tables:
    input:
        base=seed_grid(f"{S}/probes/base/{{model}}.parquet", model=config["models"]),
        saes=sae_grid(f"{S}/probes/{{training}}/{{model}}/{{variant}}_k{{k}}.parquet"),
    output:
        scores=f"{R}/tables/probe_scores.parquet",
        seeds=f"{R}/tables/probe_summary_seeds.csv",
        summary=report(
            f"{R}/tables/probe_summary.csv", caption="../report/probe_summary.rst", category="RESULT 2: probing"
        ),
        # fmt: skip
    log:
        log_path("probe_tables", "all"),
    benchmark:
        benchmark_path("probe_tables", "all")
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        code=get_code("probe_tables.py"),
    script:
        "../scripts/probe_tables.py"


rule probe_figure:
    input:
        f"{R}/tables/probe_summary.csv",
    output:
        report(
            f"{R}/figures/probing/{{training}}_{{model}}_t{{t}}.png",
            caption="../report/probing.rst",
            category="RESULT 2: probing",
            subcategory="{training} SAEs",
        ),
        # fmt: skip
        f"{R}/figures/probing/{{training}}_{{model}}_t{{t}}.pdf",
    log:
        log_path("probe_figure", "{training}_{model}_t{t}"),
    benchmark:
        benchmark_path("probe_figure", "{training}_{model}_t{t}")
    wildcard_constraints:
        t=r"\d+",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=get_code("probe_figure.py"),
    script:
        "../scripts/probe_figure.py"
