"""One SAE variant at one K on the training orbits of an orbit table; weights and cfg.json."""

from eqsae.pipeline.runtime import log_to, setup, wait_politely

log_to(snakemake.log[0])
wait_politely(snakemake.threads)

import logging
from dataclasses import asdict
from pathlib import Path

from eqsae.group import get_group
from eqsae.models.registry import save_sae
from eqsae.orbit_pipeline import read_split, train_orbit_sae
from eqsae.pipeline.config import VARIANTS
from eqsae.pipeline.provenance import collect
from eqsae.training.train import SAETrainConfig

p, wc = snakemake.params, snakemake.wildcards
device = setup(snakemake.threads, snakemake.config["device"])  # a runtime knob, not a param
table, held_out = read_split(snakemake.input[0], get_group(p.orbits["group"]), p.orbits["held_out"], p.seed)
training = SAETrainConfig(p.epochs, p.batch_size, p.lr, p.seed, **p.auxk, **p.paired)
settings = dict(p.architecture) | dict(p.activation) | dict(p.anchors)
sae, history = train_orbit_sae(table.acts[~held_out], wc.variant, int(wc.k), training, device,
                               expansion=p.orbits["expansion"], practice=wc.training, **settings)  # fmt: skip
save_sae(sae, Path(snakemake.output.weights).parent, variant=wc.variant, practice=wc.training,
         objective=VARIANTS[wc.variant][1], group=p.orbits["group"], expansion=p.orbits["expansion"],
         training=asdict(training), final_loss=history[-1].loss, train_seconds=sum(r.seconds for r in history),
         threads=snakemake.threads, device=str(device),
         provenance=collect(dict(p.items()), seed=p.seed, device=str(device), threads=snakemake.threads))  # fmt: skip
logging.info("%s k=%s (%s practice) on %s: %s; done, final loss %.6f", wc.variant, wc.k, wc.training, device, sae.cfg,
             history[-1].loss)  # fmt: skip
