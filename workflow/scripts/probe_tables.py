"""RESULT 2 tables: every probe score in one long table, and mean F1 per task group."""

from eqsae.runtime import log_to

log_to(snakemake.log[0])

import logging  # noqa: E402

import pandas as pd  # noqa: E402

from eqsae.io import read_table, write_table  # noqa: E402
from eqsae.probe import summarize  # noqa: E402

scores = pd.concat([read_table(path) for path in snakemake.input], ignore_index=True)
scores = scores.astype({"k": "Int64", "truncation": "Int64"})
write_table(snakemake.output.scores, scores, allow_missing=("k", "truncation"))
summary = summarize(scores)
write_table(snakemake.output.summary, summary, allow_missing=("k", "truncation"))
logging.info("\n%s", summary.to_string(index=False))
