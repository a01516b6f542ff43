"""The base autoencoders of Table 1, their training (Appendix C.2), and the activations psi they expose.

psi(x) is the 256-d pre-activation of the last encoder layer, before its ReLU: `encode` stops there and
`decode` starts with that ReLU, so `decode(encode(x)) == model(x)` and an SAE reconstruction can be
spliced in between.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from eqsae.group import C4, Group, get_group
from eqsae.io import DivergedError, NonFiniteError, read_json, reading, write_json, write_state
from eqsae.pipeline.config import BaseModel, BaseTrainConfig
from eqsae.sources.shapes import IMAGE_SIZE

D_ACT = 256
"""Width of psi, the activation the SAEs and M work on."""

log = logging.getLogger(__name__)


class BaseAutoencoder(nn.Module):
    """encoder: image (batch, 1, 64, 64) -> psi (batch, 256); decoder: psi -> image."""

    def __init__(self, kind: BaseModel):
        super().__init__()
        self.kind = kind
        match kind:
            case "mlp":
                self.encoder = nn.Sequential(
                    nn.Flatten(), nn.Linear(IMAGE_SIZE**2, 256), nn.ReLU(), nn.Linear(256, D_ACT)
                )
                self.decoder = nn.Sequential(
                    nn.ReLU(), nn.Linear(D_ACT, 256), nn.ReLU(), nn.Linear(256, IMAGE_SIZE**2),
                    nn.Unflatten(1, (1, IMAGE_SIZE, IMAGE_SIZE)),
                )  # fmt: skip
            case "cnn":
                self.encoder = nn.Sequential(
                    nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(),
                    nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
                    nn.Conv2d(32, D_ACT, 16), nn.Flatten(),
                )  # fmt: skip
                self.decoder = nn.Sequential(
                    nn.Unflatten(1, (D_ACT, 1, 1)), nn.ReLU(),
                    nn.ConvTranspose2d(D_ACT, 32, 16), nn.ReLU(),
                    nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
                    nn.ConvTranspose2d(16, 1, 3, stride=2, padding=1, output_padding=1),
                )  # fmt: skip
            case other:
                raise ValueError(f"base model must be 'mlp' or 'cnn', got {other!r}")

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return self.encoder(images)

    def decode(self, psi: torch.Tensor) -> torch.Tensor:
        return self.decoder(psi)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(images))


def to_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (..., 64, 64) in {0, 255} -> float (batch, 1, 64, 64) in [0, 1]."""
    return images.reshape(-1, 1, IMAGE_SIZE, IMAGE_SIZE).float().div_(255.0)


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    loss: float
    seconds: float


def stop_if_diverged(loss: float, what: str, epoch: int, settings) -> None:
    """End a diverged training at the epoch it diverged, naming the settings that did it: the epochs left
    would only turn NaN into NaN, and the saved model would poison every later stage."""
    if not math.isfinite(loss):
        raise NonFiniteError(f"{what} {loss} at epoch {epoch}/{settings.epochs} with {settings!r}")


FAR_ABOVE = 1000.0
"""A training whose last epoch's loss is more than this many times its first epoch's diverged, though it stayed
finite (a learning rate far too high ends 1e12 to 1e25 times above). Not less: from a start that already fits,
Adam's first steps can wander tens of times above it and still be a fit, not a divergence."""


def stop_if_worse(history: list[EpochRecord], what: str, settings, start: float | None = None) -> None:
    """End a training that diverged and stayed finite (a learning rate far too high ends at 1e25, not NaN):
    its last loss against `start` (default: the first epoch's mean loss), naming the numbers and settings."""
    start = history[0].loss if start is None else start
    end = history[-1].loss
    if end > FAR_ABOVE * start:
        raise DivergedError(f"{what} ended at {end:.6g} after {len(history)} epochs, {end / start:.3g} times where "
                            f"it started ({start:.6g}), with {settings!r}: lower the learning rate")  # fmt: skip


def train_autoencoder(
    images: np.ndarray, cfg: BaseTrainConfig, device: torch.device | str = "cpu"
) -> tuple[BaseAutoencoder, list[EpochRecord]]:
    """Train a Table 1 autoencoder with MSE on pixels; every sample gets a fresh random element of the group
    (cfg.group: C4 as in v1; v2 trains on random D4 elements for its D4 experiments)."""
    torch.manual_seed(cfg.seed)
    model = BaseAutoencoder(cfg.model).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, fused=True)
    # Whole orbits up front (uint8, |G| x the images): a batch is then one gather, no per-step np.rot90.
    orbits = torch.from_numpy(get_group(cfg.group).orbit(images)).to(device)  # (n, |G|, 64, 64)
    return train_on_orbits(model, opt, orbits, cfg, f"base autoencoder {cfg.model}")


