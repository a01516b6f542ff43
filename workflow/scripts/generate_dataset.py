"""Draw one seeded image set and label every rotation of every image from its pixels."""

from eqsae.runtime import log_to

log_to(snakemake.log[0])

import logging  # noqa: E402

import numpy as np  # noqa: E402

from eqsae.io import write_shapeset  # noqa: E402
from eqsae.shapes import generate  # noqa: E402

data = generate(snakemake.params.n, np.random.default_rng(snakemake.params.seed))
write_shapeset(snakemake.output[0], data)
logging.info("%d images, seed %s -> %s", len(data), snakemake.params.seed, snakemake.output[0])
