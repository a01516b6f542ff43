"""Save formats: image sets (.npz), activations (Parquet, one fixed-size-list column), M (.npy), JSON
summaries and result tables.

Writers go through a temporary file and an atomic rename, so an interrupted job never leaves a half file
that looks complete; they refuse NaN and infinities, so a diverged stage fails instead of passing garbage on.
Readers turn whatever a damaged file raises into one `UnreadableFileError` that names the file.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import sys
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from eqsae.shapes import N_POSITIONS, ShapeSet

if TYPE_CHECKING:
    import pandas as pd


class UnreadableFileError(ValueError):
    """A file that is missing, truncated or not what its reader expects; the message starts with its path."""


class NonFiniteError(ValueError):
    """NaN or an infinity where a number must be finite: a diverged training, a broken table."""


class DivergedError(ValueError):
    """A training or fit whose loss ended far above where it started: finite, and still no model."""


def _read_errors() -> tuple[type[BaseException], ...]:
    """What readers raise on a bad file (pyarrow's base error only if pyarrow is loaded: it is heavy)."""
    errors = (OSError, ValueError, KeyError, EOFError, TypeError, RuntimeError, zipfile.BadZipFile, zlib.error,
              pickle.UnpicklingError)  # fmt: skip
    arrow = sys.modules.get("pyarrow")
    return (*errors, arrow.ArrowException) if arrow is not None else errors


@contextmanager
def reading(path: str | Path) -> Iterator[None]:
    """Re-raise a failure to read `path` as UnreadableFileError naming it, so a job's log says which file."""
    try:
        yield
    except (UnreadableFileError, NonFiniteError):
        raise
    except _read_errors() as e:
        raise UnreadableFileError(f"{path}: cannot read it ({type(e).__name__}: {e}). If an earlier job "
                                  "wrote it, a rerun keeps it (it is newer than its inputs): delete it, or rerun "
                                  "with --forcerun <that job's rule>") from e  # fmt: skip


class UnwritableFileError(OSError):
    """A file that could not be written (disk full, no permission); the message starts with its path."""


FULL_BELOW = 64 * 2**20
"""Free bytes under which a failed write is called a full disk: torch and some writers lose the errno."""


def atomic_write(path: str | Path, write) -> None:
    """`write(tmp)` to a temporary file beside `path`, then an atomic rename: every writer of a job's outputs goes
    through here, so an interrupted job leaves no half file, and a failure names the path and says when the
    disk is full (torch's "iostream error", numpy's short write)."""
    import errno
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as e:
        tmp.unlink(missing_ok=True)
        free = shutil.disk_usage(path.parent).free
        if getattr(e, "errno", None) == errno.ENOSPC or free < FULL_BELOW:
            raise UnwritableFileError(f"{path}: cannot write it: disk full ({free / 2**20:.0f} MiB free on its file "
                                      f"system; {type(e).__name__}: {e}). Free space and rerun") from e  # fmt: skip
        raise UnwritableFileError(f"{path}: cannot write it ({type(e).__name__}: {e})") from e
    finally:
        tmp.unlink(missing_ok=True)


_atomic = atomic_write


def write_array(path: str | Path, array: np.ndarray) -> None:
    """One .npy file (M, R, anchors), written atomically."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object, so numpy does not append ".npy" to the temp name
            np.save(f, array)

    atomic_write(path, write)


def write_state(path: str | Path, state: dict) -> None:
    """A torch state dict (a base model's `model.pt`), written atomically. SAE weights are safetensors files
    (`eqsae.weights`)."""
    import torch

    atomic_write(path, lambda tmp: torch.save(state, tmp))


def _first_non_finite(data: Any, key: str = "") -> tuple[str, float] | None:
    """Key path (`history[3].loss`) and value of the first NaN or infinity in nested dicts and lists."""
    if isinstance(data, (float, np.floating)):
        return None if math.isfinite(data) else (key or "<value>", float(data))
    if isinstance(data, dict):
        items = ((f"{key}.{k}" if key else str(k), v) for k, v in data.items())
    elif isinstance(data, (list, tuple)):
        items = ((f"{key}[{i}]", v) for i, v in enumerate(data))
    else:
        return None
    for sub, value in items:
        if (found := _first_non_finite(value, sub)) is not None:
            return found
    return None


def write_json(path: str | Path, data: dict[str, Any]) -> None:
    """A JSON summary; refuses NaN and infinities (JSON has no such numbers, and they mean a stage diverged)."""
    if (found := _first_non_finite(data)) is not None:
        raise NonFiniteError(f"{path}: {found[0]} is {found[1]}")
    text = json.dumps(data, indent=2, sort_keys=False, allow_nan=False) + "\n"
    _atomic(path, lambda tmp: Path(tmp).write_text(text))


def check_finite(
    table: pd.DataFrame, name: str, allow_missing: Iterable[str] = (), *, columns: Iterable[str] | None = None
) -> None:
    """Refuse infinities in float columns, and NaN except in `allow_missing` (columns such as `k` that are
    legitimately empty for some rows). `columns`: check only these (those present); default every column."""
    import pandas as pd

    allowed = set(allow_missing)
    names = list(table.columns) if columns is None else [c for c in columns if c in table.columns]
    for column in names:
        if not pd.api.types.is_float_dtype(table[column].dtype):
            continue  # ints cannot be NaN; NA in nullable Int64 and object columns is a legitimate "missing"
        values = table[column].to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.isinf(values) if column in allowed else ~np.isfinite(values)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            row = table.iloc[first]
            context = ", ".join(f"{c}={row[c]}" for c in table.columns if not pd.api.types.is_float_dtype(table[c]))
            raise NonFiniteError(f"{name}: column {column!r} has {int(bad.sum())} non-finite value(s); the first "
                                 f"is {values[first]} in row {first} ({context[:200]})")  # fmt: skip


def write_table(path: str | Path, table: pd.DataFrame, allow_missing: Iterable[str] = ()) -> None:
    """A result table as Parquet or CSV, by the file's suffix; refuses non-finite numbers (see check_finite)."""
    suffix = Path(path).suffix
    if suffix not in (".parquet", ".csv"):
        raise ValueError(f"{path}: tables are written as .parquet or .csv")
    check_finite(table, str(path), allow_missing)
    if suffix == ".parquet":
        _atomic(path, lambda tmp: table.to_parquet(tmp, index=False))
    else:
        _atomic(path, lambda tmp: table.to_csv(tmp, index=False, float_format="%.6g"))


def read_table(path: str | Path) -> pd.DataFrame:
    """A result table written by write_table (.parquet or .csv)."""
    import pandas as pd

    suffix = Path(path).suffix
    if suffix not in (".parquet", ".csv"):
        raise ValueError(f"{path}: tables are read from .parquet or .csv")
    with reading(path):
        return pd.read_parquet(path) if suffix == ".parquet" else pd.read_csv(path)


def read_json(path: str | Path) -> dict[str, Any]:
    with reading(path):
        return json.loads(Path(path).read_text())


def read_matrix(path: str | Path) -> np.ndarray:
    """M (d, d) as stored (float32); a non-square or non-finite M would poison every M^p downstream."""
    with reading(path):
        m = np.load(path)
    if not isinstance(m, np.ndarray):  # an .npz archive
        m.close()
        raise UnreadableFileError(f"{path}: holds an archive, not the single matrix M")
    if m.ndim != 2 or m.shape[0] != m.shape[1] or not np.issubdtype(m.dtype, np.floating):
        raise UnreadableFileError(f"{path}: M must be a square float matrix, got shape {m.shape} of {m.dtype}")
    bad = ~np.isfinite(m)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise NonFiniteError(f"{path}: M has {int(bad.sum())} non-finite entries (the first, at row {i}, column "
                             f"{j}, is {m[i, j]}); fit M again")  # fmt: skip
    return m


def read_generators(m_path: str | Path, r_path: str | Path | None = None) -> list[np.ndarray]:
    """[M] or [M, R]: the fitted matrices of a group's generators, each checked by read_matrix."""
    return [read_matrix(path) for path in (m_path, r_path) if path is not None]


def write_shapeset(path: str | Path, data: ShapeSet) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object, so numpy does not append ".npz" to the temp name
            np.savez_compressed(f, images=data.images, shapes=data.shapes, orientations=data.orientations)

    _atomic(path, write)


def read_shapeset(path: str | Path) -> ShapeSet:
    with reading(path), np.load(path) as f:
        return ShapeSet(f["images"], f["shapes"], f["orientations"])


@dataclass(frozen=True)
class OrbitActivations:
    """psi(g^p h^q x) of every image and group element, with the labels of g^p h^q x."""

    acts: np.ndarray
    """(n, |G|, d) float32; acts[:, e] = psi(g^p h^q x), e = q * ord(g) + p (eqsae.group)."""
    shapes: np.ndarray
    """(n, |G|, 4) int8, as in ShapeSet."""
    orientations: np.ndarray
    """(n, |G|, 4) int8."""

    def __len__(self) -> int:
        return len(self.acts)


def write_activations(path: str | Path, acts: np.ndarray, data: ShapeSet) -> None:
    """One row per (image_id, element): labels per position and the activation as a fixed-size list."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    n, order, d = acts.shape
    if (n, order) != data.shapes.shape[:2]:
        raise ValueError(f"activations {acts.shape} do not match the image set ({len(data)} images)")
    columns = {
        "image_id": pa.array(np.repeat(np.arange(n, dtype=np.int32), order)),
        "element": pa.array(np.tile(np.arange(order, dtype=np.int8), n)),
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
    """Activations written by write_activations; a damaged or misordered file is an UnreadableFileError."""
    import pyarrow.parquet as pq

    with reading(path):
        table = pq.read_table(path)
        # `rotation`: files written before groups of two generators, C4 only
        element = table["element" if "element" in table.column_names else "rotation"].to_numpy()
        ids = table["image_id"].to_numpy()
        order = int(np.sum(ids == 0)) or 1
        n = len(table) // order
        if len(table) != n * order or not (
            np.array_equal(ids, np.repeat(np.arange(n), order))
            and np.array_equal(element, np.tile(np.arange(order), n))
        ):
            raise UnreadableFileError(f"{path}: rows must be ordered by image_id, then group element 0..|G|-1")
        column = table["activation"].combine_chunks()
        acts = column.values.to_numpy().reshape(n, order, column.type.list_size).copy()  # writable, for torch
        return OrbitActivations(acts, _labels(table, "shape", n, order), _labels(table, "orientation", n, order))


def _labels(table, prefix: str, n: int, order: int) -> np.ndarray:
    """(n, |G|, 4) labels from the columns prefix_0..prefix_3."""
    cols = [table[f"{prefix}_{q}"].to_numpy() for q in range(N_POSITIONS)]  # stacking copies
    return np.stack(cols, axis=-1).reshape(n, order, N_POSITIONS)