def train_on_orbits(
    model: nn.Module, opt: torch.optim.Optimizer, orbits: torch.Tensor, cfg, name: str, prepare=to_input
) -> tuple[nn.Module, list[EpochRecord]]:
    """The training loop of every base autoencoder (the Shapes models, the digits'): cfg.epochs passes of
    `train_epoch`, a per-epoch log line, stopped on a non-finite or growing loss. `cfg` needs epochs,
    batch_size and seed (the order of the images and the elements they enter under)."""
    gen, history = torch.Generator().manual_seed(cfg.seed), []
    for epoch in range(1, cfg.epochs + 1):
        start = time.perf_counter()
        loss = train_epoch(model, opt, orbits, cfg.batch_size, gen, prepare)
        history.append(EpochRecord(epoch, loss, time.perf_counter() - start))
        log.info("epoch %d/%d loss %.6f seconds %.2f", epoch, cfg.epochs, loss, history[-1].seconds)
        stop_if_diverged(loss, f"{name}: training loss", epoch, cfg)
    stop_if_worse(history, f"{name}: training loss", cfg)
    return model.eval(), history


def train_epoch(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    orbits: torch.Tensor,
    batch_size: int,
    gen: torch.Generator,
    prepare=to_input,
) -> float:
    """One pass over the images (orbits: (n, |G|, ...)), each with a random element from its orbit, made a
    model input by `prepare` (the Shapes models' pixel scaling by default); returns the mean loss."""
    n, device = len(orbits), orbits.device
    total = torch.zeros((), device=device)
    order = torch.randperm(n, generator=gen).to(device)
    turns = torch.randint(0, orbits.shape[1], (n,), generator=gen).to(device)
    for i in range(0, n, batch_size):
        idx = order[i : i + batch_size]
        x = prepare(orbits[idx, turns[idx]])
        loss = nn.functional.mse_loss(model(x), x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.detach() * len(idx)
    return total.item() / n


@torch.inference_mode()
def reconstruction_mse(model: BaseAutoencoder, images: np.ndarray, batch_size: int = 1024, group: Group = C4) -> float:
    """Mean pixel MSE over every group element of every image."""
    device = next(model.parameters()).device
    orbits = torch.from_numpy(group.orbit(images)).to(device).flatten(0, 1)
    total = 0.0
    for i in range(0, len(orbits), batch_size):
        x = to_input(orbits[i : i + batch_size])
        total += nn.functional.mse_loss(model(x), x, reduction="sum").item()
    return total / orbits.numel()


@torch.inference_mode()
def orbit_activations(
    model: BaseAutoencoder, images: np.ndarray, batch_size: int = 1024, group: Group = C4
) -> np.ndarray:
    """psi(g^p h^q x) for every image and group element: (n, 64, 64) -> (n, |G|, 256) float32."""
    device = next(model.parameters()).device
    orbits = torch.from_numpy(group.orbit(images)).to(device).flatten(0, 1)
    out = torch.cat([model.encode(to_input(orbits[i : i + batch_size])) for i in range(0, len(orbits), batch_size)])
    return out.reshape(len(images), group.order, D_ACT).float().cpu().numpy()


def save_autoencoder(model: BaseAutoencoder, directory: Path, cfg: BaseTrainConfig, summary: dict) -> None:
    """A directory with `model.pt` (state dict) and `cfg.json` (settings, sizes, final losses)."""
    directory.mkdir(parents=True, exist_ok=True)
    write_state(directory / "model.pt", model.state_dict())
    write_json(directory / "cfg.json", {"config": asdict(cfg), "d_act": D_ACT, **summary})


def load_autoencoder(directory: str | Path, device: torch.device | str = "cpu") -> BaseAutoencoder:
    """Restore a model saved by save_autoencoder; a damaged file is an UnreadableFileError naming it."""
    cfg_file, weights = Path(directory) / "cfg.json", Path(directory) / "model.pt"
    with reading(cfg_file):
        model = BaseAutoencoder(read_json(cfg_file)["config"]["model"])
    with reading(weights):
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model.to(device).eval()
