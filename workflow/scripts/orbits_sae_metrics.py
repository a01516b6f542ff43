"""RESULT 3 for one orbit-table SAE on the held-out orbits: FVU, L0, L1, dead latents, latent invariance and,
where the source has a base network and images (the digits, the Shapes), the spliced loss."""

from eqsae.pipeline.runtime import log_to, setup, wait_politely

log_to(snakemake.log[0])
wait_politely(snakemake.threads)

import logging
from pathlib import Path

import numpy as np

from eqsae.group import get_group
from eqsae.io import write_json
from eqsae.models.registry import load_sae
from eqsae.orbit_pipeline import orbit_sae_metrics, read_split, source_network
from eqsae.sources.orbit_table import read_orbit_images

p, wc = snakemake.params, snakemake.wildcards
setup(snakemake.threads, "cpu")
group = get_group(p.orbits["group"])
table, held = read_split(snakemake.input.table, group, p.orbits["held_out"], p.seed)
network, images = None, None
if "base" in snakemake.input.keys():
    network = source_network(p.source, Path(snakemake.input.base).parent)
    images = read_orbit_images(snakemake.input.images, table.orbit_ids[held])
sae = load_sae(Path(snakemake.input.sae).parent)
generators = list(np.load(snakemake.input.generators)) if "generators" in snakemake.input.keys() else None
metrics = orbit_sae_metrics(sae, table.acts[held], generators, group, network, images)
row = {"seed": p.seed, "sae_training": wc.training, "variant": wc.variant, "k": int(wc.k),
       "d_latent": sae.cfg.d_latent, **metrics}  # fmt: skip
write_json(snakemake.output[0], row)
logging.info("%s", row)
