"""One SAE probe job's inputs, loaded as the workflow's probe stage loads them, for the probe benchmarks."""

import argparse
from pathlib import Path

import numpy as np
import torch

from eqsae.fitting.transform import element_matrices
from eqsae.group import get_group
from eqsae.io import read_generators
from eqsae.models.registry import load_sae
from eqsae.models.sae import Latents
from eqsae.probing.tasks import make_tasks, orbit_labels
from eqsae.sources.shapes import read_activations
from eqsae.training.evaluate import reconstruct


def add_arguments(ap: argparse.ArgumentParser, t: list[int], probes: list[str]) -> None:
    ap.add_argument("--sae", required=True)
    ap.add_argument("--acts", required=True)
    ap.add_argument("--group", default="C4")
    ap.add_argument("--m")
    ap.add_argument("--r")
    ap.add_argument("--t", type=int, nargs="+", default=t)
    ap.add_argument("--probes", nargs="+", default=probes)
    ap.add_argument("--every", type=int, default=1, help="every n-th task")
    ap.add_argument("--threads", type=int, default=1)


def load(args) -> argparse.Namespace:
    """Dense latents z, decoder rows, b_D, each row's element, the tasks and their labels, T_e (with --m)."""
    torch.set_num_threads(args.threads)
    group = get_group(args.group)
    data = read_activations(args.acts)
    tasks = make_tasks(group)[:: args.every]
    sae = load_sae(Path(args.sae))
    transforms = None
    if args.m:
        generators = read_generators(args.m, args.r)
        transforms = element_matrices([x.astype(np.float32) for x in generators], group)
    with torch.inference_mode():
        rec = reconstruct(sae, torch.from_numpy(data.acts))
        z = sae.dense(Latents(rec.values, rec.indices)).flatten(0, 1).numpy()
    return argparse.Namespace(
        z=z, decoder=sae.dictionary_rows().detach().numpy(), bias=sae.b_dec.detach().numpy(),
        elements=np.tile(np.arange(data.acts.shape[1]), len(data)), tasks=tasks, transforms=transforms,
        labels=orbit_labels(data.shapes, data.orientations, tasks), n_images=len(data), order=data.acts.shape[1],
    )  # fmt: skip
