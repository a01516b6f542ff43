"""Fit M on the SAE set's orbits (Eq. 3); its R^2 on held-out orbits is the next step (m_r2)."""

from eqsae.runtime import log_to, setup, wait_politely

log_to(snakemake.log[0])
wait_politely(snakemake.threads)  # before torch and XGBoost load OpenMP

import logging  # noqa: E402
from dataclasses import asdict  # noqa: E402

import numpy as np  # noqa: E402

from eqsae.config import MFitConfig  # noqa: E402
from eqsae.io import read_activations, write_json  # noqa: E402
from eqsae.provenance import collect  # noqa: E402
from eqsae.transform import fit_m  # noqa: E402

p = snakemake.params
device = setup(snakemake.threads, snakemake.config["device"])  # a runtime knob, deliberately not a param
cfg = MFitConfig(p.epochs, p.batch_size, p.lr, p.init, p.order_penalty, p.seed)
logging.info("fitting M for %s on %s: %s", snakemake.wildcards.model, device, cfg)
m, history = fit_m(read_activations(snakemake.input[0]).acts, cfg, device)
order4 = float(np.linalg.norm(np.linalg.matrix_power(m.astype(np.float64), 4) - np.eye(len(m))))
write_json(
    snakemake.output.summary,
    {"config": asdict(cfg), "final_loss": history[-1].loss, "norm_m4_minus_i": order4,
     "train_seconds": sum(r.seconds for r in history),
     "provenance": collect(dict(p.items()), seed=p.seed, device=str(device), threads=snakemake.threads)},
)  # fmt: skip
np.save(snakemake.output.m, m)
logging.info("done: final loss %.6g, ||M^4 - I|| %.4g", history[-1].loss, order4)
