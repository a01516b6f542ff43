# The feature explorer: a static page per run (results/<run>/explorer/index.html, opens from file:// and from the
# report's zip) with every live latent of every SAE the atlas reads: its atlas row, orbit strip, top, band and
# random probing images, activation histogram and partners, and each concept's latents across the SAEs. One job
# per SAE and seed writes that SAE's part (a small PNG per live latent and its data.js) under explorer_saes/; one
# job writes the page folder: the page, the run's index and the parts linked in, so that the report carries one
# folder and an edit of the page re-runs that job only. C4 only, like the atlas. An orbit table's SAEs have their
# parts made in orbits.smk (where its source has images) and the same page.

EXPLORER_PAGE = files_digest(SRC / "eqsae/atlas/explorer_page")  # the page's HTML, JS and CSS: editing them rewrites it


rule explorer_sae:
    input:
        unpack(lambda wildcards: get_sae_input(wildcards, with_m=True)),  # every SAE read through M, as in the atlas
        acts=f"{R}/seed{{seed}}/activations/{{model}}/probe.parquet",
        images=f"{R}/seed{{seed}}/data/probe.npz",
        base=f"{R}/seed{{seed}}/base/{{model}}/model.pt",
        base_cfg=f"{R}/seed{{seed}}/base/{{model}}/cfg.json",
        table=f"{R}/seed{{seed}}/atlas/{{training}}/{{model}}/{{variant}}_k{{k}}.parquet",
    output:
        directory(f"{R}/explorer_saes/seed{{seed}}/{{training}}/{{model}}/{{variant}}_k{{k}}"),
    log:
        log_path("explorer_sae", "seed{seed}/{training}/{model}_{variant}_k{k}"),
    benchmark:
        benchmark_path("explorer_sae", "seed{seed}/{training}/{model}_{variant}_k{k}")
    conda:
        ENV
    threads: config["threads"]["atlas"]
    resources:
        mem_mb=3000,
        runtime=10,
    params:
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
