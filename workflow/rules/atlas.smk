# The feature atlas: per SAE, which features are invariant, which turn, and what each
# one draws. The per-latent tables run for every seed (their census gets error bars); cards, galleries,
# scatter plots and M's diagnostics are drawn for the first seed only, to keep the report readable. C4 only.

FIRST = config["seeds"][0]
ATLAS_KEYS = ("tau", "moved", "partner", "orbit_match")  # what the per-latent tables read (eqsae.atlas.features)


# Every source's atlas: its SAEs read through M on the held-out orbits, their concepts the probing tasks, each
# latent drawn through the source's decoder where it has one.
rule atlas:
    input:
        unpack(lambda wildcards: get_sae_input(wildcards, with_m=True)),  # every SAE is read through M
        unpack(lambda wildcards: source_network_input(wildcards, images=False)),
        held_out=lambda wc: orbit_tables(wc)["held_out"],
    output:
        table=f"{S}/atlas/{{training}}/{{model}}/{{variant}}_k{{k}}.parquet",
        summary=f"{S}/atlas/{{training}}/{{model}}/{{variant}}_k{{k}}.json",
    log:
        log_path("atlas", "{gdir}seed{seed}/{training}/{model}_{variant}_k{k}"),
    benchmark:
        benchmark_path("atlas", "{gdir}seed{seed}/{training}/{model}_{variant}_k{k}")
    wildcard_constraints:
        gdir="()",  # the atlas reads rotations through M: C4 (its folder is "")
    conda:
        ENV
    threads: config["threads"]["atlas"]
    resources:
        mem_mb=3000,
        runtime=10,
    params:
        orbits=label_settings,
        atlas={key: config["atlas"][key] for key in ATLAS_KEYS},  # not the cards' or the diagnostics' settings
        source=source_kind,
        seed=seed_of,
        code=get_code("atlas.py"),
    script:
        "../scripts/atlas.py"


# The first seed's cards and orbit gallery of every SAE whose source has images.
rule atlas_cards:
    input:
        unpack(lambda wildcards: get_sae_input(wildcards, seed=FIRST, with_m=True)),
        unpack(lambda wildcards: source_network_input(at_seed(wildcards, FIRST))),
        held_out=lambda wc: orbit_tables(at_seed(wc, FIRST))["held_out"],
        table=f"{R}/seed{FIRST}/atlas/{{training}}/{{model}}/{{variant}}_k{{k}}.parquet",
    output:
        cards=report(
            directory(f"{R}/figures/atlas/cards/{{training}}/{{model}}_{{variant}}_k{{k}}"),
            patterns=["feature{feature}.png"],
            caption="../report/atlas_card.rst",
            category="Feature atlas",
            subcategory="feature cards ({training} SAEs)",
            labels={"model": "{model}", "SAE": "{variant}", "K": "{k}", "latent": "{feature}"},
        ),
        # fmt: skip
        gallery=report(
            f"{R}/figures/atlas/gallery/{{training}}_{{model}}_{{variant}}_k{{k}}.png",
            caption="../report/atlas_gallery.rst",
            category="Feature atlas",
            subcategory="orbit galleries ({training} SAEs)",
            labels={"model": "{model}", "SAE": "{variant}", "K": "{k}"},
        ),
        # fmt: skip
    log:
        log_path("atlas_cards", "{training}/{model}_{variant}_k{k}"),
    benchmark:
        benchmark_path("atlas_cards", "{training}/{model}_{variant}_k{k}")
    conda:
        ENV
    threads: config["threads"]["atlas"]
    resources:
        mem_mb=3000,
        runtime=10,
    params:
        orbits=lambda wc: label_settings(at_seed(wc, FIRST)),
        cards=config["atlas"]["cards"],
        source=source_kind,
        seed=FIRST,
        code=get_code("atlas_cards.py"),
    script:
        "../scripts/atlas_cards.py"


