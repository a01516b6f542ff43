"""The synthetic shapes dataset (paper Section 4, Appendix C.1): eight OpenCV shapes, one per quadrant.

A generated image is canonical (the identity element of its orbit). Where the paper is silent, two readings of
how its shapes are oriented: `image` (the default) draws every shape in its canonical orientation, so orientation
arises only from turning the whole image and a shape's orientation in g^p x is p (mod its orbit size); `shape`
draws each shape in a seeded random one of its orientations, so orientation is a property of the shape, not a
function of the group element. Labels are never assumed: `read_labels` recovers shape and orientation of every
quadrant from the pixels, so every image is labelled by what it shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from eqsae.group import C4, Group
from eqsae.io import UnreadableFileError, atomic_write, reading
from eqsae.sources.orbit_table import OrbitTable, read_orbit_table, write_orbit_table

IMAGE_SIZE = 64
TILE = IMAGE_SIZE // 2
N_POSITIONS = 4
POSITIONS = ("TL", "TR", "BR", "BL")  # clockwise, so one 90-degree rotation shifts the position index by one
Orientation = Literal["image", "shape"]
ORIENTATIONS: tuple[str, ...] = ("image", "shape")


def _tile() -> np.ndarray:
    return np.zeros((TILE, TILE), np.uint8)


def _polygon(*points: tuple[int, int]) -> np.ndarray:
    tile = _tile()
    cv2.fillPoly(tile, [np.array(points, np.int32)], 255, lineType=cv2.LINE_8)
    return tile


def _rectangle() -> np.ndarray:
    tile = _tile()
    cv2.rectangle(tile, (5, 11), (26, 20), 255, thickness=-1)  # symmetric about the tile centre: 2 orientations
    return tile


def _half_disc() -> np.ndarray:
    tile = _tile()
    cv2.ellipse(tile, (15, 12), (11, 11), 0, 0, 180, 255, thickness=-1)
    return tile


# Paper Figure 6: none is rotation-invariant; the rectangle and the diagonal have 2 orientations under C4, the
# other six have 4. The six are our reading: clearly distinct, no rotational symmetry.
_DRAW = {
    "rectangle": _rectangle,
    "diagonal": lambda: _polygon((5, 5), (9, 5), (26, 22), (26, 26), (22, 26), (5, 9)),
    "L": lambda: _polygon((7, 5), (13, 5), (13, 20), (25, 20), (25, 26), (7, 26)),
    "T": lambda: _polygon((5, 5), (26, 5), (26, 11), (18, 11), (18, 26), (13, 26), (13, 11), (5, 11)),
    "triangle": lambda: _polygon((6, 6), (6, 25), (25, 25)),
    "arrow": lambda: _polygon((4, 13), (16, 13), (16, 6), (27, 15), (16, 25), (16, 18), (4, 18)),
    "half_disc": _half_disc,
    "hook": lambda: _polygon((8, 5), (14, 5), (14, 20), (20, 20), (20, 12), (25, 12), (25, 26), (8, 26)),
}
SHAPES: tuple[str, ...] = tuple(_DRAW)
N_SHAPES = len(SHAPES)


@cache
def shape_tiles() -> np.ndarray:
    """The eight canonical 32x32 tiles, uint8 in {0, 255}: (n_shapes, TILE, TILE)."""
    tiles = np.stack([draw() for draw in _DRAW.values()])
    tiles.flags.writeable = False
    return tiles


def orbit_size(tile: np.ndarray, group: Group = C4) -> int:
    """Number of distinct orientations of a tile under the group, read from its pixels."""
    return len(_orientations(tile, group)[0])


def _orientations(tile: np.ndarray, group: Group) -> tuple[list[bytes], list[int]]:
    """The tile's distinct images under G in element order (orientation o is the o-th new one; under D4 the
    rotations come first, then the mirrored ones), and for every element the orientation it produces."""
    distinct: list[bytes] = []
    of_element = []
    for e in range(group.order):
        key = np.ascontiguousarray(group.act(tile, e)).tobytes()
        if key not in distinct:
            distinct.append(key)
        of_element.append(distinct.index(key))
    return distinct, of_element


@cache
def orbit_sizes(group: Group = C4) -> tuple[int, ...]:
    return tuple(orbit_size(tile, group) for tile in shape_tiles())


@cache
def orientation_table(group: Group = C4) -> np.ndarray:
    """(n_shapes, |G|) orientation of g^p h^q applied to each shape's canonical tile."""
    return np.array([_orientations(tile, group)[1] for tile in shape_tiles()], np.int8)


