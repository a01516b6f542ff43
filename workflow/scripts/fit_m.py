"""Fit M on the SAE set's orbits (Eq. 3) and score it against M = I on the probing set's orbits."""

from eqsae.runtime import log_to, setup

log_to(snakemake.log[0])

import logging  # noqa: E402
from dataclasses import asdict  # noqa: E402

import numpy as np  # noqa: E402

from eqsae.config import MFitConfig  # noqa: E402
from eqsae.io import read_activations, write_json  # noqa: E402
from eqsae.transform import fit_m, result1_table  # noqa: E402

p = snakemake.params
device = setup(snakemake.threads, p.device)
cfg = MFitConfig(p.epochs, p.batch_size, p.lr, p.init, p.order_penalty, p.seed)
logging.info("fitting M for %s on %s: %s", snakemake.wildcards.model, device, cfg)
m, history = fit_m(read_activations(snakemake.input.train).acts, cfg, device)
table = result1_table(m, read_activations(snakemake.input.heldout).acts, snakemake.wildcards.model)
np.save(snakemake.output.m, m)
table.to_csv(snakemake.output.r2, index=False)
order4 = float(np.linalg.norm(np.linalg.matrix_power(m.astype(np.float64), 4) - np.eye(len(m))))
write_json(
    snakemake.output.summary,
    {"config": asdict(cfg), "final_loss": history[-1].loss, "norm_m4_minus_i": order4,
     "train_seconds": sum(r.seconds for r in history), "r2": table.to_dict(orient="records")},
)  # fmt: skip
logging.info("R^2:\n%s", table.to_string(index=False))
