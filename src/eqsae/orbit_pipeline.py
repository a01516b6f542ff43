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

from collections.abc import Callable
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


@torch.inference_mode()
def encode_orbits(sae: TopKSAE, orbits: np.ndarray) -> Latents:
    """TopK latents of every row (n * |G|, k), orbit-major, on the CPU; encoded on the SAE's device."""
    rows = torch.as_tensor(orbits.reshape(-1, orbits.shape[-1]), dtype=torch.float32, device=sae.b_dec.device)
    return Latents(*(t.cpu() for t in sae.encode(rows, sparse=True)))


def probe_orbits(sae: TopKSAE | None, orbits: np.ndarray, labels: np.ndarray, tasks: list, truncations: list[int],
                 cfg: ProbeConfig, transforms: list | None = None,
                 latent_scores: pd.DataFrame | None = None) -> pd.DataFrame:  # fmt: skip
    """Every label task on the orbits' activations (`sae` None: the upper bound) or on an SAE's T truncated latents
    and reconstructions (with T_e = M^p R^q applied for an equivariant SAE, whose latents are its trained SAE's:
    `latent_scores`, that SAE's probe table, gives their rows without fitting them again)."""
    if sae is None:
        return probe_base(orbits, labels, tasks, cfg)
    z = sae.dense(encode_orbits(sae, orbits)).numpy()
    elements = np.tile(np.arange(orbits.shape[1]), len(orbits))
    decoder, bias = sae.dictionary_rows().detach().cpu().numpy(), sae.b_dec.detach().cpu().numpy()
    return probe_sae(z, decoder, bias, elements, labels, tasks, truncations, cfg, transforms, latent_scores)


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


def orbit_truth_scores(sae: TopKSAE, train: np.ndarray, held_out: np.ndarray, present_train: np.ndarray,
                       present_held_out: np.ndarray, features: np.ndarray, m: np.ndarray,
                       seed: int = 0) -> dict[str, float]:  # fmt: skip
    """An SAE of a source with planted features (the toy model) against its truth (`eqsae.toy.ground_truth`):
    recovery by its dictionary, detection F1 chosen and fitted on the training orbits' rows and scored on the
    held-out ones (present: (n, |G|, N) bool), and the symmetry classes' agreement under the true M (|G| = 4)."""
    from eqsae.toy.ground_truth import truth_scores

    z_train, z_held = (sae.dense(encode_orbits(sae, orbits)).numpy() for orbits in (train, held_out))
    y_train, y_held = (p.reshape(-1, p.shape[-1]) for p in (present_train, present_held_out))
    atoms = sae.dictionary_rows().detach().cpu().numpy()
    return truth_scores(features, atoms, m, z_train, y_train, z_held, y_held, train.shape[1], seed)


@dataclass(frozen=True)
class HeldOutOrbits:
    """What the probes, R^2, the atlas, its cards and the explorer read of a replicate: its held-out orbits."""

    acts: np.ndarray
    """(n, |G|, d) activations."""
    labels: np.ndarray
    """(n * |G|, n_tasks) bool task labels, rows orbit-major."""
    tasks: list
    """The probing tasks (`eqsae.probing.tasks.orbit_tasks`): one per value of each label column, or the paper's."""
    orbit_ids: np.ndarray
    """(n,) the table's orbit ids: which images are theirs."""


def read_held_out(path, group: Group, held_out: float | str, seed: int, columns: list[str] | None = None,
                  tasks: str = "labels") -> HeldOutOrbits:  # fmt: skip
    """A replicate's held-out orbits of the table at `path` and their probing tasks: one per value of each label
    column (`columns`, default every one), or the paper's (`tasks="paper"`, a Shapes table; `orbit_tasks`)."""
    from eqsae.probing.tasks import orbit_tasks

    table, mask = read_split(path, group, held_out, seed)
    task_list, labels = orbit_tasks(tasks, {c: v[mask] for c, v in table.labels.items()}, group, columns or None)
    return HeldOutOrbits(table.acts[mask], labels, task_list, table.orbit_ids[mask])


