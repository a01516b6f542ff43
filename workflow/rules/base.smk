rule train_base:
    input:
        train=f"{S}/data/base.npz",
    output:
        weights=f"{S}/base/{{model}}/model.pt",
        cfg=f"{S}/base/{{model}}/cfg.json",
    log:
        log_path("train_base", "{gdir}seed{seed}/{model}"),
    benchmark:
        benchmark_path("train_base", "{gdir}seed{seed}/{model}")
    priority: PRIORITY["train_base"]
    conda:
        ENV
    threads: gating_threads("train_base")
    resources:
        mem_mb=1500,
        runtime=30,
    params:
        epochs=config["base"]["epochs"],
        batch_size=config["base"]["batch_size"],
        lr=config["base"]["lr"],
        seed=seed_of,
        group=group_of,
        code=get_code("train_base.py"),
    script:
        "../scripts/train_base.py"


# Held-out MSE in its own step: the probing images are not an input of training, so changing them re-trains
# nothing.
rule base_heldout:
    input:
        weights=f"{S}/base/{{model}}/model.pt",
        cfg=f"{S}/base/{{model}}/cfg.json",
        images=f"{S}/data/probe.npz",
    output:
        f"{S}/base/{{model}}/heldout.json",
    log:
        log_path("base_heldout", "{gdir}seed{seed}/{model}"),
    benchmark:
        benchmark_path("base_heldout", "{gdir}seed{seed}/{model}")
    conda:
        ENV
    threads: gating_threads("activations")
    resources:
        mem_mb=1500,
        runtime=5,
    params:
        group=group_of,
        code=get_code("base_heldout.py"),
    script:
        "../scripts/base_heldout.py"
