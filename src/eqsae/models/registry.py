"""The SAE variants by name: their architecture and objective, how an SAE is built, saved and loaded.

Every stage that trains, loads or reads an SAE asks here, so a variant is one entry in
`eqsae.pipeline.config.VARIANTS` (torch-free, for the config check) and nothing else."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from eqsae.fitting.transform import element_matrices
from eqsae.group import C4, Group, get_group
from eqsae.models.archetypal import ArchetypalSAE
from eqsae.models.sae import LEGACY_WEIGHTS, WEIGHTS, SAEConfig, TopKSAE
from eqsae.pipeline.config import PRACTICES, TRAINED_BY, VARIANTS, Objective

WIDE_FACTOR = 4
"""A wide variant's latents per narrow latent (v1: 8,192 / 2,048)."""
RELAX_DELTA = 1.0
"""An archetypal dictionary's relaxation where none is given: the workflow's default (`sae.relax_delta`)."""


def orbit_sae_config(
    variant: str, k: int, d: int, expansion: int = 8, practice: str = "paper", **settings
) -> tuple[SAEConfig, Objective]:
    """The variant's architecture with expansion x d latents (4x for a wide one; the paper's 8 x 256 = 2,048) and
    its objective; `settings` as `variant_config`'s (d_hidden, relax_delta, topk_activation)."""
    arch = VARIANTS[variant][0]
    if arch.get("dictionary") == "archetypal":
        settings.setdefault("relax_delta", RELAX_DELTA)
    d_latent = expansion * d * (WIDE_FACTOR if arch["d_latent"] > 2048 else 1)
    return variant_config(variant, k, d_in=d, practice=practice, d_latent=d_latent, **settings)


def variant_config(
    variant: str, k: int, d_in: int = 256, practice: str = "paper", **settings
) -> tuple[SAEConfig, Objective]:
    """The architecture and objective of a variant; `settings` fill what the config sets (d_hidden; n_anchors and
    relax_delta of an archetypal dictionary; d_latent where the dictionary follows the activation width)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown SAE variant {variant!r}; trained variants are {sorted(VARIANTS)}")
    if practice not in PRACTICES:
        raise ValueError(f"unknown SAE practice {practice!r}; known practices are {sorted(PRACTICES)}")
    arch, objective = VARIANTS[variant]
    return SAEConfig(**{**arch, **PRACTICES[practice], **settings, "k": k, "d_in": d_in}), objective


def build_sae(cfg: SAEConfig, anchors: np.ndarray | torch.Tensor | None = None) -> TopKSAE:
    """The SAE `cfg` describes: a TopKSAE, or an ArchetypalSAE on `anchors` (n_anchors, d_in)."""
    match cfg.dictionary, anchors is None:
        case "free", True:
            return TopKSAE(cfg)
        case "archetypal", False:
            return ArchetypalSAE(cfg, anchors)
        case "free", False:
            raise ValueError("anchors given for a free dictionary; set dictionary='archetypal' to use them")
        case "archetypal", True:
            raise ValueError("an archetypal dictionary needs anchors (n_anchors, d_in): see kmeans_anchors")
        case other, _:
            raise ValueError(f"dictionary must be 'free' or 'archetypal', got {other!r}")


def save_sae(sae: TopKSAE, directory: str | Path, **extra) -> None:
    """A directory with `sae.safetensors` (the state dict: encoder.weight (d_latent, d), encoder.bias, W_dec
    (d_latent, d_in), b_dec, and hidden.0.* / the archetypal W, Lambda, anchors where they exist) and `cfg.json`
    (`sae`: the SAEConfig; package version; `extra`, e.g. variant and objective). `export_saelens` writes
    SAELens' layout instead."""
    from eqsae import __version__
    from eqsae.io import write_json
    from eqsae.models.weights import write_tensors

    directory = Path(directory)
    write_tensors(directory / WEIGHTS, sae.state_dict())
    write_json(directory / "cfg.json", {"sae": asdict(sae.cfg), "eqsae_version": __version__, **extra})


