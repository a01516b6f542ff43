"""v2's tables beside ours: Table 1 (R^2 of M and of M = I), Tables 4 and 5 (XGBoost on reconstructions from T
latents) and its headline (best equivariant SAE vs best baseline per cell), each with v2's published numbers."""

from eqsae.pipeline.runtime import log_to

log_to(snakemake.log[0])

import logging

from eqsae.io import read_table, write_table
from eqsae.paper.v2 import best_equivariant_vs_best_baseline, may_be_missing, table1, tables45

r2 = table1(read_table(snakemake.input.r2))
write_table(snakemake.output.table1, r2, allow_missing=may_be_missing(r2))
t45 = tables45(read_table(snakemake.input.scores))
write_table(snakemake.output.tables45, t45, allow_missing=may_be_missing(t45))
cells = best_equivariant_vs_best_baseline(t45)
write_table(snakemake.output.headline, cells, allow_missing=may_be_missing(cells))
counts = ["base_model", "sae_training", "n_wins", "n_cells", "paper_n_wins", "paper_n_cells"]
logging.info("\n%s\n\nbest equivariant beats best baseline in n_wins of n_cells:\n%s", r2.to_string(index=False),
             cells[counts].drop_duplicates().to_string(index=False))  # fmt: skip
