"""RESULT 1: M's R^2 (and M = I's) for every base model and seed, and the same over seeds (mean, SE, n)."""

from eqsae.pipeline.runtime import log_to

log_to(snakemake.log[0])

import logging

import pandas as pd

from eqsae.io import read_table, write_table
from eqsae.paper.stats import se_columns
from eqsae.paper.tables import beside_paper, identity_reading, result1_over_seeds

seeds = pd.concat([read_table(path) for path in snakemake.input], ignore_index=True)
write_table(snakemake.output.seeds, seeds)
table = beside_paper(result1_over_seeds(seeds))
spread = tuple(c for c in table.columns if c.endswith("_element_std") or c.startswith("paper_"))  # `mean` rows only
write_table(snakemake.output.table, table, allow_missing=(*se_columns(table), *spread))
logging.info("\n%s", table.to_string(index=False))
logging.info("%s", identity_reading(table, f"shapes oriented by {snakemake.config['data']['orientation']}"))