@cache
def _tile_lookup(group: Group = C4) -> dict[bytes, tuple[int, int]]:
    """Pixels of every (shape, orientation) tile -> (shape, orientation)."""
    lookup: dict[bytes, tuple[int, int]] = {}
    for s, tile in enumerate(shape_tiles()):
        for o, key in enumerate(_orientations(tile, group)[0]):
            if key in lookup:
                raise AssertionError(f"shape {SHAPES[s]} orientation {o} duplicates {lookup[key]}")
            lookup[key] = (s, o)
    return lookup


def quadrants(images: np.ndarray) -> np.ndarray:
    """(..., 64, 64) -> (..., 4, 32, 32) in position order TL, TR, BR, BL."""
    top, bottom = images[..., :TILE, :], images[..., TILE:, :]
    return np.stack(
        [top[..., :TILE], top[..., TILE:], bottom[..., TILE:], bottom[..., :TILE]], axis=-3
    )


@cache
def oriented_tiles(group: Group = C4) -> np.ndarray:
    """(n_shapes, |G|, TILE, TILE): each shape's tile in orientation o at [s, o], for o below its orbit size (the
    rest repeat orientation 0)."""
    tiles = np.stack([np.stack([group.act(tile, row.tolist().index(o) if o in row else 0) for o in range(group.order)])
                      for tile, row in zip(shape_tiles(), orientation_table(group))])  # fmt: skip
    tiles.flags.writeable = False
    return tiles


