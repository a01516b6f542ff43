"""Held-out MSE of one base autoencoder on every group element of the probing images (its own step, so the
probing set is not an input of training)."""

from eqsae.pipeline.runtime import log_to, setup, wait_politely

log_to(snakemake.log[0])
wait_politely(snakemake.threads)  # before torch and XGBoost load OpenMP

import logging
from pathlib import Path

from eqsae.group import get_group
from eqsae.io import write_json
from eqsae.models.autoencoders import load_autoencoder, reconstruction_mse
from eqsae.sources.shapes import read_shapeset

device = setup(snakemake.threads, snakemake.config["device"])  # a runtime knob, deliberately not a param
model = load_autoencoder(Path(snakemake.input.weights).parent, device)
images = read_shapeset(snakemake.input.images).images
wc = snakemake.wildcards
group = snakemake.params.group
row = {"seed": int(wc.seed), "base_model": wc.model, "group": group,
       "heldout_mse": reconstruction_mse(model, images, group=get_group(group)), "n_images": len(images)}  # fmt: skip
write_json(snakemake.output[0], row)
logging.info("%s", row)
