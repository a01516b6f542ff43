"""Feature cards (a PNG per top live feature) and the orbit gallery of one SAE, first seed."""

from eqsae.pipeline.runtime import log_to, setup, wait_politely

log_to(snakemake.log[0])
wait_politely(snakemake.threads)  # before torch loads OpenMP

import logging
from pathlib import Path

from eqsae.atlas.features import load_probing_view
from eqsae.atlas.plots import write_atlas_cards
from eqsae.io import read_matrix, read_table
from eqsae.models.registry import load_sae

setup(snakemake.threads, "cpu")
wc, p = snakemake.wildcards, snakemake.params
sae = load_sae(Path(snakemake.input.sae).parent)
view = load_probing_view(sae, Path(snakemake.input.base).parent, snakemake.input.acts, snakemake.input.images)
table, m = read_table(snakemake.input.table), read_matrix(snakemake.input.m)
dictionary = sae.dictionary_rows().detach().numpy()
title = f"{wc.model} {wc.variant} K={wc.k} ({wc.training}, seed {p.seed})"
out = snakemake.output
names = write_atlas_cards(out.cards, out.gallery, view, table, dictionary, m, p.cards, title, seed=p.seed)
logging.info("%d cards: %s", len(names), names)
