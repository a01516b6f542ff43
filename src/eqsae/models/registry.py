"""The SAE variants by name: their architecture and objective, how an SAE is built, saved and loaded.

Every stage that trains, loads or reads an SAE asks here, so a variant is one entry in
`eqsae.pipeline.config.VARIANTS` (torch-free, for the config check) and nothing else."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from eqsae.models.archetypal import ArchetypalSAE
from eqsae.models.sae import LEGACY_WEIGHTS, WEIGHTS, SAEConfig, TopKSAE
from eqsae.pipeline.config import PRACTICES, TRAINED_BY, VARIANTS, Objective


def variant_config(
    variant: str, k: int, d_in: int = 256, practice: str = "paper", **settings
) -> tuple[SAEConfig, Objective]:
    """The architecture and objective of a variant; `settings` fill what the config sets (d_hidden; n_anchors and
    relax_delta of an archetypal dictionary)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown SAE variant {variant!r}; trained variants are {sorted(VARIANTS)}")
    if practice not in PRACTICES:
        raise ValueError(f"unknown SAE practice {practice!r}; known practices are {sorted(PRACTICES)}")
    arch, objective = VARIANTS[variant]
    return SAEConfig(k=k, d_in=d_in, **arch, **PRACTICES[practice], **settings), objective


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


def load_sae(directory: str | Path, device: torch.device | str = "cpu") -> TopKSAE:
    """The SAE (eval mode, on `device`) that `save_sae` wrote: `load_sae("results/paper/seed0/sae/paper/cnn/
    regular/k16")`. Folders written before sae.safetensors existed hold `sae.pt`, read as well. An equivariant
    SAE has no folder: it is its invariant SAE read through M. A damaged file is an UnreadableFileError naming
    it."""
    from eqsae.io import read_json, reading
    from eqsae.models.weights import read_tensors

    directory = Path(directory)
    _refuse_untrained(directory)
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


def _refuse_untrained(directory: Path) -> None:
    """A missing folder of a variant that trains nothing (`.../equivariant/k16`): say which folder holds it."""
    trained = TRAINED_BY.get(directory.parent.name)
    if trained is not None and not directory.exists():
        folder = directory.parent.with_name(trained) / directory.name
        raise FileNotFoundError(f"{directory}: no such folder. The {directory.parent.name} SAE trains nothing: it is "
                                f"the {trained} SAE, load_sae({str(folder)!r}), with M^p (R^q) applied to its "
                                "reconstructions (eqsae.fitting.transform.element_matrices and apply_elements)")  # fmt: skip
