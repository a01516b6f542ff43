"""Draw one seeded image set and label every group element of every image from its pixels."""

from eqsae.pipeline.runtime import log_to

log_to(snakemake.log[0])

import logging

import numpy as np

from eqsae.group import get_group
from eqsae.sources.shapes import (
    generate,
    write_shapeset,
)

p = snakemake.params
data = generate(p.n, np.random.default_rng(p.seed), get_group(p.group), p.orientation)
write_shapeset(snakemake.output[0], data)
logging.info("%d images, seed %s, shapes oriented by %s -> %s", len(data), p.seed, p.orientation, snakemake.output[0])
