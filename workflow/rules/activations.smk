rule dump_activations:
    input:
        weights=f"{S}/base/{{model}}/model.pt",
        cfg=f"{S}/base/{{model}}/cfg.json",
        images=f"{S}/data/{{act_set}}.npz",
    output:
        f"{S}/activations/{{model}}/{{act_set}}.parquet",
    log:
        log_path("dump_activations", "{gdir}seed{seed}/{model}_{act_set}"),
    benchmark:
        benchmark_path("dump_activations", "{gdir}seed{seed}/{model}_{act_set}")
    priority: PRIORITY["activations"]
    conda:
        ENV
    threads: gating_threads("activations")
    resources:
        mem_mb=1500,
        runtime=5,
    params:
        group=group_of,
        code=get_code("dump_activations.py"),
    script:
        "../scripts/dump_activations.py"
