"""The toy source's truth scores of every trained SAE, per seed and over seeds (mean, SE, n)."""

from eqsae.pipeline.runtime import log_to

log_to(snakemake.log[0])

import logging

import pandas as pd

from eqsae.io import read_json, write_table
from eqsae.paper.stats import over_seeds, se_columns

seeds = pd.DataFrame([read_json(path) for path in snakemake.input])
write_table(snakemake.output.seeds, seeds)
table = over_seeds(seeds, [c for c in seeds.columns if c not in ("seed", "sae_training", "variant", "k")])
write_table(snakemake.output.table, table, allow_missing=se_columns(table))
logging.info("\n%s", table.to_string(index=False))
