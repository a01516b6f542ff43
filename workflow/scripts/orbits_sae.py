"""One SAE variant at one K on the training orbits of an orbit table; weights and cfg.json."""

from eqsae.pipeline.runtime import log_to, setup, wait_politely

log_to(snakemake.log[0])
wait_politely(snakemake.threads)

from pathlib import Path

from eqsae.group import get_group
from eqsae.models.registry import save_sae
from eqsae.orbit_pipeline import read_split, sae_settings, train_orbit_sae
from eqsae.pipeline.config import VARIANTS
from eqsae.pipeline.provenance import collect

p, wc = snakemake.params, snakemake.wildcards
device = setup(snakemake.threads, snakemake.config["device"])  # a runtime knob, not a param
table, held_out = read_split(snakemake.input[0], get_group(p.orbits["group"]), p.orbits["held_out"], p.seed)
settings = sae_settings(p.sae, p.orbits, p.seed)
sae = train_orbit_sae(table.acts[~held_out], wc.variant, int(wc.k), settings, device)
save_sae(sae, Path(snakemake.output.weights).parent, variant=wc.variant, objective=VARIANTS[wc.variant][1],
         group=p.orbits["group"], settings=settings.__dict__,
         provenance=collect(dict(p.items()), seed=p.seed, device=str(device), threads=snakemake.threads))  # fmt: skip
