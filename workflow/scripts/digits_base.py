"""Train the digits' base network (a CNN autoencoder on scikit-learn's bundled 8x8 digits, random group elements)
and save its weights with a cfg.json."""

from eqsae.pipeline.runtime import log_to, setup, wait_politely

log_to(snakemake.log[0])
wait_politely(snakemake.threads)

import logging
from pathlib import Path

from eqsae.sources.digits import DigitsTrainConfig, load_digits_set, save_digits_autoencoder, train_digits_autoencoder

p = snakemake.params
device = setup(snakemake.threads, snakemake.config["device"])
d = p.digits
cfg = DigitsTrainConfig(d["epochs"], d["batch_size"], d["lr"], d["d_act"], p.seed, p.group)
images, _ = load_digits_set(d["n"] or None, p.seed)
logging.info("training the digits autoencoder on %d images, %s: %s", len(images), device, cfg)
model, history = train_digits_autoencoder(images, cfg, device)
summary = {"final_train_mse": history[-1].loss, "train_seconds": sum(r.seconds for r in history)}
save_digits_autoencoder(model, Path(snakemake.output.weights).parent, cfg, summary)
logging.info("done: %s", summary)
