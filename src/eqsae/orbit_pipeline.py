"""The analysis of the paper on anyone's orbits (an `eqsae.sources.orbit_table`): M (and R), the SAE variants, probes for
the table's label columns, the feature atlas. The `orbits` branch of the workflow calls these, one per stage;
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

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from eqsae.fitting.transform import fit_generators, result1_table
from eqsae.group import Group
from eqsae.models.registry import variant_config
from eqsae.models.sae import Latents, SAEConfig, TopKSAE
from eqsae.pipeline.config import VARIANTS, MFitConfig, Objective
from eqsae.probing.probe import GROUP_ELEMENT, ProbeConfig, probe_base, probe_group_element, probe_sae
from eqsae.training.train import SAETrainConfig, train_sae

WIDE_FACTOR = 4
"""A wide variant's latents per narrow latent (v1: 8,192 / 2,048)."""
RELAX_DELTA = 1.0
"""An archetypal dictionary's relaxation where none is given: the workflow's default (`sae.relax_delta`)."""


def orbit_sae_config(
    variant: str, k: int, d: int, expansion: int = 8, practice: str = "paper", **settings
) -> tuple[SAEConfig, Objective]:
    """The variant's architecture with expansion x d latents (4x for a wide one) and its objective; `settings` as
    `variant_config`'s (d_hidden, relax_delta, topk_activation)."""
    arch = VARIANTS[variant][0]
    if arch.get("dictionary") == "archetypal":
        settings.setdefault("relax_delta", RELAX_DELTA)
    d_latent = expansion * d * (WIDE_FACTOR if arch["d_latent"] > 2048 else 1)
    return variant_config(variant, k, d_in=d, practice=practice, d_latent=d_latent, **settings)


def fit_orbit_generators(
    train: np.ndarray, held_out: np.ndarray, cfg: MFitConfig, group: Group, device: torch.device | str = "cpu"
) -> tuple[list[np.ndarray], pd.DataFrame]:
    """M (and R) fitted on `device` on the training orbits (v2 Eq. 8), and RESULT 1 on the held-out ones against
    M = I."""
    generators, _ = fit_generators(train, cfg, device, group)
    return generators, result1_table(generators, held_out, "orbits", group).drop(columns="base_model")


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


@torch.inference_mode()
def encode_orbits(sae: TopKSAE, orbits: np.ndarray) -> Latents:
    """TopK latents of every row (n * |G|, k), orbit-major, on the CPU; encoded on the SAE's device."""
    rows = torch.as_tensor(orbits.reshape(-1, orbits.shape[-1]), dtype=torch.float32, device=sae.b_dec.device)
    return Latents(*(t.cpu() for t in sae.encode(rows, sparse=True)))


def probe_orbits(sae: TopKSAE | None, orbits: np.ndarray, labels: np.ndarray, tasks: list, truncations: list[int],
                 cfg: ProbeConfig, transforms: list | None = None) -> pd.DataFrame:  # fmt: skip
    """Every label task on the orbits' activations (`sae` None: the upper bound) or on an SAE's T truncated latents
    and reconstructions (with T_e = M^p R^q applied for an equivariant SAE)."""
    if sae is None:
        return probe_base(orbits, labels, tasks, cfg)
    z = sae.dense(encode_orbits(sae, orbits)).numpy()
    elements = np.tile(np.arange(orbits.shape[1]), len(orbits))
    decoder, bias = sae.dictionary_rows().detach().cpu().numpy(), sae.b_dec.detach().cpu().numpy()
    return probe_sae(z, decoder, bias, elements, labels, tasks, truncations, cfg, transforms)


def probe_orbit_baselines(orbits: np.ndarray, labels: np.ndarray, tasks: list, cfg: ProbeConfig) -> pd.DataFrame:
    """The references of every SAE's scores, column `sae`: the activations themselves ("base", the upper bound)
    and the one-hot group element alone ("group_element": how much of a label the turn gives without any
    feature, e.g. an orientation label)."""
    base = probe_base(orbits, labels, tasks, cfg)
    turn = probe_group_element(orbits.shape[:2], labels, tasks, cfg)
    scores = pd.concat([base.assign(sae="base"), turn.assign(sae=GROUP_ELEMENT)], ignore_index=True)
    return scores[["sae", *[c for c in scores.columns if c != "sae"]]]


