"""The feature cards of one SAE (its most often firing live latents, first seed) and its orbit gallery, on a
source's held-out orbits with their images, each latent drawn through the source's decoder where it has one."""

from eqsae.pipeline.runtime import log_to, setup, wait_politely

log_to(snakemake.log[0])
wait_politely(snakemake.threads)  # before torch loads OpenMP

import logging
from pathlib import Path

from eqsae.atlas.features import held_out_view
from eqsae.atlas.plots import write_atlas_cards
from eqsae.io import read_matrix, read_table
from eqsae.models.registry import load_sae
from eqsae.probing.tasks import held_out_of

p, wc, inp, out = snakemake.params, snakemake.wildcards, snakemake.input, snakemake.output
setup(snakemake.threads, "cpu")
held = held_out_of(inp.held_out, p.orbits, p.seed)
sae = load_sae(Path(inp.sae).parent)
view = held_out_view(sae, held, inp.images, p.source, Path(inp.base).parent if "base" in inp.keys() else None)
dictionary, m = sae.dictionary_rows().detach().numpy(), read_matrix(inp.m)
title = f"{wc.model} {wc.variant} K={wc.k} ({wc.training}, seed {p.seed})"
names = write_atlas_cards(out.cards, out.gallery, view, read_table(inp.table), dictionary, m, p.cards, title,
                          seed=p.seed)  # fmt: skip
logging.info("%d cards (%s): %s", len(names), "drawn" if view.decode else "no decoder", names)
