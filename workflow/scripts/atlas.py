"""The feature atlas of one SAE on a source's held-out orbits (C4): a row per latent (activity, symmetry profile,
isotypic split, class, partners, best concept and, where the source has a decoder, the orbit-strip correlation)
and the SAE's census, read through the source's M."""

from eqsae.pipeline.runtime import log_to, setup, wait_politely

log_to(snakemake.log[0])
wait_politely(snakemake.threads)  # before torch loads OpenMP

import logging
import time
from pathlib import Path

from eqsae.atlas.features import MAY_BE_MISSING, AtlasConfig, orbit_atlas, source_decoder, summary
from eqsae.io import read_matrix, write_json, write_table
from eqsae.models.registry import load_sae
from eqsae.probing.tasks import held_out_of

p, wc, inp = snakemake.params, snakemake.wildcards, snakemake.input
setup(snakemake.threads, "cpu")
start = time.perf_counter()
held = held_out_of(inp.held_out, p.orbits, p.seed)
cfg = AtlasConfig(**p.atlas)
decode = source_decoder(p.source, Path(inp.base).parent if "base" in inp.keys() else None)
table = orbit_atlas(load_sae(Path(inp.sae).parent), read_matrix(inp.m), held.acts, held.labels, held.tasks, cfg,
                    decode)  # fmt: skip
write_table(snakemake.output.table, table, allow_missing=MAY_BE_MISSING)
row = {"seed": p.seed, "base_model": wc.model, "sae_training": wc.training, "variant": wc.variant, "k": int(wc.k),
       **summary(table, cfg)}  # fmt: skip
write_json(snakemake.output.summary, row)
logging.info("%s (%.1f s)", row, time.perf_counter() - start)
