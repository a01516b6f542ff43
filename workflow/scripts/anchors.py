"""The archetypal SAE's anchors: KMeans centroids of a source's training orbits (every group element)."""

from eqsae.pipeline.runtime import log_to, setup, wait_politely

log_to(snakemake.log[0])
wait_politely(snakemake.threads)  # before scikit-learn loads OpenMP

import logging
import time

from threadpoolctl import threadpool_limits

from eqsae.io import write_array
from eqsae.models.archetypal import kmeans_anchors
from eqsae.sources.orbit_table import training_orbits

p = snakemake.params
setup(snakemake.threads, "cpu")
orbits, _ = training_orbits(snakemake.input.train, p.orbits, p.seed)
rows = orbits.reshape(-1, orbits.shape[-1])
start = time.perf_counter()
with threadpool_limits(snakemake.threads):  # at most the rows (a user's table; the paper's sizes are checked)
    anchors = kmeans_anchors(rows, min(p.n_anchors, len(rows)), p.seed, snakemake.threads)
write_array(snakemake.output[0], anchors)
logging.info("%d anchors from %d rows in %.0f s -> %s", len(anchors), len(rows), time.perf_counter() - start,
             snakemake.output[0])  # fmt: skip
