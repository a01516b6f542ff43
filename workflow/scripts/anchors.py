"""The archetypal SAE's anchors: KMeans centroids of one model's SAE-set activations, every group element."""

from eqsae.pipeline.runtime import log_to, setup, wait_politely

log_to(snakemake.log[0])
wait_politely(snakemake.threads)  # before torch and XGBoost load OpenMP

import logging
import time

from threadpoolctl import threadpool_limits

from eqsae.io import write_array
from eqsae.models.archetypal import kmeans_anchors
from eqsae.sources.shapes import read_activations

p = snakemake.params
setup(snakemake.threads, "cpu")
acts = read_activations(snakemake.input[0]).acts
start = time.perf_counter()
with threadpool_limits(snakemake.threads):
    anchors = kmeans_anchors(acts.reshape(-1, acts.shape[-1]), p.n_anchors, p.seed, snakemake.threads)
write_array(snakemake.output[0], anchors)
logging.info("%d anchors from %d rows in %.0f s -> %s", len(anchors), acts.shape[0] * acts.shape[1],
             time.perf_counter() - start, snakemake.output[0])  # fmt: skip
