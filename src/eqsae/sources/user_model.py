"""Your own model's activations as orbits: psi(g x) read off any named layer of any torch model.

The `orbits` branch of the workflow takes an orbit table (`eqsae.sources.orbit_table`); this module makes one from a
trained `nn.Module`, a layer name and images: every group element is applied to every image, the model runs
on them, and a forward hook records the layer's output (flattened: d features per input). Nothing about the
model is assumed beyond taking (batch, C, H, W) float images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from eqsae.group import Group
from eqsae.io import NonFiniteError
from eqsae.sources.orbit_table import write_orbit_images, write_orbit_table


class _Captured(Exception):
    """Raised by the hook to end the forward pass at the layer: what comes after it is not needed."""

    def __init__(self, output: torch.Tensor):
        super().__init__()
        self.output = output


def find_layer(model: nn.Module, layer: str) -> nn.Module:
    """The submodule named `layer` (as `model.named_modules()` names it); a ValueError listing the names when
    there is none, since the names of a user's model are rarely known by heart."""
    modules = dict(model.named_modules())
    if layer not in modules:
        names = ", ".join(repr(name) for name in modules if name)
        raise ValueError(f"model has no layer {layer!r}; its layers are: {names}")
    return modules[layer]


def _as_channels(images: np.ndarray) -> np.ndarray:
    """(n, H, W) -> (n, 1, H, W); (n, C, H, W) as is. The group acts on the last two axes, so they must be
    square: a quarter turn of a non-square image has another shape."""
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4 or images.shape[-1] != images.shape[-2]:
        raise ValueError(f"images must be (n, H, W) or (n, C, H, W) with H == W, got shape {images.shape}")
    return images


def _layer_output(model: nn.Module, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The output of `module` in the forward pass of `model` on x, flattened per input (its first call, where
    a module is called more than once)."""

    def hook(_module: nn.Module, _inputs: tuple, output: object) -> None:
        if not isinstance(output, torch.Tensor):
            raise TypeError(f"the layer's output is a {type(output).__name__}, not a tensor; hook a layer that "
                            f"returns one")  # fmt: skip
        raise _Captured(output)

    handle = module.register_forward_hook(hook)
    try:
        model(x)
    except _Captured as captured:
        return captured.output.reshape(len(x), -1)
    finally:
        handle.remove()
    raise ValueError("the layer was not called in the model's forward pass; hook one that is")


def orbit_activations(
    model: nn.Module, layer: str, images: np.ndarray, group: Group, batch_size: int = 256,
    device: torch.device | str = "cpu",
) -> np.ndarray:  # fmt: skip
    """psi(g x) for every image x and group element g, psi being `layer`'s output flattened:
    images (n, H, W) or (n, C, H, W) -> (n, |G|, d) float32, element e holding `group.act(x, e)`.

    The model runs in eval mode under inference mode (dropout off, batch norm on its running statistics) and
    is put back in the mode it came in; it must already be on `device`. Images are passed as float32, with
    no scaling: give them as the model was trained on them. batch_size counts model inputs (transformed
    images), rounded down to whole orbits."""
    module = find_layer(model, layer)
    images = _as_channels(np.asarray(images))
    per_batch = max(1, batch_size // group.order)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            chunks = []
            for i in range(0, len(images), per_batch):
                x = group.orbit(images[i : i + per_batch])  # (b, |G|, C, H, W)
                inputs = torch.from_numpy(x).to(device, torch.float32).flatten(0, 1)
                chunks.append(_layer_output(model, module, inputs).float().cpu().numpy())
    finally:
        model.train(was_training)
    if not chunks:
        raise ValueError("no images given")
    return np.concatenate(chunks).reshape(len(images), group.order, -1)


def model_to_orbit_table(
    model: nn.Module, layer: str, images: np.ndarray, group: Group, path: str | Path,
    labels: dict[str, np.ndarray] | None = None, batch_size: int = 256, device: torch.device | str = "cpu",
    images_path: str | Path | None = None,
) -> np.ndarray:  # fmt: skip
    """Write `layer`'s orbit activations (and label columns {name: (n, |G|)}) as an orbit table at `path`, the
    input of the `orbits` branch; returns the activations (n, |G|, d). Non-finite activations are refused
    here, by name of the layer, rather than by the reader of the table later. With `images_path`, the images
    go beside it (`write_orbit_images`; several channels as their mean, the explorer draws grey) for the
    explorer's top-activating inputs (config key orbits.images)."""
    acts = orbit_activations(model, layer, images, group, batch_size, device)
    if not np.isfinite(acts).all():
        raise NonFiniteError(f"layer {layer!r}: {int((~np.isfinite(acts)).sum())} non-finite activations")
    write_orbit_table(path, acts, labels)
    if images_path is not None:
        write_orbit_images(images_path, _as_channels(np.asarray(images, np.float32)).mean(axis=1))
    return acts
