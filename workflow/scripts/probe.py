"""Every probing task of a source's held-out orbits (the paper's 180 under C4, or one per value of a table's label
columns) for one representation: the activations (and the one-hot group element beside them), or one SAE at one K
(every truncation T, latents and/or reconstructions), in one process so the data is loaded once."""

from eqsae.pipeline.runtime import log_to, setup, wait_politely

log_to(snakemake.log[0])
wait_politely(snakemake.threads)  # before torch and XGBoost load OpenMP

import logging
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from eqsae.fitting.transform import element_matrices
from eqsae.group import get_group
from eqsae.io import read_generators, read_table
from eqsae.models.registry import load_sae
from eqsae.probing.probe import ProbeConfig, probe_orbit_baselines, probe_orbits, write_scores
from eqsae.probing.tasks import held_out_of

threads, p, wc, inp = snakemake.threads, snakemake.params, snakemake.wildcards, snakemake.input
device = setup(threads, snakemake.config["device"])  # XGBoost trains on a GPU where the job has one
start = time.perf_counter()
group = get_group(p.orbits["group"])
with threadpool_limits(threads):  # BLAS and OpenMP (kNN, XGBoost) stay inside the job's threads
    held = held_out_of(inp.held_out, p.orbits, p.seed)
    cfg = ProbeConfig(**p.probe, seed=p.seed, threads=threads, device=device.type)
    keys = dict(seed=p.seed, base_model=wc.model, group=group.name)
    if snakemake.rule == "probe_base":  # the activations (upper bound) and the group element alone
        table = probe_orbit_baselines(held.acts, held.labels, held.tasks, cfg)
        keys |= dict(sae_training=None)
        for i, key in enumerate(("k", "truncation"), start=1):
            if key not in table:  # after its `sae` column, as the SAEs' rows have them
                table.insert(i, key, None)
    else:
        sae, transforms, trained = load_sae(Path(inp.sae).parent), None, None
        if "m" in inp.keys():
            generators = read_generators(inp.m, inp.get("r"))
            transforms = element_matrices([x.astype(np.float32) for x in generators], group)
        if "trained_probes" in inp.keys():  # an equivariant SAE: its latents are its trained SAE's
            trained = read_table(inp.trained_probes)
            logging.info("latent probes copied from %s", inp.trained_probes)
        table = probe_orbits(sae, held.acts, held.labels, held.tasks, list(p.t), cfg, transforms, trained)
        keys |= dict(sae_training=wc.training, sae=wc.variant, k=int(wc.k))
    for i, (key, value) in enumerate(keys.items()):
        if key not in table:
            table.insert(i, key, value)
write_scores(snakemake.output[0], table)
logging.info("%d task fits x %d probes in %.0f s", len(table) // len(cfg.probes), len(cfg.probes),
             time.perf_counter() - start)  # fmt: skip
