"""The Shapes as an orbit table: one base model's activations of the SAE and probing image sets, with their
images, for the orbits branch (orbits.source: shapes)."""

from eqsae.pipeline.runtime import log_to

log_to(snakemake.log[0])

import logging

from eqsae.sources.shapes import shapes_orbit_table

inp, out = snakemake.input, snakemake.output
n = shapes_orbit_table(list(zip(inp.acts, inp.images)), out.table, out.images)
logging.info("%d orbits of %s (%s): %s", n, snakemake.params.model, snakemake.params.group, out.table)
