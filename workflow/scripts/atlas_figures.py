"""The atlas' census over the grid (with standard errors) and the s_1 vs s_2 scatter of the first seed."""

from eqsae.runtime import log_to

log_to(snakemake.log[0])

from eqsae.atlas_plots import census_figure, symmetry_scatter  # noqa: E402
from eqsae.io import read_table  # noqa: E402

census_figure(read_table(snakemake.input.census)).savefig(snakemake.output.census, dpi=120, bbox_inches="tight")
tables = dict(zip(map(tuple, ((k["training"], k["model"], int(k["k"]), k["variant"]) for k in snakemake.params.grid)),
                  snakemake.input.tables))  # fmt: skip
for path, training in zip(snakemake.output.scatter, snakemake.config["sae_training"]):
    mine = {key[1:]: read_table(table) for key, table in tables.items() if key[0] == training}
    symmetry_scatter(mine).savefig(path, dpi=110, bbox_inches="tight")
