"""One trained SAE of the toy source against the planted truth: recovery by its dictionary, detection F1 (chosen
and fitted on the training orbits, scored on the held-out ones) and, under C4, the symmetry classes' agreement."""

from eqsae.pipeline.runtime import log_to, setup, wait_politely

log_to(snakemake.log[0])
wait_politely(snakemake.threads)

import logging
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from eqsae.group import get_group
from eqsae.io import write_json
from eqsae.models.registry import load_sae
from eqsae.sources.orbit_table import read_split
from eqsae.sources.toy import feature_label, read_truth
from eqsae.toy.ground_truth import orbit_truth_scores

p, wc = snakemake.params, snakemake.wildcards
setup(snakemake.threads, "cpu")
table, held = read_split(snakemake.input.table, get_group(p.orbits["group"]), p.orbits["held_out"], p.seed)
features, m = read_truth(snakemake.input.truth)
present = np.stack([table.labels[feature_label(i)] for i in range(len(features))], axis=-1)  # (n, |G|, N)
with threadpool_limits(snakemake.threads):
    scores = orbit_truth_scores(load_sae(Path(snakemake.input.sae).parent), table.acts[~held], table.acts[held],
                                present[~held], present[held], features, m, p.seed)  # fmt: skip
row = {"seed": p.seed, "sae_training": wc.training, "variant": wc.variant, "k": int(wc.k), **scores}
write_json(snakemake.output[0], row)
logging.info("%s", row)
