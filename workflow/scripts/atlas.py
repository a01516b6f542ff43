"""The feature atlas of one SAE: a row per latent (activity, symmetry profile, isotypic split, class,
partners, best concept, orbit-strip correlation) and the SAE's census, read through its base model's M."""

from eqsae.pipeline.runtime import log_to, setup, wait_politely

log_to(snakemake.log[0])
wait_politely(snakemake.threads)  # before torch loads OpenMP

import logging
import time
from pathlib import Path

from eqsae.atlas.features import MAY_BE_MISSING, AtlasConfig, load_probing_view, sae_atlas, summary
from eqsae.io import read_matrix, write_json, write_table
from eqsae.models.registry import load_sae

setup(snakemake.threads, "cpu")
wc, start = snakemake.wildcards, time.perf_counter()
cfg = AtlasConfig(**snakemake.params.atlas)
sae = load_sae(Path(snakemake.input.sae).parent)
view = load_probing_view(sae, Path(snakemake.input.base).parent, snakemake.input.acts, snakemake.input.images)
table = sae_atlas(sae.dictionary_rows().detach().numpy(), read_matrix(snakemake.input.m), view, cfg)
write_table(snakemake.output.table, table, allow_missing=MAY_BE_MISSING)
keys = {"seed": int(wc.seed), "base_model": wc.model, "sae_training": wc.training, "variant": wc.variant,
        "k": int(wc.k)}  # fmt: skip
row = {**keys, **summary(table, cfg)}
write_json(snakemake.output.summary, row)
logging.info("%s (%.1f s)", row, time.perf_counter() - start)
