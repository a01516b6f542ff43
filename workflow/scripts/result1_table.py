"""RESULT 1: one table of M's R^2 (and M = I's) for every base model."""

from eqsae.runtime import log_to

log_to(snakemake.log[0])

import logging  # noqa: E402

import pandas as pd  # noqa: E402

from eqsae.io import read_table, write_table  # noqa: E402

table = pd.concat([read_table(path) for path in snakemake.input], ignore_index=True)
write_table(snakemake.output[0], table)
logging.info("\n%s", table.to_string(index=False))
