"""RESULT 1 for one base model and group: R^2 of M^p R^q psi(x) against psi(g^p h^q x) on the probing set's
orbits, and M = R = I's."""

from eqsae.pipeline.runtime import log_to

log_to(snakemake.log[0])

import logging

from eqsae.fitting.transform import result1_table
from eqsae.group import get_group
from eqsae.io import read_generators, write_table
from eqsae.sources.shapes import read_activations

generators = read_generators(snakemake.input.m, snakemake.input.get("r"))
# psi is a pre-activation whose decoder starts with a ReLU: R^2 after that ReLU too
table = result1_table(generators, read_activations(snakemake.input.heldout).acts, snakemake.wildcards.model,
                      get_group(snakemake.params.group), post_relu=True)  # fmt: skip
table.insert(0, "seed", int(snakemake.wildcards.seed))
write_table(snakemake.output[0], table)
logging.info("R^2:\n%s", table.to_string(index=False))
