"""One orbit-table SAE's part of the feature explorer: a PNG per live latent (its top inputs, and its orbit strip
where the source has a decoder) and its data, read on the held-out orbits as the atlas reads them."""

from eqsae.pipeline.runtime import log_to, setup, wait_politely

log_to(snakemake.log[0])
wait_politely(snakemake.threads)

import logging
from pathlib import Path

import numpy as np

from eqsae.atlas.explorer import write_sae_explorer
from eqsae.io import read_table
from eqsae.models.registry import load_sae
from eqsae.orbit_pipeline import held_out_of, held_out_view

p, wc = snakemake.params, snakemake.wildcards
setup(snakemake.threads, "cpu")
held = held_out_of(snakemake.input.table, p.orbits, p.seed)
base = Path(snakemake.input.base).parent if "base" in snakemake.input.keys() else None
sae = load_sae(Path(snakemake.input.sae).parent)
view = held_out_view(sae, held, snakemake.input.images, p.source, base)
keys = {"base_model": p.base_model, "sae_training": wc.training, "variant": wc.variant, "k": int(wc.k),
        "seed": int(wc.seed)}  # fmt: skip
entry = write_sae_explorer(snakemake.output[0], view, read_table(snakemake.input.atlas),
                           sae.dictionary_rows().detach().numpy(), np.load(snakemake.input.generators)[0], keys)  # fmt: skip
logging.info("%s: %d live latents (%s)", entry["id"], entry["census"]["n_live"], "drawn" if view.decode else "no decoder")
