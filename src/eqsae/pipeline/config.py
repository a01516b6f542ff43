"""Settings of each stage (frozen dataclasses) and the SAE variants' architectures, torch-free.

The workflow config is checked against these in `eqsae.pipeline.validate`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from eqsae.group import image_group

BaseModel = Literal["mlp", "cnn"]
Device = Literal["auto", "cpu", "cuda"]
Objective = Literal["augmented", "invariant", "latent", "output"]
"""augmented: reconstruct psi(g x) itself; the three invariance losses of v2 (lambda = `invariance_lambda`):
invariant = canonical (v1 Eq. 2: reconstruct psi(x) from psi(g x)), latent (L_SAE(psi(x)) + lambda
||E(psi(x)) - E(psi(g x))||^2), output (L_SAE(psi(x)) + lambda ||D(E(psi(x))) - D(E(psi(g x)))||^2)."""

# Our reading: the variants are configurations of one TopK SAE plus a training objective. v1: regular, wide,
# twolayer, invariant (-> equivariant). v2 adds the two-layer baselines (twolayer = v2's "vanilla", and its 4x
# wide twin), the archetypal SAE (Fel et al. 2025) narrow and wide, and the latent and output invariance losses.
# An `equivariant*` variant trains nothing: it is its invariant SAE with M^p R^q applied to its reconstruction.
_TWOLAYER, _WIDE = dict(encoder="twolayer", d_latent=2048), dict(encoder="twolayer", d_latent=8192)
VARIANTS: dict[str, tuple[dict, Objective]] = {
    "regular": (dict(encoder="linear", d_latent=2048), "augmented"),
    "wide": (dict(encoder="linear", d_latent=8192), "augmented"),
    "twolayer": (_TWOLAYER, "augmented"),
    "invariant": (_TWOLAYER, "invariant"),
    "twolayer_wide": (_WIDE, "augmented"),
    "archetypal": (_TWOLAYER | dict(dictionary="archetypal"), "augmented"),
    "archetypal_wide": (_WIDE | dict(dictionary="archetypal"), "augmented"),
    "invariant_latent": (_TWOLAYER, "latent"),
    "invariant_output": (_TWOLAYER, "output"),
}
TRAINED_BY = {"equivariant": "invariant", "equivariant_latent": "invariant_latent",
              "equivariant_output": "invariant_output"}  # fmt: skip
def uses_anchors(variant: str) -> bool:
    """Whether a variant's SAE (its trained one, for an equivariant variant) has an archetypal dictionary."""
    return VARIANTS[TRAINED_BY.get(variant, variant)][0].get("dictionary") == "archetypal"


V2_NAMES = {"twolayer": "vanilla", "twolayer_wide": "vanilla_wide", "archetypal": "archetypal",
            "archetypal_wide": "archetypal_wide", "equivariant": "equivariant_canonical",
            "equivariant_latent": "equivariant_latent", "equivariant_output": "equivariant_output"}  # fmt: skip
"""Our variants under the names of v2's tables."""
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
    """Seeds initialisation, shuffling and the random group elements."""
    group: str = "C4"
    """Augmentation: each image enters with a random element of this group (C4 or D4, eqsae.group.GROUPS)."""

    def __post_init__(self) -> None:
        _positive(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr)
        image_group(self.group)


@dataclass(frozen=True)
class MFitConfig:
    """Fitting the activation transformation matrix M on Eq. 3 (RESULT 1)."""

    epochs: int = 150
    batch_size: int = 32
    """Canonical images per step; each brings its whole orbit (reading: 64 leaves the MLP unconverged)."""
    lr: float = 1e-3
    """Adam learning rate (our reading)."""
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
