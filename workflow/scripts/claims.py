"""The paper's claims, decided beyond noise over the seeds by the rules in eqsae.claims, plus the ceiling."""

from eqsae.runtime import log_to

log_to(snakemake.log[0])

import logging  # noqa: E402

import pandas as pd  # noqa: E402

from eqsae.claims import MAY_BE_EMPTY, ceiling_rows, claims_table, findings, label_code_r2  # noqa: E402
from eqsae.io import read_activations, read_table, write_table  # noqa: E402

tables = {name: read_table(snakemake.input[name]) for name in ("result1", "sae", "probes", "atlas")}
code_r2 = []
for path, (seed, model) in zip(snakemake.input.acts, snakemake.params.seed_models):
    data = read_activations(path)
    code_r2.append(dict(seed=seed, base_model=model, r2=label_code_r2(data.acts, data.shapes, data.orientations)))
table = pd.concat([claims_table(tables, list(snakemake.params.practices)),
                   ceiling_rows(tables["probes"], pd.DataFrame(code_r2))], ignore_index=True)  # fmt: skip
write_table(snakemake.output.table, table, allow_missing=MAY_BE_EMPTY)
with open(snakemake.output.findings, "w") as f:
    f.write(findings(table))
logging.info("\n%s", table.to_string(index=False))
