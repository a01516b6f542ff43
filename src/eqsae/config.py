"""Settings of each stage (frozen dataclasses) and the SAE variants' architectures, torch-free.

The workflow config is checked against these in `eqsae.validate`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

BaseModel = Literal["mlp", "cnn"]
Device = Literal["auto", "cpu", "cuda"]
Objective = Literal["augmented", "invariant"]

# SPEC.md: the variants are configurations of one TopK SAE plus a training objective. `equivariant` trains
# nothing: it is the invariant SAE with M^p applied to its reconstruction.
VARIANTS: dict[str, tuple[dict, Objective]] = {
    "regular": (dict(encoder="linear", d_latent=2048), "augmented"),
    "wide": (dict(encoder="linear", d_latent=8192), "augmented"),
    "twolayer": (dict(encoder="twolayer", d_latent=2048), "augmented"),
    "invariant": (dict(encoder="twolayer", d_latent=2048), "invariant"),
}
TRAINED_BY = {"equivariant": "invariant"}
# AuxK, the third part of standard practice, is a training setting (SAETrainConfig.auxk_alpha).
PRACTICES: dict[str, dict] = {
    "paper": dict(pre_bias=False, tied_init=False),
    "standard": dict(pre_bias=True, tied_init=True),
}


@dataclass(frozen=True)
class BaseTrainConfig:
    """Training of a base autoencoder (paper Appendix C.2)."""

    model: BaseModel
    """Architecture from Table 1."""
    epochs: int = 100
    """Passes over the training images, each image entering with one random rotation."""
    batch_size: int = 64
    lr: float = 1e-3
    """Adam learning rate."""
    seed: int = 0
    """Seeds initialisation, shuffling and the random rotations."""

    def __post_init__(self) -> None:
        _positive(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr)


@dataclass(frozen=True)
class MFitConfig:
    """Fitting the activation transformation matrix M on Eq. 3 (RESULT 1)."""

    epochs: int = 150
    batch_size: int = 32
    """Canonical images per step; each brings its whole orbit (reading: 64 leaves the MLP unconverged)."""
    lr: float = 1e-3
    """Adam learning rate (SPEC.md reading)."""
    init: Literal["identity", "lstsq"] = "identity"
    """identity: the paper's start; lstsq: the closed-form least-squares fit of p = 1 (off for the paper)."""
    order_penalty: float = 0.0
    """Weight of ||M^|G| - I||_F^2 added to the loss (the paper's future-work suggestion; 0 for the paper)."""
    seed: int = 0

    def __post_init__(self) -> None:
        _positive(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr)
        if self.init not in ("identity", "lstsq"):
            raise ValueError(f"init must be 'identity' or 'lstsq', got {self.init!r}")
        if self.order_penalty < 0:
            raise ValueError(f"order_penalty must be >= 0, got {self.order_penalty}")


def _positive(**values: float) -> None:
    for key, value in values.items():
        if not value > 0:
            raise ValueError(f"{key} must be positive, got {value}")
