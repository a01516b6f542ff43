"""Every probing task of the group (180 under C4) for one representation source: the base activations (and the
one-hot group element beside them), or one SAE at one K (every truncation T, latents and/or reconstructions, and
the reconstruction at T = 0), in one process so the data is loaded once."""

from eqsae.pipeline.runtime import log_to, setup, wait_politely

log_to(snakemake.log[0])
wait_politely(snakemake.threads)  # before torch and XGBoost load OpenMP

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from threadpoolctl import threadpool_limits

from eqsae.fitting.transform import element_matrices
from eqsae.group import get_group
from eqsae.io import read_generators, read_table
from eqsae.models.registry import load_sae
from eqsae.models.sae import Latents
from eqsae.probing.probe import GROUP_ELEMENT, ProbeConfig, probe_base, probe_group_element, probe_sae, write_scores
from eqsae.probing.tasks import make_tasks, orbit_labels
from eqsae.sources.shapes import position_labels, read_activations
from eqsae.training.evaluate import reconstruct

threads, p, wc = snakemake.threads, snakemake.params, snakemake.wildcards
device = setup(threads, snakemake.config["device"])  # XGBoost trains on a GPU where the job has one
start = time.perf_counter()
group = get_group(p.group)
with threadpool_limits(threads):  # BLAS and OpenMP (kNN, XGBoost) stay inside the job's threads
    data = read_activations(snakemake.input.acts)
    cfg = ProbeConfig(**p.probe, seed=p.seed, threads=threads, device=device.type)
    tasks = make_tasks(group)
    labels = orbit_labels(*position_labels(data), tasks)
    keys = dict(seed=int(wc.seed), base_model=wc.model, group=group.name)
    if snakemake.rule == "probe_base":
        base, turn = probe_base(data.acts, labels, tasks, cfg), probe_group_element(data.acts.shape[:2], labels, tasks, cfg)
        table = pd.concat([base, turn], ignore_index=True)
        keys |= dict(sae_training=None, sae=np.repeat(["base", GROUP_ELEMENT], [len(base), len(turn)]), k=None,
                     truncation=None)  # fmt: skip
    else:
        sae = load_sae(Path(snakemake.input.sae).parent)
        transforms = None
        if "m" in snakemake.input.keys():
            generators = read_generators(snakemake.input.m, snakemake.input.get("r"))
            transforms = element_matrices([x.astype(np.float32) for x in generators], group)
        rec = reconstruct(sae, torch.from_numpy(data.acts))
        z = sae.dense(Latents(rec.values, rec.indices)).flatten(0, 1).numpy()
        elements = np.tile(np.arange(data.acts.shape[1]), len(data))
        trained = None
        if "trained_probes" in snakemake.input.keys():  # an equivariant SAE: its latents are its trained SAE's
            trained = read_table(snakemake.input.trained_probes)
            logging.info("latent probes copied from %s", snakemake.input.trained_probes)
        table = probe_sae(z, sae.dictionary_rows().detach().numpy(), sae.b_dec.detach().numpy(), elements, labels,
                          tasks, list(p.t), cfg, transforms, latent_scores=trained)  # fmt: skip
        keys |= dict(sae_training=wc.training, sae=wc.variant, k=int(wc.k))
    for i, (key, value) in enumerate(keys.items()):
        if key not in table:
            table.insert(i, key, value)
write_scores(snakemake.output[0], table)
logging.info("%d task fits x %d probes in %.0f s", len(table) // len(cfg.probes), len(cfg.probes),
             time.perf_counter() - start)  # fmt: skip
