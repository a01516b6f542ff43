"""The atlas over the grid: census and redundancy per SAE, per seed and over seeds (mean, SE, n)."""

from eqsae.pipeline.runtime import log_to

log_to(snakemake.log[0])

import logging

import pandas as pd

from eqsae.io import read_json, write_table
from eqsae.paper.stats import se_columns
from eqsae.paper.tables import atlas_census_over_seeds, atlas_redundancy

seeds = pd.DataFrame([read_json(path) for path in snakemake.input])
write_table(snakemake.output.seeds, seeds)
census = atlas_census_over_seeds(seeds)
write_table(snakemake.output.census, census, allow_missing=se_columns(census))
redundancy = atlas_redundancy(census)
write_table(snakemake.output.redundancy, redundancy, allow_missing=se_columns(redundancy))
logging.info("\n%s", redundancy.to_string(index=False))
