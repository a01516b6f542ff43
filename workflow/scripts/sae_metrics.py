"""Held-out metrics of one SAE (for `equivariant*`: its invariant SAE with M and R) at one K."""

from eqsae.pipeline.runtime import log_to, setup, wait_politely

log_to(snakemake.log[0])
wait_politely(snakemake.threads)  # before torch and XGBoost load OpenMP

import logging
from pathlib import Path

from eqsae.group import get_group
from eqsae.io import read_generators, write_json
from eqsae.models.autoencoders import load_autoencoder
from eqsae.models.registry import load_sae
from eqsae.sources.shapes import read_activations, read_shapeset
from eqsae.training.evaluate import sae_metrics

setup(snakemake.threads, "cpu")
wc = snakemake.wildcards
sae = load_sae(Path(snakemake.input.sae).parent)
generators = read_generators(snakemake.input.m, snakemake.input.get("r")) if "m" in snakemake.input.keys() else None
metrics = sae_metrics(
    sae,
    read_activations(snakemake.input.acts).acts,
    load_autoencoder(Path(snakemake.input.base).parent),
    read_shapeset(snakemake.input.images).images,
    generators,
    group=get_group(snakemake.params.group),
)
row = {"seed": int(wc.seed), "base_model": wc.model, "group": snakemake.params.group, "sae_training": wc.training,
       "variant": wc.variant, "k": int(wc.k), "d_latent": sae.cfg.d_latent, **metrics}  # fmt: skip
write_json(snakemake.output[0], row)
logging.info("%s", row)
