"""All 180 probing tasks for one representation source: the base activations, or one SAE at one K (every
truncation T, latents and reconstructions), in one process so the data is loaded once."""

from eqsae.runtime import log_to, setup, wait_politely

log_to(snakemake.log[0])
wait_politely(snakemake.threads)  # before torch and XGBoost load OpenMP

import logging  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from eqsae.evaluate import reconstruct  # noqa: E402
from eqsae.io import read_activations, read_matrix, write_table  # noqa: E402
from eqsae.probe import ProbeConfig, make_tasks, orbit_labels, probe_base, probe_sae  # noqa: E402
from eqsae.sae import Latents, load_sae  # noqa: E402

threads, p, wc = snakemake.threads, snakemake.params, snakemake.wildcards
setup(threads, "cpu")
start = time.perf_counter()
with threadpool_limits(threads):  # BLAS and OpenMP (kNN, XGBoost) stay inside the job's threads
    data = read_activations(snakemake.input.acts)
    cfg = ProbeConfig(**p.probe, seed=p.seed, threads=threads)
    tasks = make_tasks()
    labels = orbit_labels(data.shapes, data.orientations, tasks)
    if snakemake.rule == "probe_base":
        table = probe_base(data.acts, labels, tasks, cfg)
        keys = dict(seed=int(wc.seed), base_model=wc.model, sae_training=None, sae="base", k=None, truncation=None)
    else:
        sae = load_sae(Path(snakemake.input.sae).parent)
        m = read_matrix(snakemake.input.m).astype(np.float32) if "m" in snakemake.input.keys() else None
        rec = reconstruct(sae, torch.from_numpy(data.acts))
        z = sae.dense(Latents(rec.values, rec.indices)).flatten(0, 1).numpy()
        rotations = np.tile(np.arange(data.acts.shape[1]), len(data))
        table = probe_sae(z, sae.W_dec.detach().numpy(), sae.b_dec.detach().numpy(), rotations, labels, tasks,
                          list(p.t), cfg, m)  # fmt: skip
        keys = dict(seed=int(wc.seed), base_model=wc.model, sae_training=wc.training, sae=wc.variant, k=int(wc.k))
    for i, (key, value) in enumerate(keys.items()):
        if key not in table:
            table.insert(i, key, value)
write_table(snakemake.output[0], table, allow_missing=("k", "truncation"))
logging.info("%d task fits x %d probes in %.0f s", len(table) // 3, 3, time.perf_counter() - start)