def held_out_of(path, settings: dict, seed: int) -> HeldOutOrbits:
    """`read_held_out` with the workflow's orbits settings (group, held_out, labels and, where set, tasks)."""
    from eqsae.group import get_group

    return read_held_out(path, get_group(settings["group"]), settings["held_out"], seed, settings["labels"],
                         settings.get("tasks", "labels"))  # fmt: skip


def source_network(source: str, base_dir: str | Path | None) -> tuple[torch.nn.Module, Callable] | None:
    """The base network in `base_dir` of a source with one (the digits', the Shapes'), with the function that turns
    its orbit images (a tensor) into what it decodes to; None without one (a user's table)."""
    if base_dir is None:
        return None
    if source == "digits":
        from eqsae.sources.digits import load_digits_autoencoder

        return load_digits_autoencoder(base_dir), lambda images: images.reshape(-1, 1, *images.shape[-2:]).float()
    if source == "shapes":
        from eqsae.models.autoencoders import load_autoencoder, to_input

        return load_autoencoder(base_dir), to_input
    raise ValueError(f"source {source!r} has no base network (digits and shapes have)")


def source_decoder(source: str, base_dir: str | Path | None):
    """The decoder that draws a latent of a source with one (`source_network`), or None (a user's table)."""
    from eqsae.atlas.features import base_decoder

    network = source_network(source, base_dir)
    return None if network is None else base_decoder(network[0])


def orbit_sae_metrics(sae: TopKSAE, orbits: np.ndarray, generators: list[np.ndarray] | None, group: Group,
                      network: tuple | None = None, images: np.ndarray | None = None) -> dict[str, float]:  # fmt: skip
    """RESULT 3's metrics of `sae` on held-out orbits (n, |G|, d), read through M (and R) where `generators` are
    given (an equivariant SAE): FVU, L0, L1, dead share, latent invariance and, where the source has a base
    network (`source_network`) and the orbits' images, the spliced loss beside the base network's own."""
    from eqsae.models.autoencoders import to_input
    from eqsae.training.evaluate import sae_metrics

    base, to_pixels = network if network is not None else (None, to_input)  # no network: no pixels are read
    return sae_metrics(sae.cpu(), orbits, base, images, generators, group=group, to_pixels=to_pixels)


def held_out_view(sae: TopKSAE, held: HeldOutOrbits, images_path: str | Path, source: str = "file",
                  base_dir: str | Path | None = None):  # fmt: skip
    """The atlas's view (`eqsae.atlas.features.ProbingView`) of `sae` on the held-out orbits, with their images
    and the source's decoder where it has one (`base_dir`): what its cards and its part of the explorer draw."""
    from eqsae.atlas.features import orbit_view
    from eqsae.sources.orbit_table import read_orbit_images

    images = read_orbit_images(images_path, held.orbit_ids)
    return orbit_view(sae, held.acts, held.labels, held.tasks, images, source_decoder(source, base_dir))


def training_orbits(path, settings: dict, seed: int) -> tuple[np.ndarray, Group]:
    """The training orbits (n, |G|, d) of the table at `path` and the group, with the workflow's orbits settings
    (group, held_out): every orbit of a training set (the Shapes' SAE set: its split column says so), or the rest
    of one table after its held-out share."""
    from eqsae.group import get_group

    group = get_group(settings["group"])
    table, held_out = read_split(path, group, settings["held_out"], seed)
    return table.acts[~held_out], group


def held_out_orbits(path, settings: dict, seed: int) -> tuple[np.ndarray, Group]:
    """`training_orbits`' other side: the held-out orbits (the Shapes' probing set, or one table's held-out share)."""
    from eqsae.group import get_group

    group = get_group(settings["group"])
    table, held_out = read_split(path, group, settings["held_out"], seed)
    return table.acts[held_out], group


def read_split(path, group: Group, held_out: float | str, seed: int):
    """The orbit table and its held-out mask (`split_of`: a seeded share, or the table's own split where
    `held_out` is "table"): SAEs and M train on the rest, probes, R^2 and the atlas read the held-out orbits."""
    from eqsae.sources.orbit_table import read_orbit_table, split_of

    table = read_orbit_table(path, group.order)
    return table, split_of(table, held_out, seed, path)
