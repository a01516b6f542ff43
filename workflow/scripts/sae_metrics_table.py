"""RESULT 3: every SAE's held-out metrics per seed, and the same over seeds (mean, SE, n)."""

from eqsae.pipeline.runtime import log_to

log_to(snakemake.log[0])

import logging

import pandas as pd

from eqsae.io import read_json, write_table
from eqsae.paper.stats import se_columns
from eqsae.paper.tables import sae_metrics_over_seeds

seeds = pd.DataFrame([read_json(path) for path in snakemake.input])
write_table(snakemake.output.seeds, seeds)
table = sae_metrics_over_seeds(seeds)
write_table(snakemake.output.table, table, allow_missing=se_columns(table))
logging.info("\n%s", table.to_string(index=False))
