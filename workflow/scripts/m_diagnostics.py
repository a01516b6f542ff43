"""How well M represents C4: eigenvalues, ||M^4 - I|| on and off the activations' span, per-sample
equivariance error; for M as fitted and for M fitted with the order penalty on (first seed)."""

from eqsae.pipeline.runtime import log_to

log_to(snakemake.log[0])

import logging

import pandas as pd

from eqsae.atlas.plots import m_diagnostics_figure
from eqsae.fitting.diagnostics import m_diagnostics
from eqsae.io import read_matrix, write_table
from eqsae.sources.shapes import read_activations

acts = read_activations(snakemake.input.acts).acts
fits = {}
for path, penalty in zip((snakemake.input.m, snakemake.input.m_order), snakemake.params.order_penalty):
    fits[f"order penalty {penalty:g}"] = m_diagnostics(read_matrix(path), acts)
table = pd.DataFrame([{"base_model": snakemake.wildcards.model, "fit": label, **summary}
                      for label, (summary, _) in fits.items()])  # fmt: skip
write_table(snakemake.output.table, table, allow_missing=("m4_residual_off_span",))
m_diagnostics_figure(snakemake.wildcards.model, fits).savefig(snakemake.output.figure, dpi=110, bbox_inches="tight")
logging.info("\n%s", table.T.to_string())
