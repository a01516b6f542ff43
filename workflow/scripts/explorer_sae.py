"""One SAE's part of the feature explorer: a PNG per live latent (orbit strip, top images) and its data."""

from eqsae.pipeline.runtime import log_to, setup, wait_politely

log_to(snakemake.log[0])
wait_politely(snakemake.threads)  # before torch loads OpenMP

import logging
import time
from pathlib import Path

from eqsae.atlas.explorer import write_sae_explorer
from eqsae.atlas.features import load_probing_view
from eqsae.io import read_matrix, read_table
from eqsae.models.registry import load_sae

setup(snakemake.threads, "cpu")
wc, start = snakemake.wildcards, time.perf_counter()
sae = load_sae(Path(snakemake.input.sae).parent)
view = load_probing_view(sae, Path(snakemake.input.base).parent, snakemake.input.acts, snakemake.input.images)
keys = {"base_model": wc.model, "sae_training": wc.training, "variant": wc.variant, "k": int(wc.k),
        "seed": int(wc.seed)}  # fmt: skip
entry = write_sae_explorer(snakemake.output[0], view, read_table(snakemake.input.table),
                           sae.dictionary_rows().detach().numpy(), read_matrix(snakemake.input.m), keys)  # fmt: skip
size = sum(p.stat().st_size for p in Path(snakemake.output[0]).iterdir())
logging.info("%s: %d live latents, %.1f kB (%.1f s)", entry["id"], entry["census"]["n_live"], size / 1e3,
             time.perf_counter() - start)  # fmt: skip
