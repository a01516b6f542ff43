"""The feature explorer's page: index.html and the run's data.js beside the SAEs' folders."""

from eqsae.pipeline.runtime import log_to

log_to(snakemake.log[0])

import logging
from pathlib import Path

from eqsae.atlas.explorer import read_entries, write_index

entries = read_entries(snakemake.input.saes)
folder = Path(snakemake.output.index).parent
write_index(folder, snakemake.params.run, entries)
size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
logging.info("%d SAEs; the explorer holds %.1f MB in %d files", len(entries), size / 1e6,
             sum(1 for p in folder.rglob("*") if p.is_file()))  # fmt: skip
