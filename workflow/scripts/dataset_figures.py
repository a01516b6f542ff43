"""v1's Figure 2 (sample images of the dataset, with the labels read from their pixels) and Figure 6 (the
eight shapes and their orbits)."""

from eqsae.pipeline.runtime import log_to

log_to(snakemake.log[0])

from eqsae.atlas.plots import dataset_figure, shapes_figure
from eqsae.sources.shapes import read_shapeset

data = read_shapeset(snakemake.input[0])
dataset_figure(data.images, data.shapes[:, 0], data.orientations[:, 0]).savefig(snakemake.output.figure2, dpi=110)
shapes_figure().savefig(snakemake.output.figure6, dpi=110)
