"""Every label task of an orbit table on its held-out orbits: on the activations (the upper bound) and the group
element alone (the leak baseline), or on one SAE's T truncated latents and reconstructions (M^p R^q applied for an
equivariant SAE)."""

from eqsae.pipeline.runtime import log_to, setup, wait_politely

log_to(snakemake.log[0])
wait_politely(snakemake.threads)

from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from eqsae.fitting.transform import element_matrices
from eqsae.group import get_group
from eqsae.models.registry import load_sae
from eqsae.orbit_pipeline import held_out_of, probe_orbit_baselines, probe_orbits
from eqsae.probing.probe import ProbeConfig, write_scores

p, wc = snakemake.params, snakemake.wildcards
threads = snakemake.threads
device = setup(threads, snakemake.config["device"])  # XGBoost trains on a GPU where the job has one
group = get_group(p.orbits["group"])
with threadpool_limits(threads):
    held = held_out_of(snakemake.input.table, p.orbits, p.seed)
    cfg = ProbeConfig(**p.probe, seed=p.seed, threads=threads, device=device.type)
    if snakemake.rule == "orbits_probe_base":  # the activations (upper bound) and the group element alone
        scores, keys = probe_orbit_baselines(held.acts, held.labels, held.tasks, cfg), dict(seed=p.seed, sae_training=None)
        scores.insert(1, "k", None)  # after its `sae` column, as the SAEs' rows have it
    else:
        sae, transforms = load_sae(Path(snakemake.input.sae).parent), None
        keys = dict(seed=p.seed, sae_training=wc.training, sae=wc.variant, k=int(wc.k))
        if "generators" in snakemake.input.keys():
            transforms = element_matrices(list(np.load(snakemake.input.generators).astype(np.float32)), group)
        scores = probe_orbits(sae, held.acts, held.labels, held.tasks, list(p.truncations), cfg, transforms)
for i, (key, value) in enumerate(keys.items()):
    scores.insert(i, key, value)
write_scores(snakemake.output[0], scores)
