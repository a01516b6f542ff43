"""The digits as an orbit table: psi (the base network's `encoder` output) of every group element of every
digit (and each digit's image beside it), with the labels `digit` (invariant) and `digit_orientation` (digit x element, equivariant). This is the
"your own torch model" entry point (eqsae.sources.user_model) run on a model trained in the pipeline."""

from eqsae.pipeline.runtime import log_to, setup, wait_politely

log_to(snakemake.log[0])
wait_politely(snakemake.threads)

import logging
from pathlib import Path

from eqsae.group import get_group
from eqsae.sources.digits import digits_labels, load_digits_autoencoder, load_digits_set
from eqsae.sources.orbit_table import write_orbit_images
from eqsae.sources.user_model import model_to_orbit_table

p = snakemake.params
device = setup(snakemake.threads, snakemake.config["device"])  # a runtime knob, not a param
group = get_group(p.group)
images, digits = load_digits_set(p.digits["n"] or None, p.seed)
model = load_digits_autoencoder(Path(snakemake.input.weights).parent)
acts = model_to_orbit_table(model, "encoder", images, group, snakemake.output.table, digits_labels(digits, group),
                            device=device)  # fmt: skip
write_orbit_images(snakemake.output.images, images)  # orbit i is digit i: the explorer's top-activating inputs
logging.info("%d digits x %d elements x %d activations", *acts.shape)
