"""The orbits branch's tables: RESULT 1 over seeds, every probe score with its per-label summary over seeds, the
SAE metrics per seed and over seeds, and the atlas census over seeds."""

from eqsae.pipeline.runtime import log_to

log_to(snakemake.log[0])

import logging

import pandas as pd

from eqsae.io import read_json, read_table, write_table
from eqsae.paper.stats import over_seeds, se_columns
from eqsae.paper.tables import NO_TASK, probe_summary_over_seeds, result1_values, sae_metrics_over_seeds
from eqsae.probing.probe import summarize, write_scores

NO_SAE = ("sae_training", "k", "truncation")
r2 = pd.concat([read_table(path) for path in snakemake.input.r2], ignore_index=True)
r2 = r2[r2.element.astype(str) != "std"].assign(element=lambda t: t.element.astype(str))
r2 = over_seeds(r2, result1_values(r2))
write_table(snakemake.output.r2, r2, allow_missing=se_columns(r2))
scores = pd.concat([read_table(path) for path in [*snakemake.input.base, *snakemake.input.probes]], ignore_index=True)
scores = scores.astype({"sae_training": "string", "k": "Int64", "truncation": "Int64"})
write_scores(snakemake.output.scores, scores)
summary = probe_summary_over_seeds(summarize(scores))
write_table(snakemake.output.probes, summary, allow_missing=(*NO_SAE, *NO_TASK, *se_columns(summary)))
metrics = pd.DataFrame([read_json(path) for path in snakemake.input.metrics])
write_table(snakemake.output.metrics_seeds, metrics)
metrics = sae_metrics_over_seeds(metrics)
write_table(snakemake.output.metrics, metrics, allow_missing=se_columns(metrics))
census = pd.DataFrame([read_json(path) for path in snakemake.input.atlas])
if len(census):
    keys = ("seed", "base_model", "sae_training", "variant", "k")
    census = over_seeds(census, [c for c in census.columns if c not in keys])
write_table(snakemake.output.atlas, census, allow_missing=se_columns(census))
logging.info("\n%s\n\n%s", r2.to_string(index=False), summary.to_string(index=False))
