"""Save formats: arrays and M (.npy), weights, JSON summaries and result tables (the Shapes dataset's image
sets and activation tables are `eqsae.sources.shapes`').

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
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

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
    (`eqsae.models.weights`)."""
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
