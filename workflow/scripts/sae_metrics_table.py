"""One table of every SAE's held-out metrics."""

from eqsae.runtime import log_to

log_to(snakemake.log[0])

import logging  # noqa: E402

import pandas as pd  # noqa: E402

from eqsae.io import read_json, write_table  # noqa: E402

table = pd.DataFrame([read_json(path) for path in snakemake.input])
write_table(snakemake.output[0], table)
logging.info("\n%s", table.to_string(index=False))
