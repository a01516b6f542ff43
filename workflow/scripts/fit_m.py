"""Fit M (and R, for a group of two generators) on a source's training orbits (v1 Eq. 3, v2 Eq. 8); the R^2 on
its held-out orbits is the next step (m_r2)."""

from eqsae.pipeline.runtime import log_to, setup, wait_politely

log_to(snakemake.log[0])
wait_politely(snakemake.threads)  # before torch and XGBoost load OpenMP

import logging
from dataclasses import asdict

from eqsae.fitting.transform import fit_generators, order_norms
from eqsae.io import write_array, write_json
from eqsae.pipeline.config import MFitConfig
from eqsae.pipeline.provenance import collect
from eqsae.sources.orbit_table import training_orbits

p = snakemake.params
device = setup(snakemake.threads, snakemake.config["device"])  # a runtime knob, deliberately not a param
orbits, group = training_orbits(snakemake.input.train, p.orbits, p.seed)
m = p.m_fit
cfg = MFitConfig(m["epochs"], m["batch_size"], m["lr"], m["init"], m["order_penalty"], p.seed)
logging.info("fitting M%s for %s (%s) on %d orbits on %s: %s", " and R" * (group.n_generators == 2),
             snakemake.wildcards.model, group.name, len(orbits), device, cfg)  # fmt: skip
generators, history = fit_generators(orbits, cfg, device, group)
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
