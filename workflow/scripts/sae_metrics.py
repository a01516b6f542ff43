"""RESULT 3 for one SAE (for `equivariant*`: its trained SAE with M and R) at one K on a source's held-out
orbits: FVU, L0, L1, dead latents, latent invariance and, where the source has a base network and images (the
Shapes, the digits), the spliced loss."""

from eqsae.pipeline.runtime import log_to, setup, wait_politely

log_to(snakemake.log[0])
wait_politely(snakemake.threads)  # before torch and XGBoost load OpenMP

import logging
from pathlib import Path

from eqsae.group import get_group
from eqsae.io import read_generators, write_json
from eqsae.models.registry import load_sae
from eqsae.sources.networks import source_network
from eqsae.sources.orbit_table import read_orbit_images, read_split
from eqsae.training.evaluate import orbit_sae_metrics

p, wc, inp = snakemake.params, snakemake.wildcards, snakemake.input
setup(snakemake.threads, "cpu")
group = get_group(p.orbits["group"])
table, held = read_split(inp.held_out, group, p.orbits["held_out"], p.seed)
network, images = None, None
if "base" in inp.keys():
    network = source_network(p.source, Path(inp.base).parent)
    images = read_orbit_images(inp.images, table.orbit_ids[held])
sae = load_sae(Path(inp.sae).parent)
generators = read_generators(inp.m, inp.get("r")) if "m" in inp.keys() else None
metrics = orbit_sae_metrics(sae, table.acts[held], generators, group, network, images)
row = {"seed": p.seed, "base_model": wc.model, "group": group.name, "sae_training": wc.training,
       "variant": wc.variant, "k": int(wc.k), "d_latent": sae.cfg.d_latent, **metrics}  # fmt: skip
write_json(snakemake.output[0], row)
logging.info("%s", row)
