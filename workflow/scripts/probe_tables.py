"""RESULT 2 tables: every probe score of every seed in one long table, mean F1 per task group per seed, and
the same over seeds (mean, SE, n)."""

from eqsae.pipeline.runtime import log_to

log_to(snakemake.log[0])

import logging

import pandas as pd

from eqsae.io import read_table, write_table
from eqsae.paper.stats import se_columns
from eqsae.paper.tables import NO_TASK, probe_summary_over_seeds
from eqsae.probing.probe import summarize, write_scores

NO_SAE = ("k", "truncation")  # empty on the base activations' rows
scores = pd.concat([read_table(path) for path in snakemake.input], ignore_index=True)
scores = scores.astype({"k": "Int64", "truncation": "Int64"})
write_scores(snakemake.output.scores, scores)
seeds = summarize(scores)
write_table(snakemake.output.seeds, seeds, allow_missing=(*NO_SAE, *NO_TASK))
summary = probe_summary_over_seeds(seeds)
write_table(snakemake.output.summary, summary, allow_missing=(*NO_SAE, *NO_TASK, *se_columns(summary)))
logging.info("\n%s", summary.to_string(index=False))
