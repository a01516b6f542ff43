"""Feature cards (a PNG per top live feature) and the orbit gallery of one orbit-table SAE, first seed: the
paper's atlas figures for any source with images (the drawn atom and its orbit strip where it has a decoder)."""

from eqsae.pipeline.runtime import log_to, setup, wait_politely

log_to(snakemake.log[0])
wait_politely(snakemake.threads)

import logging
from pathlib import Path

import numpy as np

from eqsae.atlas.plots import write_atlas_cards
from eqsae.io import read_table
from eqsae.models.registry import load_sae
from eqsae.orbit_pipeline import held_out_of, held_out_view

p, wc, out = snakemake.params, snakemake.wildcards, snakemake.output
setup(snakemake.threads, "cpu")
held = held_out_of(snakemake.input.table, p.orbits, p.seed)
base = Path(snakemake.input.base).parent if "base" in snakemake.input.keys() else None
sae = load_sae(Path(snakemake.input.sae).parent)
view = held_out_view(sae, held, snakemake.input.images, p.source, base)
dictionary, m = sae.dictionary_rows().detach().numpy(), np.load(snakemake.input.generators)[0]
title = f"{p.base_model} {wc.variant} K={wc.k} ({wc.training}, seed {p.seed})"
names = write_atlas_cards(out.cards, out.gallery, view, read_table(snakemake.input.atlas), dictionary, m, p.cards,
                          title, seed=p.seed)  # fmt: skip
logging.info("%d cards (%s): %s", len(names), "drawn" if view.decode else "no decoder", names)
