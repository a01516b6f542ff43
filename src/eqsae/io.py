"""Save formats: image sets (.npz), activations (Parquet, one fixed-size-list column), JSON summaries.

Writers go through a temporary file and an atomic rename, so an interrupted job never leaves a half file
that looks complete.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from eqsae.group import ORDER
from eqsae.shapes import N_POSITIONS, ShapeSet

if TYPE_CHECKING:
    import pandas as pd


def _atomic(path: str | Path, write) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: str | Path, data: dict[str, Any]) -> None:
    _atomic(path, lambda tmp: Path(tmp).write_text(json.dumps(data, indent=2, sort_keys=False) + "\n"))


def write_table(path: str | Path, table: "pd.DataFrame") -> None:
    """A result table as Parquet or CSV, by the file's suffix."""
    if Path(path).suffix == ".parquet":
        _atomic(path, lambda tmp: table.to_parquet(tmp, index=False))
    elif Path(path).suffix == ".csv":
        _atomic(path, lambda tmp: table.to_csv(tmp, index=False, float_format="%.6g"))
    else:
        raise ValueError(f"{path}: tables are written as .parquet or .csv")


def read_json(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def write_shapeset(path: str | Path, data: ShapeSet) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object, so numpy does not append ".npz" to the temp name
            np.savez_compressed(f, images=data.images, shapes=data.shapes, orientations=data.orientations)

    _atomic(path, write)


def read_shapeset(path: str | Path) -> ShapeSet:
    with np.load(path) as f:
        return ShapeSet(f["images"], f["shapes"], f["orientations"])


@dataclass(frozen=True)
class OrbitActivations:
    """psi(g^p x) of every image and rotation, with the labels of g^p x."""

    acts: np.ndarray
    """(n, |G|, d) float32; acts[:, p] = psi(g^p x)."""
    shapes: np.ndarray
    """(n, |G|, 4) int8, as in ShapeSet."""
    orientations: np.ndarray
    """(n, |G|, 4) int8."""

    def __len__(self) -> int:
        return len(self.acts)


def write_activations(path: str | Path, acts: np.ndarray, data: ShapeSet) -> None:
    """One row per (image_id, rotation): labels per position and the activation as a fixed-size list."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    n, order, d = acts.shape
    if (n, order) != data.shapes.shape[:2]:
        raise ValueError(f"activations {acts.shape} do not match the image set ({len(data)} images)")
    columns = {
        "image_id": pa.array(np.repeat(np.arange(n, dtype=np.int32), order)),
        "rotation": pa.array(np.tile(np.arange(order, dtype=np.int8), n)),
    }
    for q in range(N_POSITIONS):
        columns[f"shape_{q}"] = pa.array(data.shapes[:, :, q].ravel())
    for q in range(N_POSITIONS):
        columns[f"orientation_{q}"] = pa.array(data.orientations[:, :, q].ravel())
    flat = pa.array(np.ascontiguousarray(acts, np.float32).ravel())
    columns["activation"] = pa.FixedSizeListArray.from_arrays(flat, d)
    table = pa.table(columns)
    _atomic(path, lambda tmp: pq.write_table(table, tmp))


def read_activations(path: str | Path) -> OrbitActivations:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    ids, rotation = table["image_id"].to_numpy(), table["rotation"].to_numpy()
    n = len(table) // ORDER
    if len(table) != n * ORDER or not (
        np.array_equal(ids, np.repeat(np.arange(n), ORDER)) and np.array_equal(rotation, np.tile(np.arange(ORDER), n))
    ):
        raise ValueError(f"{path}: rows must be ordered by image_id, then rotation 0..{ORDER - 1}")
    column = table["activation"].combine_chunks()
    acts = column.values.to_numpy().reshape(n, ORDER, column.type.list_size).copy()  # writable, for torch

    def labels(prefix: str) -> np.ndarray:
        cols = [table[f"{prefix}_{q}"].to_numpy() for q in range(N_POSITIONS)]  # stacking copies
        return np.stack(cols, axis=-1).reshape(n, ORDER, N_POSITIONS)

    return OrbitActivations(acts, labels("shape"), labels("orientation"))