class EquivariantSAE(nn.Module):
    """The equivariant SAE: a trained invariant SAE whose reconstruction is turned by the group action on
    activations, T_e = M^p R^q. It trains nothing; its latents are the invariant SAE's (the same for every
    element of an orbit), and the reconstruction of psi(g^p h^q x) is T_e (W_D z + b_D)."""

    def __init__(self, sae: TopKSAE, generators: Sequence, group: Group = C4):
        super().__init__()
        self.sae, self.group, self.cfg = sae, group, sae.cfg
        matrices = [torch.as_tensor(np.asarray(g), dtype=torch.float32) for g in generators]
        for e, t in enumerate(element_matrices(matrices, group)):
            self.register_buffer(f"T_{e}", torch.eye(sae.cfg.d_in) if t is None else t.clone())

    def transform(self, element: int) -> torch.Tensor:
        """(d_in, d_in) T_e of group element e (`eqsae.group`'s numbering; T_0 = I)."""
        return getattr(self, f"T_{element}")

    def encode(self, x: torch.Tensor, **kwargs):
        """The invariant SAE's latents of x (any element of an orbit gives the canonical code)."""
        return self.sae.encode(x, **kwargs)

    def decode(self, latents, element: int = 0) -> torch.Tensor:
        """T_e applied to the invariant SAE's reconstruction: the activation at element e of the orbit."""
        return self.sae.decode(latents) @ self.transform(element).T

    def forward(self, x: torch.Tensor, element: int = 0):
        """(x_hat, Latents) of x = psi at element `element` of its orbit, as the workflow's metrics score it."""
        latents = self.sae.encode(x, sparse=True)
        return self.decode(latents, element), latents

    def dictionary_rows(self, element: int = 0) -> torch.Tensor:
        """(d_latent, d_in) atoms as they appear at element e: T_e applied to each decoder row."""
        return self.sae.dictionary_rows() @ self.transform(element).T


def load_sae(
    directory: str | Path, device: torch.device | str = "cpu", generators: Sequence | None = None
) -> TopKSAE | EquivariantSAE:
    """The SAE (eval mode, on `device`) that `save_sae` wrote: `load_sae("results/paper/seed0/sae/paper/cnn/
    regular/k16")`. Folders written before sae.safetensors existed hold `sae.pt`, read as well. A damaged file is
    an UnreadableFileError naming it.

    An equivariant variant's folder (`.../equivariant/k16`) holds nothing: it loads as an `EquivariantSAE`, its
    invariant SAE (`.../invariant/k16`) with the run's fitted generators (`seed0/m/<model>/M.npy`, and R.npy for
    a group of two generators), or with `generators` ([M] or [M, R]) where given."""
    directory = Path(directory)
    trained = TRAINED_BY.get(directory.parent.name)
    if trained is None:
        return _load_trained(directory, device)
    sae = _load_trained(directory.parent.with_name(trained) / directory.name, device)
    group = _run_group(directory)
    if generators is None:
        generators = _run_generators(directory, group)
    return EquivariantSAE(sae, generators, group).to(device).eval()


def _run_group(directory: Path) -> Group:
    """The group of a workflow SAE folder: a `D4/` (or `C8/`, ...) above the seed folder, else C4."""
    above_seed = directory.parents[5].name if len(directory.parents) > 5 else ""
    try:
        return get_group(above_seed)
    except ValueError:  # the run's own folder: C4's replicates sit right in it
        return C4


def _run_generators(directory: Path, group: Group) -> list[np.ndarray]:
    """M (and R) that the workflow fitted for an SAE folder `<seed>/sae/<practice>/<model>/<variant>/k<K>`."""
    from eqsae.io import read_generators

    folder = directory.parents[4] / "m" / directory.parents[1].name
    m, r = folder / "M.npy", folder / "R.npy"
    if not m.exists():
        raise FileNotFoundError(f"{directory}: the {directory.parent.name} SAE is its invariant SAE read through M, "
                                f"and {m} does not exist; pass generators=[M] (or [M, R]) to load_sae")  # fmt: skip
    return read_generators(m, r if group.n_generators == 2 else None)


def _load_trained(directory: Path, device: torch.device | str) -> TopKSAE:
    """A folder `save_sae` wrote."""
    from eqsae.io import read_json, reading
    from eqsae.models.weights import read_tensors

    cfg_file, weights = directory / "cfg.json", directory / WEIGHTS
    if not weights.exists() and (directory / LEGACY_WEIGHTS).exists():
        weights = directory / LEGACY_WEIGHTS
    with reading(cfg_file):
        cfg = SAEConfig(**read_json(cfg_file)["sae"])
        # an archetypal SAE's anchors are a buffer: zeros of their shape here, the saved ones from the weights
        sae = build_sae(cfg, torch.zeros(cfg.n_anchors, cfg.d_in) if cfg.dictionary == "archetypal" else None)
    if weights.suffix == ".safetensors":
        state = read_tensors(weights)
    else:
        with reading(weights):
            state = torch.load(weights, map_location="cpu", weights_only=True)
    with reading(weights):
        sae.load_state_dict(state)
    return sae.to(device).eval()
