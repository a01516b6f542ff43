"""One orbit-table SAE's part of the feature explorer: a PNG per live latent (its top inputs, and its orbit strip
where the source has a decoder) and its data, read on the held-out orbits as the atlas reads them."""

from eqsae.pipeline.runtime import log_to, setup, wait_politely

log_to(snakemake.log[0])
wait_politely(snakemake.threads)

import logging
from pathlib import Path

import numpy as np

from eqsae.atlas.explorer import write_sae_explorer
from eqsae.atlas.features import base_decoder, orbit_view
from eqsae.group import get_group
from eqsae.io import read_table
from eqsae.models.registry import load_sae
from eqsae.orbit_pipeline import read_split
from eqsae.sources.digits import load_digits_autoencoder
from eqsae.sources.orbit_table import label_tasks, read_orbit_images

p, wc = snakemake.params, snakemake.wildcards
setup(snakemake.threads, "cpu")
table, held_out = read_split(snakemake.input.table, get_group(p.orbits["group"]), p.orbits["held_out"], p.seed)
tasks, labels = label_tasks({c: v[held_out] for c, v in table.labels.items()}, p.orbits["labels"] or None)
images = read_orbit_images(snakemake.input.images, table.orbit_ids[held_out])
decode = base_decoder(load_digits_autoencoder(Path(snakemake.input.base).parent)) if "base" in snakemake.input.keys() else None
sae = load_sae(Path(snakemake.input.sae).parent)
view = orbit_view(sae, table.acts[held_out], labels, tasks, images, decode)
keys = {"base_model": "digits" if p.source == "digits" else "orbits", "sae_training": "paper", "variant": wc.variant,
        "k": int(wc.k), "seed": int(wc.seed)}  # fmt: skip
entry = write_sae_explorer(snakemake.output[0], view, read_table(snakemake.input.atlas),
                           sae.dictionary_rows().detach().numpy(), np.load(snakemake.input.generators)[0], keys)  # fmt: skip
logging.info("%s: %d live latents (%s)", entry["id"], entry["census"]["n_live"], "drawn" if decode else "no decoder")
