"""Train one SAE variant at one K on a source's training orbits; save weights and cfg.json."""

from eqsae.pipeline.runtime import log_to, setup, wait_politely

log_to(snakemake.log[0])
wait_politely(snakemake.threads)  # before torch and XGBoost load OpenMP

import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from eqsae.models.registry import orbit_sae_config, save_sae
from eqsae.pipeline.provenance import collect
from eqsae.sources.orbit_table import training_orbits
from eqsae.training.train import SAETrainConfig, train_sae

p, wc = snakemake.params, snakemake.wildcards
device = setup(snakemake.threads, snakemake.config["device"])  # a runtime knob, deliberately not a param
orbits, group = training_orbits(snakemake.input.train, p.orbits, p.seed)
anchors = np.load(snakemake.input.anchors) if "anchors" in snakemake.input.keys() else None
settings = dict(p.architecture) | dict(p.activation) | ({} if anchors is None else {"n_anchors": len(anchors)})
cfg, objective = orbit_sae_config(wc.variant, int(wc.k), orbits.shape[-1], p.expansion, wc.training, **settings)
train = SAETrainConfig(p.epochs, p.batch_size, p.lr, p.seed, **p.auxk, **p.paired)
logging.info("%s %s (%s practice, %s) on %d orbits on %s, %d threads: %s, %s, %s", wc.model, wc.variant,
             wc.training, group.name, len(orbits), device, torch.get_num_threads(), cfg, objective, train)  # fmt: skip
sae, history = train_sae(orbits, cfg, objective, train, device, anchors=anchors)
threads = torch.get_num_threads()
save_sae(sae, Path(snakemake.output.weights).parent, variant=wc.variant, practice=wc.training, base_model=wc.model,
         group=group.name, objective=objective, expansion=p.expansion, training=asdict(train),
         final_loss=history[-1].loss, train_seconds=sum(r.seconds for r in history), threads=threads,
         device=str(device), provenance=collect(dict(p.items()), seed=p.seed, device=str(device), threads=threads))  # fmt: skip
logging.info("done: final loss %.6f", history[-1].loss)
