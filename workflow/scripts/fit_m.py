"""Fit M (and R, for a group of two generators) on the SAE set's orbits (v1 Eq. 3, v2 Eq. 8); the R^2 on
held-out orbits is the next step (m_r2)."""

from eqsae.pipeline.runtime import log_to, setup, wait_politely

log_to(snakemake.log[0])
wait_politely(snakemake.threads)  # before torch and XGBoost load OpenMP

import logging
from dataclasses import asdict

from eqsae.fitting.transform import fit_generators, order_norms
from eqsae.group import get_group
from eqsae.io import write_array, write_json
from eqsae.pipeline.config import MFitConfig
from eqsae.pipeline.provenance import collect
from eqsae.sources.shapes import read_activations

p = snakemake.params
group = get_group(p.group)
device = setup(snakemake.threads, snakemake.config["device"])  # a runtime knob, deliberately not a param
cfg = MFitConfig(p.epochs, p.batch_size, p.lr, p.init, p.order_penalty, p.seed)
logging.info("fitting M%s for %s (%s) on %s: %s", " and R" * (group.n_generators == 2), snakemake.wildcards.model,
             group.name, device, cfg)  # fmt: skip
generators, history = fit_generators(read_activations(snakemake.input[0]).acts, cfg, device, group)
orders = order_norms(generators, group)
write_json(
    snakemake.output.summary,
    {"config": asdict(cfg), "group": group.name, "final_loss": history[-1].loss, **orders,
     "train_seconds": sum(r.seconds for r in history),
     "provenance": collect(dict(p.items()), seed=p.seed, device=str(device), threads=snakemake.threads)},
)  # fmt: skip
for key, x in zip(("m", "r"), generators):
    write_array(snakemake.output[key], x)
logging.info("done: final loss %.6g, %s", history[-1].loss, orders)
