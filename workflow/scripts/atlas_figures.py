"""The atlas' census over the grid (with standard errors) and the s_1 vs s_2 scatter of the first seed."""

from eqsae.pipeline.runtime import log_to

log_to(snakemake.log[0])

from eqsae.atlas.plots import census_figure, symmetry_scatter
from eqsae.io import read_table

census_figure(read_table(snakemake.input.census)).savefig(snakemake.output.census, dpi=120, bbox_inches="tight")
for path, training in zip(snakemake.output.scatter, snakemake.params.practices):
    tables = {(sae["model"], int(sae["k"]), sae["variant"]): read_table(table)
              for sae, table in zip(snakemake.params.grid, snakemake.input.tables) if sae["training"] == training}
    symmetry_scatter(tables).savefig(path, dpi=110, bbox_inches="tight")
