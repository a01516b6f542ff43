"""Real data no one here drew: scikit-learn's bundled handwritten digits (1,797 8x8 images, no download).

The shapes are drawn by our own generator, so every concept in them is one we put there. The digits are
the first real-data test: a small CNN autoencoder (`DigitsAutoencoder`) is trained on them as the base
autoencoders of Table 1 are trained on shapes (each image enters each epoch under a random group element),
and its psi, the bottleneck pre-activation, goes to the `orbits` branch as an orbit table with a digit
label (invariant concept) and a digit-under-element label (equivariant concept), see `digits_labels`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from eqsae.group import Group, get_group, image_group
from eqsae.io import read_json, reading
from eqsae.models.autoencoders import EpochRecord, save_autoencoder, train_on_orbits
from eqsae.pipeline.config import _positive

N_DIGITS = 1797
DIGIT_LABELS = ("digit", "digit_orientation")
"""The label columns `digits_labels` writes: what `orbits.labels` may name on the digits."""
"""Images in scikit-learn's digits set."""
SIDE = 8
"""Height and width of a digit image."""
N_CLASSES = 10

log = logging.getLogger(__name__)


def load_digits_set(n: int | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, 8, 8) float32 in [0, 1] and their digits (n,) int64; n=None: all 1,797 in the file's order,
    otherwise a seeded random subset (in the file's order) so that smoke runs see every digit."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.images / 16.0).astype(np.float32)  # the set's pixels are counts 0..16
    digits = bunch.target.astype(np.int64)
    if n is None:
        return images, digits
    if not 0 < n <= len(images):
        raise ValueError(f"the digits set has {len(images)} images; asked for a subset of {n}")
    keep = np.sort(np.random.default_rng(seed).permutation(len(images))[:n])
    return images[keep], digits[keep]


def digits_labels(digits: np.ndarray, group: Group) -> dict[str, np.ndarray]:
    """Label columns of an orbit table of digits: {"digit": (n, |G|), "digit_orientation": (n, |G|)}.

    "digit" is the same on every element of an orbit: the invariant concept. "digit_orientation" is
    digit * |G| + e, "digit d seen under group element e": the equivariant concept. The element is the one
    we applied, not read from the pixels, so a digit that is (nearly) symmetric under an element shows the
    same picture under two orientation labels: 0, 1 and 8 under rot90^2 (a half turn), and 6 and 9 swap
    under it (6 turned half way reads as 9 upright); under D4's flip, 0, 1, 3 and 8 nearly. Probes cannot
    separate those labels from pixels, so they cap the equivariant scores below 1.
    D4 gives 10 * 8 = 80 orientation values, above `orbit_table.MAX_VALUES` (64): probe C4 orbits, or
    a subset of the digits, for that column."""
    digits = np.asarray(digits, dtype=np.int64)
    elements = np.arange(group.order)
    return {
        "digit": np.repeat(digits[:, None], group.order, axis=1),
        "digit_orientation": digits[:, None] * group.order + elements[None, :],
    }


@dataclass(frozen=True)
class DigitsTrainConfig:
    """Training of the digits autoencoder; the same settings as `config.BaseTrainConfig` plus psi's width."""

    epochs: int = 200
    """Passes over the images, each image entering with one random group element (1,797 images are few)."""
    batch_size: int = 64
    lr: float = 1e-3
    """Adam learning rate."""
    d_act: int = 64
    """Width of psi, the bottleneck the SAEs work on."""
    seed: int = 0
    """Seeds initialisation, shuffling and the random group elements."""
    group: str = "C4"
    """Augmentation: each image enters with a random element of this group (C4 or D4, eqsae.group.GROUPS)."""

    def __post_init__(self) -> None:
        _positive(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, d_act=self.d_act)
        image_group(self.group)


class DigitsAutoencoder(nn.Module):
    """encoder: image (batch, 1, 8, 8) -> psi (batch, d_act); decoder: psi -> image.

    As in `autoencoders.BaseAutoencoder`, psi is the pre-activation of the last encoder layer: `encode` stops
    before its ReLU and `decode` starts with it, so `decode(encode(x)) == model(x)`."""

    def __init__(self, d_act: int = 64):
        super().__init__()
        self.d_act = d_act
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),             # 8x8
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),  # 4x4
            nn.Conv2d(32, d_act, 4), nn.Flatten(),                 # 1x1: psi
        )  # fmt: skip
        self.decoder = nn.Sequential(
            nn.Unflatten(1, (d_act, 1, 1)), nn.ReLU(),
            nn.ConvTranspose2d(d_act, 32, 4), nn.ReLU(),                                      # 4x4
            nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),  # 8x8
            nn.Conv2d(16, 1, 3, padding=1),
        )  # fmt: skip

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return self.encoder(images)

    def decode(self, psi: torch.Tensor) -> torch.Tensor:
        return self.decoder(psi)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(images))


def train_digits_autoencoder(
    images: np.ndarray, cfg: DigitsTrainConfig, device: torch.device | str = "cpu"
) -> tuple[DigitsAutoencoder, list[EpochRecord]]:
    """Train with MSE on pixels, every image entering each epoch under a fresh random element of cfg.group,
    as `autoencoders.train_autoencoder` does for shapes: psi then sees every orientation of every digit."""
    torch.manual_seed(cfg.seed)
    model = DigitsAutoencoder(cfg.d_act).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    # Whole orbits up front (1,797 x |G| x 64 floats): a batch is then one gather.
    orbits = torch.from_numpy(get_group(cfg.group).orbit(images)).float().to(device)  # (n, |G|, 8, 8)
    return train_on_orbits(model, opt, orbits, cfg, "digits autoencoder", lambda x: x.unsqueeze(1))


@torch.inference_mode()
def digits_mse(model: DigitsAutoencoder, images: np.ndarray, group: Group) -> float:
    """Mean pixel MSE over every group element of every image."""
    device = next(model.parameters()).device
    x = torch.from_numpy(group.orbit(images)).float().to(device).reshape(-1, 1, SIDE, SIDE)
    return nn.functional.mse_loss(model(x), x).item()


def save_digits_autoencoder(model: DigitsAutoencoder, directory: Path, cfg: DigitsTrainConfig, summary: dict) -> None:
    """A directory with `model.pt` (state dict) and `cfg.json` (settings, psi's width, final losses), as for shapes."""
    save_autoencoder(model, directory, cfg, {"d_act": cfg.d_act, **summary})  # our d_act, not Table 1's 256


def load_digits_autoencoder(directory: str | Path, device: torch.device | str = "cpu") -> DigitsAutoencoder:
    """Restore a model saved by save_digits_autoencoder; a damaged file is an UnreadableFileError naming it."""
    cfg_file, weights = Path(directory) / "cfg.json", Path(directory) / "model.pt"
    with reading(cfg_file):
        model = DigitsAutoencoder(read_json(cfg_file)["config"]["d_act"])
    with reading(weights):
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model.to(device).eval()
