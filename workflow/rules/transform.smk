# M (and R) of every source, on its training orbits (v1 Eq. 3, v2 Eq. 8).
rule fit_m:
    input:
        train=lambda wc: orbit_tables(wc)["train"],
    output:
        m=f"{S}/m/{{model}}/M.npy",
        summary=f"{S}/m/{{model}}/fit.json",
    log:
        log_path("fit_m", "{gdir}seed{seed}/{model}"),
    benchmark:
        benchmark_path("fit_m", "{gdir}seed{seed}/{model}")
    wildcard_constraints:
        gdir="(" + "|".join(gdir for name, gdir in GDIR.items() if get_group(name).n_generators == 1) + ")",
    priority: PRIORITY["fit_m"]
    conda:
        ENV
    threads: gating_threads("fit_m")
    resources:
        mem_mb=1500,
        runtime=5,
    params:
        orbits=orbit_settings,
        m_fit=config["m_fit"],
        seed=seed_of,
        code=get_code("fit_m.py"),
    script:
        "../scripts/fit_m.py"


# A group of two generators: M and R fitted together (v2 Eq. 8).
use rule fit_m as fit_m_r with:
    output:
        m=f"{S}/m/{{model}}/M.npy",
        r=f"{S}/m/{{model}}/R.npy",
        summary=f"{S}/m/{{model}}/fit.json",
    wildcard_constraints:
        gdir="(" + "|".join(gdir for name, gdir in GDIR.items() if get_group(name).n_generators == 2) + ")",


# R^2 in its own step, on the held-out orbits: the Shapes' probing set is not an input of the fit, so changing it
# re-fits nothing.
rule m_r2:
    input:
        unpack(get_generators),
        held_out=lambda wc: orbit_tables(wc)["held_out"],
    output:
        f"{S}/m/{{model}}/r2.csv",
    log:
        log_path("m_r2", "{gdir}seed{seed}/{model}"),
    benchmark:
        benchmark_path("m_r2", "{gdir}seed{seed}/{model}")
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1500,
        runtime=5,
    params:
        orbits=orbit_settings,
        post_relu=lambda wc: wc.model in PRE_RELU_SOURCES,  # psi feeds the base decoder's ReLU
        seed=seed_of,
        code=get_code("m_r2.py"),
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
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=get_code("result1_table.py"),
    script:
        "../scripts/result1_table.py"
