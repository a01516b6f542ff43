"""v2's Figure 3 for one base model, our reading: XGBoost F1 on reconstructions against T, a line per SAE, v2's
numbers (means over MLP, CNN and ViT) dashed."""

from eqsae.pipeline.runtime import log_to

log_to(snakemake.log[0])

from eqsae.io import read_table
from eqsae.paper.v2 import figure3

fig = figure3(read_table(snakemake.input[0]), snakemake.wildcards.model)
fig.savefig(snakemake.output.png, dpi=150, bbox_inches="tight")
fig.savefig(snakemake.output.pdf, bbox_inches="tight")
