"""The analysis of the paper on anyone's orbits (an `eqsae.sources.orbit_table`): M (and R), the SAE variants, probes for
the table's label columns, the feature atlas. Every source's stages in the workflow run these, one per stage;
so can a notebook:

    table = read_orbit_table("my_orbits.parquet", order=4)
    held_out = split_orbits(len(table), 0.2, seed=0)
    generators, r2 = fit_orbit_generators(table.acts[~held_out], table.acts[held_out], MFitConfig(), C4)
    sae, history = train_orbit_sae(table.acts[~held_out], "invariant", 16, SAETrainConfig(), device="cpu")  # or "cuda"
    tasks, labels = label_tasks({c: v[held_out] for c, v in table.labels.items()})
    scores = probe_orbits(sae, table.acts[held_out], labels, tasks, [4, 16], ProbeConfig(),
                          transforms=element_matrices(generators, C4))

`device` is where M and the SAE train; encoding then runs where the SAE is, and results come back as CPU arrays.

Dictionary sizes follow the activation width: `expansion` x d latents (v1: 8 x 256 = 2,048), a wide variant 4 x
that; everything else is the named variant's (`eqsae.pipeline.config.VARIANTS`). An SAE here takes the settings
every SAE of the project takes: its architecture through `variant_config`, its training as `SAETrainConfig`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from eqsae.atlas.features import held_out_view, orbit_atlas, source_decoder
from eqsae.fitting.transform import fit_generators, result1_table
from eqsae.group import Group
from eqsae.models.registry import orbit_sae_config
from eqsae.models.sae import TopKSAE, encode_orbits
from eqsae.pipeline.config import VARIANTS, MFitConfig
from eqsae.probing.probe import probe_orbit_baselines, probe_orbits
from eqsae.probing.tasks import HeldOutOrbits, held_out_of, read_held_out
from eqsae.sources.networks import source_network
from eqsae.sources.orbit_table import held_out_orbits, read_split, training_orbits
from eqsae.toy.ground_truth import orbit_truth_scores
from eqsae.training.evaluate import orbit_sae_metrics
from eqsae.training.train import SAETrainConfig, train_sae

__all__ = [
    "HeldOutOrbits", "encode_orbits", "fit_orbit_generators", "held_out_of", "held_out_orbits", "held_out_view",
    "orbit_atlas", "orbit_sae_config", "orbit_sae_metrics", "orbit_truth_scores", "probe_orbit_baselines",
    "probe_orbits", "read_held_out", "read_split", "source_decoder", "source_network", "train_orbit_sae",
    "training_orbits",
]  # fmt: skip
"""Each stage's function lives with its concept (the workflow's stage scripts import it from there, so that a
stage's code hash covers only what it runs); this module gathers them for a notebook."""


def fit_orbit_generators(
    train: np.ndarray, held_out: np.ndarray, cfg: MFitConfig, group: Group, device: torch.device | str = "cpu",
    post_relu: bool = False,
) -> tuple[list[np.ndarray], pd.DataFrame]:  # fmt: skip
    """M (and R) fitted on `device` on the training orbits (v2 Eq. 8), and RESULT 1 on the held-out ones against
    M = I (with post_relu, also after a ReLU on both sides: `eqsae.sources.PRE_RELU_SOURCES`)."""
    generators, _ = fit_generators(train, cfg, device, group)
    return generators, result1_table(generators, held_out, "orbits", group, post_relu).drop(columns="base_model")


def train_orbit_sae(
    train: np.ndarray,
    variant: str,
    k: int,
    training: SAETrainConfig | None = None,
    device: torch.device | str = "cpu",
    *,
    expansion: int = 8,
    practice: str = "paper",
    n_anchors: int = 2048,
    **settings,
) -> tuple[TopKSAE, list]:
    """One variant trained on `device` (where it stays) on the training orbits (n, |G|, d), with the settings
    every SAE of the project takes (`SAETrainConfig`; the paper's by default); an archetypal one gets KMeans
    anchors of them. Returns the SAE (its architecture is `sae.cfg`) and the per-epoch history, as `train_sae`."""
    training = training or SAETrainConfig()
    anchors = None
    if VARIANTS[variant][0].get("dictionary") == "archetypal":
        from eqsae.models.archetypal import kmeans_anchors

        rows = train.reshape(-1, train.shape[-1])
        anchors = kmeans_anchors(rows, min(n_anchors, len(rows)), seed=training.seed)
        settings["n_anchors"] = len(anchors)
    cfg, objective = orbit_sae_config(variant, k, train.shape[-1], expansion, practice, **settings)
    return train_sae(train, cfg, objective, training, device, anchors=anchors)
