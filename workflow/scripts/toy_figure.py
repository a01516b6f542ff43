"""v2's Figure 2/8 for one kind of canonical representative: the toy metrics against N, a line per SAE type."""

from eqsae.pipeline.runtime import log_to

log_to(snakemake.log[0])

from eqsae.io import read_table
from eqsae.toy.tables import toy_figure

fig = toy_figure(read_table(snakemake.input[0]), snakemake.wildcards.canonical)
fig.savefig(snakemake.output.png, dpi=150, bbox_inches="tight")
fig.savefig(snakemake.output.pdf, bbox_inches="tight")
