rule train_base:
    input:
        train=f"{R}/data/base.npz",
        heldout=f"{R}/data/probe.npz",
    output:
        weights=f"{R}/base/{{model}}/model.pt",
        cfg=f"{R}/base/{{model}}/cfg.json",
    log:
        log_path("train_base", "{model}"),
    benchmark:
        benchmark_path("train_base", "{model}")
    params:
        epochs=config["base"]["epochs"],
        batch_size=config["base"]["batch_size"],
        lr=config["base"]["lr"],
        seed=config["seed"],
        device=config["device"],
    resources:
        mem_mb=1500,
        runtime=30,
    threads: config["threads"]["train_base"]
    conda:
        ENV
    script:
        "../scripts/train_base.py"
