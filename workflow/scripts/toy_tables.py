"""The toy model's tables: every seed's scores, mean / SE / std over seeds, v2's Table 3 beside ours, v2's claim."""

from eqsae.pipeline.runtime import log_to

log_to(snakemake.log[0])

import logging

import pandas as pd

from eqsae.io import read_table, write_table
from eqsae.paper.claims import MAY_BE_EMPTY, ClaimSettings
from eqsae.paper.findings import toy_section, toy_size_banner
from eqsae.toy.claims import toy_claims_table
from eqsae.toy.tables import summarize_toy, table3

scores = pd.concat([read_table(path) for path in snakemake.input], ignore_index=True)
write_table(snakemake.output.scores, scores, allow_missing=("transformation", "class_agreement"))
summary = summarize_toy(scores)
missing = [c for c in summary.columns if c.endswith(("_se", "_std")) or c.startswith("class_agreement")]
write_table(snakemake.output.summary, summary, allow_missing=missing)
t3 = table3(summary)
write_table(snakemake.output.table3, t3, allow_missing=list(t3.columns))
logging.info("\n%s", t3.to_string(index=False))
claims = toy_claims_table(scores, ClaimSettings.from_config(snakemake.params.claims))
write_table(snakemake.output.claims, claims, allow_missing=MAY_BE_EMPTY)
with open(snakemake.output.findings, "w") as f:
    # as a folder re-decides it
    f.write(toy_size_banner(snakemake.params.toy_size) + toy_section(claims, read_table(snakemake.output.summary)))
logging.info("\n%s", claims.drop(columns=["statement", "rule"]).to_string(index=False))
