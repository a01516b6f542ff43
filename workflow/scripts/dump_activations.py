"""psi(g^p h^q x), the 256-d pre-activation, for every group element of every image of one set, to Parquet."""

from eqsae.pipeline.runtime import log_to, setup, wait_politely

log_to(snakemake.log[0])
wait_politely(snakemake.threads)  # before torch and XGBoost load OpenMP

import logging
from pathlib import Path

from eqsae.group import get_group
from eqsae.models.autoencoders import load_autoencoder, orbit_activations
from eqsae.sources.shapes import read_shapeset, write_activations

device = setup(snakemake.threads, snakemake.config["device"])  # a runtime knob, deliberately not a param
model = load_autoencoder(Path(snakemake.input.weights).parent, device)
data = read_shapeset(snakemake.input.images)
acts = orbit_activations(model, data.images, group=get_group(snakemake.params.group))
write_activations(snakemake.output[0], acts, data, held_out=snakemake.wildcards.act_set == "probe")  # its side
logging.info("%s: %d images x %d group elements x %d -> %s", model.kind, *acts.shape, snakemake.output[0])