def compose(shapes: np.ndarray, orientations: np.ndarray | None = None, group: Group = C4) -> np.ndarray:
    """Images from shape ids (n, 4) per position, each shape in its canonical orientation or, with
    `orientations` (n, 4), in that orientation under the group: (n, 64, 64) uint8."""
    tiles = shape_tiles()[shapes] if orientations is None else oriented_tiles(group)[shapes, orientations]
    images = np.empty((len(shapes), IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    images[:, :TILE, :TILE], images[:, :TILE, TILE:] = tiles[:, 0], tiles[:, 1]
    images[:, TILE:, TILE:], images[:, TILE:, :TILE] = tiles[:, 2], tiles[:, 3]
    return images


def read_labels(images: np.ndarray, group: Group = C4) -> tuple[np.ndarray, np.ndarray]:
    """Shape and orientation (among the shape's orientations under G) of every quadrant, read from the pixels:
    (..., 64, 64) -> 2 x (..., 4) int8."""
    tiles = quadrants(np.asarray(images, np.uint8))
    flat = np.ascontiguousarray(tiles.reshape(-1, TILE, TILE))
    lookup = _tile_lookup(group)
    labels = np.empty((len(flat), 2), np.int8)
    for i, tile in enumerate(flat):
        found = lookup.get(tile.tobytes())
        if found is None:
            raise ValueError(f"quadrant {i % N_POSITIONS} of image {i // N_POSITIONS} shows no known shape")
        labels[i] = found
    shape = tiles.shape[:-2]
    return labels[:, 0].reshape(shape), labels[:, 1].reshape(shape)


@dataclass(frozen=True)
class ShapeSet:
    """Canonical images with the labels of their whole orbit under the group (C4: the four rotations)."""

    images: np.ndarray
    """(n, 64, 64) uint8 in {0, 255}: the canonical images (the identity element of each orbit)."""
    shapes: np.ndarray
    """(n, element, position) int8: shape id at each position of g^p h^q x."""
    orientations: np.ndarray
    """(n, element, position) int8: orientation of that shape in g^p h^q x."""

    def __len__(self) -> int:
        return len(self.images)


def generate(n: int, rng: np.random.Generator, group: Group = C4, orientation: Orientation = "image") -> ShapeSet:
    """n random canonical images (a uniformly random shape in each quadrant; under `orientation="shape"` each in
    a uniformly random one of its orientations), labelled for every group element from the pixels of the
    transformed image. `image` draws exactly what it drew before `shape` existed."""
    if n < 1:
        raise ValueError(f"number of images must be positive, got {n}")
    if orientation not in ORIENTATIONS:
        raise ValueError(f"orientation must be one of {ORIENTATIONS}, got {orientation!r}")
    shapes = rng.integers(0, N_SHAPES, size=(n, N_POSITIONS))
    turns = None
    if orientation == "shape":
        turns = rng.integers(0, np.array(orbit_sizes(group))[shapes])
    images = compose(shapes, turns, group)
    shapes, orientations = read_labels(group.orbit(images), group)
    return ShapeSet(images, shapes, orientations)


@cache
def position_source(group: Group, e: int) -> np.ndarray:
    """(4,) the position whose quadrant element e moves to each position: the group acting on the layout."""
    layout = np.array([[0, 1], [3, 2]])  # TL TR / BL BR in position order TL, TR, BR, BL
    moved = group.act(layout, e)
    return np.array([moved[0, 0], moved[0, 1], moved[1, 1], moved[1, 0]])


def transform_labels(
    shapes: np.ndarray, orientations: np.ndarray, e: int, group: Group = C4
) -> tuple[np.ndarray, np.ndarray]:
    """Labels (..., 4 positions) of g^p h^q x from those of x: quadrants move as the layout does, and a shape in
    orientation o (the tile a_o t) becomes the tile (e . a_o) t, whose orientation the shape's table gives."""
    source = position_source(group, e)
    moved_shapes, moved_orient = shapes[..., source], orientations[..., source]
    return moved_shapes, _turned_orientation(group, e)[moved_shapes, moved_orient].astype(orientations.dtype)


@cache
def _turned_orientation(group: Group, e: int) -> np.ndarray:
    """(shape, orientation o) -> orientation of e applied to it: the table at e . a_o, a_o the first element
    that gives o."""
    table = orientation_table(group)
    first = [[row.tolist().index(o) if o in row else 0 for o in range(group.order)] for row in table]
    composed = np.array([[group.compose(e, a) for a in row] for row in first])
    return table[np.arange(len(table))[:, None], composed]


def rotate_labels(shapes: np.ndarray, orientations: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
    """Where g^p (C4) moves labels: position q receives the shape from position (q + p) mod 4, turned p more."""
    return transform_labels(shapes, orientations, C4.index(p), C4)


# Files: an image set as .npz, its activations over every group element as Parquet.


def write_shapeset(path: str | Path, data: ShapeSet) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object, so numpy does not append ".npz" to the temp name
            np.savez_compressed(f, images=data.images, shapes=data.shapes, orientations=data.orientations)

    atomic_write(path, write)


def read_shapeset(path: str | Path) -> ShapeSet:
    with reading(path), np.load(path) as f:
        return ShapeSet(f["images"], f["shapes"], f["orientations"])


def write_activations(path: str | Path, acts: np.ndarray, data: ShapeSet, held_out: bool | None = None) -> None:
    """The activations (n, |G|, d) of an image set as an orbit table (`eqsae.sources.orbit_table`): an orbit per
    image, its labels per position as columns shape_0..3 and orientation_0..3, so every stage that reads orbit
    tables reads the Shapes too; `held_out` (the probing set) or not (the SAE set) as its split column."""
    n, order, _ = acts.shape
    if (n, order) != data.shapes.shape[:2]:
        raise ValueError(f"activations {acts.shape} do not match the image set ({len(data)} images)")
    labels = {f"{name}_{q}": values[:, :, q] for name, values in (("shape", data.shapes),
              ("orientation", data.orientations)) for q in range(N_POSITIONS)}  # fmt: skip
    split = None if held_out is None else np.full(n, held_out)
    write_orbit_table(path, acts, labels, held_out=split)


def read_activations(path: str | Path) -> OrbitTable:
    """Activations written by write_activations, as an `OrbitTable`; its Shapes labels: `position_labels`."""
    table = read_orbit_table(path)
    missing = [f"{name}_{q}" for name in ("shape", "orientation") for q in range(N_POSITIONS)
               if f"{name}_{q}" not in table.labels]  # fmt: skip
    if missing:
        raise UnreadableFileError(f"{path}: not a Shapes activation table (no label column(s) {missing})")
    return table


def position_labels(table: OrbitTable) -> tuple[np.ndarray, np.ndarray]:
    """The shape and orientation of each quadrant of every transformed image of a Shapes orbit table:
    (n, |G|, 4) int8 each, as in ShapeSet."""
    return tuple(np.stack([table.labels[f"{name}_{q}"] for q in range(N_POSITIONS)], axis=-1).astype(np.int8)
                 for name in ("shape", "orientation"))  # fmt: skip


SHAPE_LABELS = tuple(f"{name}_{q}" for name in ("shape", "orientation") for q in range(N_POSITIONS))
"""The label columns of a Shapes orbit table: shape and orientation of each quadrant (TL, TR, BR, BL)."""
