"""Figure 4: sparsity (mean L1 of the latents) against spliced reconstruction loss, per base model."""

from eqsae.pipeline.runtime import log_to

log_to(snakemake.log[0])

from eqsae.io import read_table
from eqsae.paper.plots import figure4

fig = figure4(read_table(snakemake.input[0]))
for path in snakemake.output:
    fig.savefig(path, dpi=150, bbox_inches="tight")
