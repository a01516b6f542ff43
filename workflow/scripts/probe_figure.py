"""Figure 3 (CNN, T = 32) and the panels of Figure 7: mean F1 per task group, latents vs reconstructions."""

from eqsae.pipeline.runtime import log_to

log_to(snakemake.log[0])

from eqsae.io import read_table
from eqsae.paper.plots import probing_figure

wc = snakemake.wildcards
fig = probing_figure(read_table(snakemake.input[0]), wc.training, wc.model, int(wc.t))
for path in snakemake.output:
    fig.savefig(path, dpi=150, bbox_inches="tight")
