"""A source's base network: what decodes its psi back to inputs (the Shapes' base autoencoders, the digits'
network). The spliced loss, the atlas's drawn latents and the explorer's orbit strips go through it; a user's table
or the toy has none."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch


def source_network(source: str, base_dir: str | Path | None) -> tuple[torch.nn.Module, Callable] | None:
    """The base network in `base_dir` of a source with one (`digits`, `shapes`), with the function that turns its
    orbit images (a tensor) into what it decodes to; None without one (`base_dir` None: a user's table)."""
    if base_dir is None:
        return None
    if source == "digits":
        from eqsae.sources.digits import load_digits_autoencoder

        return load_digits_autoencoder(base_dir), lambda images: images.reshape(-1, 1, *images.shape[-2:]).float()
    if source == "shapes":
        from eqsae.models.autoencoders import load_autoencoder, to_input

        return load_autoencoder(base_dir), to_input
    raise ValueError(f"source {source!r} has no base network (digits and shapes have)")
