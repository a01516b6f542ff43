"""One SAE's part of the feature explorer (one seed): a PNG per live latent (its orbit strip where the source has
a decoder, its top, band and random held-out inputs) and the data the page reads."""

from eqsae.pipeline.runtime import log_to, setup, wait_politely

log_to(snakemake.log[0])
wait_politely(snakemake.threads)  # before torch loads OpenMP

import logging
import time
from pathlib import Path

from eqsae.atlas.explorer import write_sae_explorer
from eqsae.atlas.features import held_out_view
from eqsae.io import read_matrix, read_table
from eqsae.models.registry import load_sae
from eqsae.probing.tasks import held_out_of

p, wc, inp = snakemake.params, snakemake.wildcards, snakemake.input
setup(snakemake.threads, "cpu")
start = time.perf_counter()
held = held_out_of(inp.held_out, p.orbits, p.seed)
sae = load_sae(Path(inp.sae).parent)
view = held_out_view(sae, held, inp.images, p.source, Path(inp.base).parent if "base" in inp.keys() else None)
keys = {"base_model": wc.model, "sae_training": wc.training, "variant": wc.variant, "k": int(wc.k), "seed": p.seed}
entry = write_sae_explorer(snakemake.output[0], view, read_table(inp.table), sae.dictionary_rows().detach().numpy(),
                           read_matrix(inp.m), keys)  # fmt: skip
size = sum(f.stat().st_size for f in Path(snakemake.output[0]).iterdir())
logging.info("%s: %d live latents, %.1f kB, %s (%.1f s)", entry["id"], entry["census"]["n_live"], size / 1e3,
             "drawn" if view.decode else "no decoder", time.perf_counter() - start)  # fmt: skip
