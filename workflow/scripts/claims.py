"""The paper's claims, each decided over the seeds by its rule in eqsae.paper.claims, plus the ceiling rows."""

from eqsae.pipeline.runtime import log_to

log_to(snakemake.log[0])

import logging

import pandas as pd

from eqsae.io import read_table, write_table
from eqsae.paper.claims import MAY_BE_EMPTY, ClaimSettings, ceiling_rows, claims_table, label_code_r2
from eqsae.paper.findings import section, toy_size_banner
from eqsae.sources.shapes import position_labels, read_activations

tables = {name: read_table(snakemake.input[name]) for name in ("result1", "sae", "probes", "atlas")}
code_r2 = []
for path, (seed, model) in zip(snakemake.input.acts, snakemake.params.seed_models):
    data = read_activations(path)
    r2 = label_code_r2(data.acts, *position_labels(data))
    code_r2.append(dict(seed=seed, base_model=model, r2=r2, unexplained=1 - r2))
code_r2 = pd.DataFrame(code_r2)
write_table(snakemake.output.code_r2, code_r2)
settings = ClaimSettings.from_config(snakemake.params.claims)
table = pd.concat([claims_table(tables, list(snakemake.params.practices), settings),
                   ceiling_rows(tables["probes"], code_r2)], ignore_index=True)  # fmt: skip
write_table(snakemake.output.table, table, allow_missing=MAY_BE_EMPTY)
with open(snakemake.output.findings, "w") as f:
    f.write(toy_size_banner(snakemake.params.toy_size) + section(table))
logging.info("\n%s", table.drop(columns=["statement", "rule"]).to_string(index=False))
