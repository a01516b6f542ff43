"""The feature atlas of one SAE on an orbit table's held-out orbits (C4): a row per latent and the census."""

from eqsae.pipeline.runtime import log_to, setup, wait_politely

log_to(snakemake.log[0])
wait_politely(snakemake.threads)

import logging
from pathlib import Path

import numpy as np

from eqsae.atlas.features import MAY_BE_MISSING, AtlasConfig, summary
from eqsae.io import write_json, write_table
from eqsae.models.registry import load_sae
from eqsae.orbit_pipeline import held_out_of, orbit_atlas, source_decoder

p, wc = snakemake.params, snakemake.wildcards
setup(snakemake.threads, "cpu")
held = held_out_of(snakemake.input.table, p.orbits, p.seed)
cfg = AtlasConfig(**{k: v for k, v in p.atlas.items() if k in AtlasConfig.__dataclass_fields__})
m = np.load(snakemake.input.generators)[0]
decode = source_decoder(p.source, Path(snakemake.input.base).parent if "base" in snakemake.input.keys() else None)
atlas = orbit_atlas(load_sae(Path(snakemake.input.sae).parent), m, held.acts, held.labels, held.tasks, cfg, decode)
write_table(snakemake.output.table, atlas, allow_missing=MAY_BE_MISSING)
row = {"seed": p.seed, "sae_training": wc.training, "variant": wc.variant, "k": int(wc.k), **summary(atlas, cfg)}
write_json(snakemake.output.summary, row)
logging.info("%s", row)
