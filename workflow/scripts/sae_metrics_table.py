"""One table of every SAE's held-out metrics."""

from eqsae.runtime import log_to

log_to(snakemake.log[0])

import logging  # noqa: E402

import pandas as pd  # noqa: E402

from eqsae.io import read_json  # noqa: E402

table = pd.DataFrame([read_json(path) for path in snakemake.input])
table.to_csv(snakemake.output[0], index=False, float_format="%.6g")
logging.info("\n%s", table.to_string(index=False))
