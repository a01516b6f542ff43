"""A results table as an HTML page for the report (which offers a CSV only as a download)."""

from eqsae.pipeline.runtime import log_to

log_to(snakemake.log[0])

from eqsae.pipeline.html_table import write_table_page

write_table_page(snakemake.input[0], snakemake.output[0], snakemake.params.toy_size)
