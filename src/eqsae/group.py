"""The group C4 acting on images and on their labels (SPEC.md: g = one 90-degree rotation, np.rot90)."""

from __future__ import annotations

import numpy as np

from eqsae.shapes import N_POSITIONS, orbit_sizes

ORDER = 4
"""|G|: g^4 is the identity."""


def rotate(images: np.ndarray, p: int) -> np.ndarray:
    """g^p acting on (..., H, W) images: p counter-clockwise quarter turns."""
    return np.rot90(images, p % ORDER, axes=(-2, -1))


def orbit(images: np.ndarray) -> np.ndarray:
    """All rotations of each image: (n, H, W) -> (n, |G|, H, W), index p holding g^p x."""
    return np.ascontiguousarray(np.stack([rotate(images, p) for p in range(ORDER)], axis=1))


def rotate_labels(shapes: np.ndarray, orientations: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
    """Where g^p moves labels (..., 4 positions): position q receives the shape from position (q + p) mod 4,
    turned p more times, modulo its own number of orientations."""
    source = (np.arange(N_POSITIONS) + p) % N_POSITIONS
    moved_shapes = shapes[..., source]
    sizes = np.asarray(orbit_sizes())[moved_shapes]
    return moved_shapes, ((orientations[..., source] + p) % sizes).astype(orientations.dtype)
