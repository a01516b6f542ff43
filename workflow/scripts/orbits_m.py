"""M (and R) on the training orbits of an orbit table; RESULT 1 on its held-out orbits against M = I."""

from eqsae.pipeline.runtime import log_to, setup, wait_politely

log_to(snakemake.log[0])
wait_politely(snakemake.threads)

import logging
from dataclasses import asdict

import numpy as np

from eqsae.group import get_group
from eqsae.io import write_array, write_json, write_table
from eqsae.orbit_pipeline import fit_orbit_generators, read_split
from eqsae.pipeline.config import MFitConfig
from eqsae.pipeline.provenance import collect

p = snakemake.params
device = setup(snakemake.threads, snakemake.config["device"])  # a runtime knob, not a param
group = get_group(p.orbits["group"])
table, held_out = read_split(snakemake.input[0], group, p.orbits["held_out"], p.seed)
m = p.m_fit
cfg = MFitConfig(m["epochs"], m["batch_size"], m["lr"], m["init"], m["order_penalty"], p.seed)
generators, r2 = fit_orbit_generators(table.acts[~held_out], table.acts[held_out], cfg, group, device,
                                     p.post_relu)  # fmt: skip
write_array(snakemake.output.generators, np.stack(generators))
write_table(snakemake.output.r2, r2.assign(seed=p.seed))
write_json(snakemake.output.summary, {"config": asdict(cfg), "group": group.name,
                                      "provenance": collect(dict(p.items()), seed=p.seed, device=str(device),
                                                            threads=snakemake.threads)})  # fmt: skip
logging.info("%d training / %d held-out orbits of %s\n%s", (~held_out).sum(), held_out.sum(), group.name,
             r2.to_string(index=False))  # fmt: skip
