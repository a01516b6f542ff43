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
    params:
        group=group_of,
        code=get_code("dump_activations.py"),
    resources:
        mem_mb=1500,
        runtime=5,
    threads: gating_threads("activations")
    priority: PRIORITY["activations"]
    conda:
        ENV
    script:
        "../scripts/dump_activations.py"
