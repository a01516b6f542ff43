"""RESULT 1 for one source and group: R^2 of M^p R^q psi(x) against psi(g^p h^q x) on the held-out orbits, and
M = R = I's."""

from eqsae.pipeline.runtime import log_to

log_to(snakemake.log[0])

import logging

from eqsae.fitting.transform import result1_table
from eqsae.io import read_generators, write_table
from eqsae.sources.orbit_table import held_out_orbits

p, wc = snakemake.params, snakemake.wildcards
orbits, group = held_out_orbits(snakemake.input.held_out, p.orbits, p.seed)
generators = read_generators(snakemake.input.m, snakemake.input.get("r"))
# post_relu: psi is a pre-activation whose decoder starts with a ReLU (eqsae.sources.PRE_RELU_SOURCES)
table = result1_table(generators, orbits, wc.model, group, post_relu=p.post_relu)
table.insert(0, "seed", p.seed)
write_table(snakemake.output[0], table)
logging.info("R^2 on %d held-out orbits:\n%s", len(orbits), table.to_string(index=False))