def orbit_atlas(sae: TopKSAE, m: np.ndarray, orbits: np.ndarray, labels: np.ndarray, tasks: list, cfg,
                decode=None) -> pd.DataFrame:  # fmt: skip
    """The atlas's per-latent table (C4: symmetry profile, class, partners, best label concept) of an SAE read
    through M on the orbits; `decode` (psi -> images, e.g. `eqsae.atlas.features.base_decoder`) draws each latent
    for the orbit-strip columns, which stay empty without one."""
    from eqsae.atlas.features import latent_table

    latents = encode_orbits(sae, orbits)
    dictionary = sae.dictionary_rows().detach().cpu().numpy()
    return latent_table(dictionary, m, latents.values.numpy(), latents.indices.numpy(), labels, tasks, decode,
                        orbits.reshape(-1, orbits.shape[-1]).mean(0), cfg)  # fmt: skip


@dataclass(frozen=True)
class HeldOutOrbits:
    """What the probes, R^2, the atlas, its cards and the explorer read of a replicate: its held-out orbits."""

    acts: np.ndarray
    """(n, |G|, d) activations."""
    labels: np.ndarray
    """(n * |G|, n_tasks) bool task labels, rows orbit-major."""
    tasks: list
    """The label tasks (`eqsae.sources.orbit_table.LabelTask`), one per value of each label column."""
    orbit_ids: np.ndarray
    """(n,) the table's orbit ids: which images are theirs."""


def read_held_out(path, group: Group, held_out: float, seed: int, columns: list[str] | None = None) -> HeldOutOrbits:
    """A replicate's held-out orbits of the table at `path` and their label tasks (`columns`, default every label
    column)."""
    from eqsae.sources.orbit_table import label_tasks

    table, mask = read_split(path, group, held_out, seed)
    tasks, labels = label_tasks({c: v[mask] for c, v in table.labels.items()}, columns or None)
    return HeldOutOrbits(table.acts[mask], labels, tasks, table.orbit_ids[mask])


def source_decoder(source: str, base_dir: str | Path | None):
    """The decoder that draws a latent of a source with one (the base network in `base_dir` of the digits or the
    Shapes), or None (a user's table)."""
    if base_dir is None:
        return None
    from eqsae.atlas.features import base_decoder

    if source == "digits":
        from eqsae.sources.digits import load_digits_autoencoder as load
    elif source == "shapes":
        from eqsae.models.autoencoders import load_autoencoder as load
    else:
        raise ValueError(f"source {source!r} has no decoder (digits and shapes have)")
    return base_decoder(load(base_dir))


def held_out_view(sae: TopKSAE, held: HeldOutOrbits, images_path: str | Path, source: str = "file",
                  base_dir: str | Path | None = None):  # fmt: skip
    """The atlas's view (`eqsae.atlas.features.ProbingView`) of `sae` on the held-out orbits, with their images
    and the source's decoder where it has one (`base_dir`): what its cards and its part of the explorer draw."""
    from eqsae.atlas.features import orbit_view
    from eqsae.sources.orbit_table import read_orbit_images

    images = read_orbit_images(images_path, held.orbit_ids)
    return orbit_view(sae, held.acts, held.labels, held.tasks, images, source_decoder(source, base_dir))


def read_split(path, group: Group, held_out: float, seed: int):
    """The orbit table and its seeded held-out mask: SAEs and M train on the rest, probes, R^2 and the atlas
    read the held-out orbits."""
    from eqsae.sources.orbit_table import read_orbit_table, split_orbits

    table = read_orbit_table(path, group.order)
    return table, split_orbits(len(table), held_out, seed)
