rule generate_dataset:
    output:
        f"{S}/data/{{image_set}}.npz",
    log:
        log_path("generate_dataset", "{gdir}seed{seed}/{image_set}"),
    benchmark:
        benchmark_path("generate_dataset", "{gdir}seed{seed}/{image_set}")
    priority: PRIORITY["dataset"]
    conda:
        ENV
    threads: config["threads"]["dataset"]
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        n=lambda wc: config["data"][f"n_{wc.image_set}"],
        seed=lambda wc: [int(wc.seed), IMAGE_SETS.index(wc.image_set)],
        group=group_of,
        orientation=config["data"]["orientation"],
        code=get_code("generate_dataset.py"),
    script:
        "../scripts/generate_dataset.py"
