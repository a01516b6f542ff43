"""The toy model as an orbit table: one dataset per seed (the toy section's N, canonical representative and
sizes; the group's order), a label feature_i per planted feature, and the truth (features, M) beside it."""

from eqsae.pipeline.runtime import log_to

log_to(snakemake.log[0])

import logging

from eqsae.group import get_group
from eqsae.sources.toy import toy_orbit_table
from eqsae.toy.model import ToyConfig

p = snakemake.params
cfg = ToyConfig(**p.toy, order=get_group(p.group).order, seed=p.seed)
n = toy_orbit_table(cfg, snakemake.output.table, snakemake.output.truth)
logging.info("toy N=%d d=%d |G|=%d %s seed %d: %d orbits", cfg.n_features, cfg.d, cfg.order, cfg.canonical, p.seed, n)
