rule train_base:
    input:
        train=f"{R}/data/base.npz",
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
        code=get_code("train_base.py"),
    resources:
        mem_mb=1500,
        runtime=30,
    threads: config["threads"]["train_base"]
    conda:
        ENV
    script:
        "../scripts/train_base.py"


# Held-out MSE in its own step: the probing images are not an input of training, so changing them re-trains
# nothing.
rule base_heldout:
    input:
        weights=f"{R}/base/{{model}}/model.pt",
        cfg=f"{R}/base/{{model}}/cfg.json",
        images=f"{R}/data/probe.npz",
    output:
        f"{R}/base/{{model}}/heldout.json",
    log:
        log_path("base_heldout", "{model}"),
    benchmark:
        benchmark_path("base_heldout", "{model}")
    params:
        code=get_code("base_heldout.py"),
    resources:
        mem_mb=1500,
        runtime=5,
    threads: config["threads"]["activations"]
    conda:
        ENV
    script:
        "../scripts/base_heldout.py"