rule atlas_tables:
    input:
        sae_grid(f"{S}/atlas/{{training}}/{{model}}/{{variant}}_k{{k}}.json", groups=["C4"]),
    output:
        seeds=f"{R}/tables/atlas_census_seeds.csv",
        census=report(f"{R}/tables/atlas_census.csv", caption="../report/atlas_census.rst", category="Feature atlas"),
        # fmt: skip
        redundancy=report(
            f"{R}/tables/atlas_redundancy.csv", caption="../report/atlas_redundancy.rst", category="Feature atlas"
        ),
        # fmt: skip
    log:
        log_path("atlas_tables", "all"),
    benchmark:
        benchmark_path("atlas_tables", "all")
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=get_code("atlas_tables.py"),
    script:
        "../scripts/atlas_tables.py"


rule atlas_figures:
    input:
        census=f"{R}/tables/atlas_census.csv",
        tables=expand(
            f"{R}/seed{FIRST}/atlas/{{training}}/{{model}}/{{variant}}_k{{k}}.parquet",
            training=config["sae_training"],
            model=config["models"],
            variant=config["variants"],
            k=config["topk"],
        ),
        # fmt: skip
    output:
        census=report(
            f"{R}/figures/atlas/census.png", caption="../report/atlas_census_figure.rst", category="Feature atlas"
        ),
        # fmt: skip
        scatter=report(
            expand(f"{R}/figures/atlas/symmetry_{{training}}.png", training=config["sae_training"]),
            caption="../report/atlas_scatter.rst",
            category="Feature atlas",
        ),
        # fmt: skip
    log:
        log_path("atlas_figures", "all"),
    benchmark:
        benchmark_path("atlas_figures", "all")
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        grid=[
            dict(training=t, model=m, variant=v, k=k)
            for t in config["sae_training"]
            for m in config["models"]
            for v in config["variants"]
            for k in config["topk"]
        ],
        # fmt: skip
        practices=config["sae_training"],
        code=get_code("atlas_figures.py"),
    script:
        "../scripts/atlas_figures.py"


# M fitted again with the order penalty on, for the diagnostics' comparison (first seed only).
use rule fit_m as fit_m_order with:
    output:
        m=f"{S}/m_order/{{model}}/M.npy",
        summary=f"{S}/m_order/{{model}}/fit.json",
    log:
        log_path("fit_m_order", "{gdir}seed{seed}/{model}"),
    benchmark:
        benchmark_path("fit_m_order", "{gdir}seed{seed}/{model}")
    params:
        orbits=orbit_settings,
        m_fit={**config["m_fit"], "order_penalty": config["atlas"]["order_penalty"]},
        seed=seed_of,
        code=get_code("fit_m.py"),


rule m_diagnostics:
    input:
        m=f"{R}/seed{FIRST}/m/{{model}}/M.npy",
        m_order=f"{R}/seed{FIRST}/m_order/{{model}}/M.npy",
        acts=f"{R}/seed{FIRST}/activations/{{model}}/probe.parquet",
    output:
        table=report(
            f"{R}/tables/m_diagnostics_{{model}}.csv",
            caption="../report/m_diagnostics.rst",
            category="Feature atlas",
            subcategory="M diagnostics",
        ),
        # fmt: skip
        figure=report(
            f"{R}/figures/atlas/m_diagnostics_{{model}}.png",
            caption="../report/m_diagnostics.rst",
            category="Feature atlas",
            subcategory="M diagnostics",
        ),
        # fmt: skip
    log:
        log_path("m_diagnostics", "{model}"),
    benchmark:
        benchmark_path("m_diagnostics", "{model}")
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        order_penalty=[config["m_fit"]["order_penalty"], config["atlas"]["order_penalty"]],
        code=get_code("m_diagnostics.py"),
    script:
        "../scripts/m_diagnostics.py"


rule dataset_figures:
    input:
        f"{R}/seed{FIRST}/data/probe.npz",
    output:
        figure2=report(f"{R}/figures/figure2_dataset.png", caption="../report/figure2.rst", category="Dataset"),
        figure6=report(f"{R}/figures/figure6_shapes.png", caption="../report/figure6.rst", category="Dataset"),
    log:
        log_path("dataset_figures", "all"),
    benchmark:
        benchmark_path("dataset_figures", "all")
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=get_code("dataset_figures.py"),
    script:
        "../scripts/dataset_figures.py"
