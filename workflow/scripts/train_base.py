"""Train one base autoencoder (Table 1) and save its weights with a cfg.json of settings and final losses."""

from eqsae.pipeline.runtime import log_to, setup, wait_politely

log_to(snakemake.log[0])
wait_politely(snakemake.threads)  # before torch and XGBoost load OpenMP

import logging
from pathlib import Path

import torch

from eqsae.models.autoencoders import save_autoencoder, train_autoencoder
from eqsae.pipeline.config import BaseTrainConfig
from eqsae.pipeline.provenance import collect
from eqsae.sources.shapes import read_shapeset

p = snakemake.params
device = setup(snakemake.threads, snakemake.config["device"])  # a runtime knob, deliberately not a param
cfg = BaseTrainConfig(snakemake.wildcards.model, p.epochs, p.batch_size, p.lr, p.seed, p.group)
logging.info("training %s on %s, %d threads: %s", cfg.model, device, snakemake.threads, cfg)
model, history = train_autoencoder(read_shapeset(snakemake.input.train).images, cfg, device)
summary = {
    "final_train_mse": history[-1].loss,
    "train_seconds": sum(r.seconds for r in history),
    "device": str(device),
    "threads": torch.get_num_threads(),
    "provenance": collect(dict(p.items()), seed=p.seed, device=str(device), threads=torch.get_num_threads()),
}
save_autoencoder(model, Path(snakemake.output.weights).parent, cfg, summary)
logging.info("done: %s", summary)
