"""The paper's claims, decided by the rules in eqsae.claims for each SAE training practice, plus the ceiling."""

from eqsae.runtime import log_to

log_to(snakemake.log[0])

import logging  # noqa: E402

import pandas as pd  # noqa: E402

from eqsae.claims import ceiling_rows, claims_table, label_code_r2  # noqa: E402
from eqsae.io import read_activations, read_table, write_table  # noqa: E402

tables = {name: read_table(snakemake.input[name]) for name in ("result1", "sae", "probes")}
code_r2 = {}
for model, path in zip(snakemake.params.models, snakemake.input.acts):
    data = read_activations(path)
    code_r2[model] = label_code_r2(data.acts, data.shapes, data.orientations)
table = pd.concat([claims_table(tables, list(snakemake.params.practices)), ceiling_rows(tables["probes"], code_r2)])
write_table(snakemake.output[0], table)
logging.info("\n%s", table.to_string(index=False))
