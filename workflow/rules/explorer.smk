# The feature explorer: a static page per run (results/<run>/explorer/index.html, opens from file:// and from the
# report's zip) with every live latent of every SAE the atlas reads: its atlas row, orbit strip, top, band and
# random probing images, activation histogram and partners, and each concept's latents across the SAEs. One job
# per SAE and seed writes that SAE's part (a small PNG per live latent and its data.js) under explorer_saes/; one
# job writes the page folder: the page, the run's index and the parts linked in, so that the report carries one
# folder and an edit of the page re-runs that job only. C4 only, like the atlas; every source with images (the
# Shapes, the digits, a user's table with orbits.images).

EXPLORER_PAGE = files_digest(SRC / "eqsae/atlas/explorer_page")  # the page's HTML, JS and CSS: editing them rewrites it


rule explorer_sae:
    input:
        unpack(lambda wildcards: get_sae_input(wildcards, with_m=True)),  # every SAE read through M, as in the atlas
        unpack(source_network_input),
        held_out=lambda wc: orbit_tables(wc)["held_out"],
        table=f"{S}/atlas/{{training}}/{{model}}/{{variant}}_k{{k}}.parquet",
    output:
        directory(f"{R}/explorer_saes/{{gdir}}seed{{seed}}/{{training}}/{{model}}/{{variant}}_k{{k}}"),
    log:
        log_path("explorer_sae", "{gdir}seed{seed}/{training}/{model}_{variant}_k{k}"),
    benchmark:
        benchmark_path("explorer_sae", "{gdir}seed{seed}/{training}/{model}_{variant}_k{k}")
    wildcard_constraints:
        gdir="()",  # C4, as the atlas
    conda:
        ENV
    threads: config["threads"]["atlas"]
    resources:
        mem_mb=3000,
        runtime=10,
    params:
        orbits=label_settings,
        source=source_kind,
        seed=seed_of,
        code=get_code("explorer_sae.py"),
    script:
        "../scripts/explorer_sae.py"


rule explorer:
    input:
        saes=explorer_parts(),
    output:
        report(
            directory(f"{R}/explorer"),
            htmlindex="index.html",
            caption="../report/explorer.rst",
            category="Feature atlas",
            subcategory="feature explorer",
        ),
    log:
        log_path("explorer", "all"),
    benchmark:
        benchmark_path("explorer", "all")
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        run=config["run"],
        code=get_code("explorer.py"),
        page=EXPLORER_PAGE,
    script:
        "../scripts/explorer.py"
