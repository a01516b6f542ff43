"""RESULT 1 for one base model: R^2 of M^p psi(x) against psi(g^p x) on the probing set's orbits, and M = I's."""

from eqsae.runtime import log_to

log_to(snakemake.log[0])

import logging  # noqa: E402

from eqsae.io import read_activations, read_matrix, write_table  # noqa: E402
from eqsae.transform import result1_table  # noqa: E402

m = read_matrix(snakemake.input.m)
table = result1_table(m, read_activations(snakemake.input.heldout).acts, snakemake.wildcards.model)
table.insert(0, "seed", int(snakemake.wildcards.seed))
write_table(snakemake.output[0], table)
logging.info("R^2:\n%s", table.to_string(index=False))
