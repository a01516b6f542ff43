"""The feature explorer's page folder: index.html, the run's data.js, and each SAE's part linked in."""

from eqsae.pipeline.runtime import log_to

log_to(snakemake.log[0])

import logging
from pathlib import Path

from eqsae.atlas.explorer import link_parts, read_entries, write_index

folder = Path(snakemake.output[0])
entries = read_entries(snakemake.input.saes)
link_parts(folder, snakemake.input.saes, entries)
write_index(folder, snakemake.params.run, entries)
files = [p for p in folder.rglob("*") if p.is_file()]
logging.info("%d SAEs; the explorer holds %.1f MB in %d files", len(entries),
             sum(p.stat().st_size for p in files) / 1e6, len(files))  # fmt: skip
