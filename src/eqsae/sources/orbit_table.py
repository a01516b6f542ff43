"""Your own activations: one Parquet file of orbits, the format every stage of the `orbits` branch reads.

Columns: `orbit_id` (int: which input x), `element` (int 0..|G|-1, `eqsae.group`'s order: e = q * ord(g) + p
for g^p h^q), `activation` (a fixed-size list of floats: psi(g^p h^q x)), and any number of label columns
(int, bool or string), each the label of the transformed input g^p h^q x on that row. A label column
becomes probing tasks, one per value ("digit=3"): a column equal on every element of an orbit is an
invariant concept, one that changes with the element an equivariant one. Rows may come in any order; every
orbit needs each element exactly once.

A source that comes with its own split (the Shapes' SAE and probing image sets, the toy's training and test
orbits, a user's) may say it in a `split` column: "train" or "held_out", one value per orbit. It is not a label;
the analysis uses it where `orbits.held_out` is `table` (`split_of`), instead of its own seeded split.

A source with inputs a person can look at may write the images of its orbits beside the table
(`write_orbit_images`: each orbit's canonical image x, keyed by orbit_id); the atlas's explorer then shows each
latent's top-activating inputs, turned by the group element at which they fire.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eqsae.group import Group, get_group
from eqsae.io import UnreadableFileError, _atomic, reading

REQUIRED = ("orbit_id", "element", "activation")
SPLIT = "split"
"""The optional column of a source's own split: "train" or "held_out" on every row of an orbit."""
SPLIT_VALUES = ("train", "held_out")
LEGACY = {"image_id": "orbit_id", "rotation": "element"}
"""Column names of Shapes activation files written before they were orbit tables (read as the new ones)."""
MAX_VALUES = 256
"""A label column with more distinct values than this is refused: it would not be a concept but an id."""


@dataclass(frozen=True)
class OrbitTable:
    acts: np.ndarray
    """(n, |G|, d) float32, orbits in increasing orbit_id, elements in group order."""
    orbit_ids: np.ndarray
    """(n,) the file's orbit ids."""
    labels: dict[str, np.ndarray]
    """column -> (n, |G|) labels of each transformed input."""
    held_out: np.ndarray | None = None
    """(n,) bool: the source's own split (its `split` column: True for "held_out"), None without one."""

    def __len__(self) -> int:
        return len(self.acts)


def write_orbit_table(path: str | Path, acts: np.ndarray, labels: dict[str, np.ndarray] | None = None,
                      orbit_ids: np.ndarray | None = None, held_out: np.ndarray | None = None) -> None:  # fmt: skip
    """acts (n, |G|, d) and labels {column: (n, |G|)} as an orbit table; `held_out` (n,) bool, the source's own
    split, as its `split` column."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    n, order, d = acts.shape
    ids = np.arange(n) if orbit_ids is None else np.asarray(orbit_ids)
    columns = {"orbit_id": pa.array(np.repeat(ids, order)), "element": pa.array(np.tile(np.arange(order), n))}
    for name, values in (labels or {}).items():
        if name in (*REQUIRED, SPLIT) or np.shape(values) != (n, order):
            raise ValueError(f"label column {name!r}: needs shape {(n, order)} and a name other than "
                             f"{(*REQUIRED, SPLIT)}")  # fmt: skip
        columns[name] = pa.array(np.asarray(values).ravel())
    if held_out is not None:
        if np.shape(held_out) != (n,):
            raise ValueError(f"held_out: needs one bool per orbit ({n},), got {np.shape(held_out)}")
        columns[SPLIT] = pa.array(np.repeat(np.where(np.asarray(held_out, bool), "held_out", "train"), order))
    flat = pa.array(np.ascontiguousarray(acts, np.float32).ravel())
    columns["activation"] = pa.FixedSizeListArray.from_arrays(flat, d)
    table = pa.table(columns)
    _atomic(path, lambda tmp: pq.write_table(table, tmp))


def write_orbit_images(path: str | Path, images: np.ndarray, orbit_ids: np.ndarray | None = None) -> None:
    """The canonical input x (n, H, W), H = W, of each orbit as an .npz, with the orbit ids it belongs to (default
    0..n-1, as `write_orbit_table`'s): g^p h^q x is the group's action on it (`eqsae.group`)."""
    images = np.asarray(images, np.float32)
    if images.ndim != 3 or images.shape[1] != images.shape[2]:
        raise ValueError(f"orbit images must be (n, H, W) with H = W (turned by the group), got {images.shape}")
    ids = np.arange(len(images)) if orbit_ids is None else np.asarray(orbit_ids)
    if ids.shape != (len(images),) or len(np.unique(ids)) != len(ids):
        raise ValueError(f"orbit images: {len(images)} images need as many distinct orbit ids, got {ids.shape}")

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object, so numpy does not append ".npz" to the temp name
            np.savez_compressed(f, images=images, orbit_id=ids)

    _atomic(path, write)


def read_orbit_images(path: str | Path, orbit_ids: np.ndarray) -> np.ndarray:
    """The images of the orbits `orbit_ids` (a table's, in its order): (len(orbit_ids), H, W) float32, from a file
    of `write_orbit_images` or an image set whose orbit ids are its rows (the Shapes' ShapeSet .npz). A file without
    an image for one of them, or without images, is an UnreadableFileError."""
    with reading(path), np.load(path) as f:
        if "images" not in f:
            raise UnreadableFileError(f"{path}: no array 'images' (write_orbit_images writes it)")
        images = f["images"]
        ids = f["orbit_id"] if "orbit_id" in f else np.arange(len(images))
    if images.ndim != 3 or images.shape[1] != images.shape[2] or ids.shape != (len(images),):
        raise UnreadableFileError(f"{path}: needs images (n, H, W), H = W, and orbit_id (n,); got {images.shape}")
    where = {int(i): row for row, i in enumerate(ids)}
    missing = [int(i) for i in orbit_ids if int(i) not in where]
    if missing:
        raise UnreadableFileError(f"{path}: no image for orbit_id {missing[0]} ({len(missing)} orbits missing)")
    return images[[where[int(i)] for i in orbit_ids]].astype(np.float32)


def check_elements(path: str | Path, ids: np.ndarray, element: np.ndarray, order: int | None = None) -> int:
    """The group's order, after checking that the table has rows, no negative id or element, and every orbit
    each element 0..order-1 exactly once; else an UnreadableFileError naming the file and the first culprit."""
    if not len(ids):
        raise UnreadableFileError(f"{path}: the orbit table has no rows")
    for name, values in (("orbit_id", ids), ("element", element)):
        if values.min() < 0:
            raise UnreadableFileError(f"{path}: column {name!r} has a negative value ({values.min()})")
    n_order = int(element.max()) + 1
    if order is not None and n_order != order:
        raise UnreadableFileError(f"{path}: elements 0..{n_order - 1}, but the group has {order} elements")
    rows = np.lexsort((element, ids))
    unique_ids, counts = np.unique(ids, return_counts=True)
    expected = np.tile(np.arange(n_order), len(unique_ids))
    if len(ids) != len(unique_ids) * n_order or not np.array_equal(element[rows], expected):
        bad = unique_ids[counts != n_order]
        culprit = bad[0] if len(bad) else ids[rows][np.flatnonzero(element[rows] != expected)[0]]
        raise UnreadableFileError(f"{path}: every orbit_id needs each element 0..{n_order - 1} exactly once; "
                                  f"orbit_id {culprit} does not")  # fmt: skip
    return n_order


def read_orbit_table(path: str | Path, order: int | None = None) -> OrbitTable:
    """An orbit table, checked: a missing column, an orbit without every element once, a group of another
    order, or an activation that is not a finite float list is an UnreadableFileError naming the file."""
    import pyarrow.parquet as pq

    with reading(path):
        table = pq.read_table(path)
    table = table.rename_columns([LEGACY.get(c, c) if LEGACY.get(c) not in table.column_names else c
                                  for c in table.column_names])  # fmt: skip
    missing = [c for c in REQUIRED if c not in table.column_names]
    if missing:
        raise UnreadableFileError(f"{path}: missing column(s) {missing}; an orbit table has {REQUIRED} and labels")
    ids, element = table["orbit_id"].to_numpy(), table["element"].to_numpy()
    n_order = check_elements(path, ids, element, order)
    rows = np.lexsort((element, ids))
    unique_ids = np.unique(ids)
    acts = _activation_rows(path, table["activation"].combine_chunks())[rows].reshape(len(unique_ids), n_order, -1)
    if not np.isfinite(acts).all():
        raise UnreadableFileError(f"{path}: column 'activation' has non-finite values")
    labels = {}
    for name in table.column_names:
        if name not in REQUIRED:
            values = table[name].to_numpy(zero_copy_only=False)[rows].reshape(len(unique_ids), n_order)
            labels[name] = values
    split = labels.pop(SPLIT, None)
    return OrbitTable(acts, unique_ids, labels, None if split is None else _held_out(path, split, unique_ids))


def _held_out(path, split: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """(n,) bool from a `split` column (n, |G|): one of SPLIT_VALUES, the same on every element of an orbit."""
    bad = ~np.isin(split, SPLIT_VALUES)
    if bad.any():
        raise UnreadableFileError(f"{path}: column {SPLIT!r} holds {split[bad][0]!r}; its values are {SPLIT_VALUES}")
    mixed = (split != split[:, :1]).any(axis=1)
    if mixed.any():
        raise UnreadableFileError(f"{path}: column {SPLIT!r} differs within orbit_id {ids[mixed][0]}; an orbit is "
                                  "trained on or held out whole")  # fmt: skip
    return split[:, 0] == "held_out"


def _activation_rows(path, column) -> np.ndarray:
    """(rows, d) float32 from a fixed-size list column, or a list column whose lists all have one length (what
    pandas writes)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (pa.types.is_fixed_size_list(column.type) or pa.types.is_list(column.type) or
            pa.types.is_large_list(column.type)):  # fmt: skip
        raise UnreadableFileError(f"{path}: column 'activation' must hold lists of floats, got {column.type}")
    lengths = np.unique(pc.list_value_length(column).to_numpy(zero_copy_only=False))
    if len(lengths) != 1 or column.null_count:
        raise UnreadableFileError(f"{path}: every activation needs the same length, got lengths {lengths[:5]}")
    flat = pc.list_flatten(column).to_numpy(zero_copy_only=False)
    try:
        return flat.astype(np.float32).reshape(len(column), int(lengths[0]))
    except (TypeError, ValueError) as e:
        raise UnreadableFileError(f"{path}: column 'activation' must hold floats ({e})") from e


@dataclass(frozen=True)
class LabelTask:
    """One binary probing task from a label column: rows whose `column` equals `value`."""

    column: str
    value: object

    @property
    def group(self) -> str:
        return self.column

    @property
    def name(self) -> str:
        return f"{self.column}={self.value}"


def label_tasks(labels: dict[str, np.ndarray], columns: list[str] | None = None) -> tuple[list[LabelTask], np.ndarray]:
    """Tasks (one per value of each label column) and their (rows, n_tasks) bool labels, rows orbit-major. A
    column must take at least two values on these rows (a bool column: True on some, False on others)."""
    tasks, matrix = [], []
    for name in labels if columns is None else columns:
        if name not in labels:
            raise KeyError(f"label column {name!r} is not in the orbit table (columns: {sorted(labels)})")
        values = labels[name].ravel()
        distinct = np.unique(values)
        if len(distinct) < 2:  # every row positive (F1 = 1 for any probe) or none: nothing to find
            raise ValueError(f"label column {name!r} takes one value ({distinct[0] if len(distinct) else 'none'}) "
                             f"on all {len(values)} held-out rows: a probing task needs rows with and without "
                             "it; drop the column from orbits.labels or label orbits that differ")  # fmt: skip
        if values.dtype == bool:  # a yes/no concept is one task; its complement would repeat it
            distinct = distinct[distinct]
        if len(distinct) > MAX_VALUES:
            raise ValueError(f"label column {name!r} has {len(distinct)} values (> {MAX_VALUES}): not a concept")
        for value in distinct:
            tasks.append(LabelTask(name, value.item() if hasattr(value, "item") else value))
            matrix.append(values == value)
    return tasks, np.stack(matrix, axis=1) if matrix else np.zeros((0, 0), bool)


def split_of(table: OrbitTable, held_out: float | str, seed: int, path: str | Path = "the orbit table") -> np.ndarray:
    """The held-out mask the analysis uses: the source's own (`held_out` "table": its `split` column, which must
    exist) or a seeded share of the orbits (a number; a table with a `split` column is then refused, so that a
    split given is never silently ignored)."""
    if held_out == "table":
        if table.held_out is None:
            raise ValueError(f"config key orbits.held_out: 'table' reads the split column of {path}, which has "
                             f"none; add a {SPLIT!r} column (train / held_out) or give a share")  # fmt: skip
        return table.held_out
    if table.held_out is not None:
        raise ValueError(f"config key orbits.held_out: {held_out} splits the orbits anew, but {path} has its own "
                         f"{SPLIT!r} column; set orbits.held_out: table to use it, or drop the column")  # fmt: skip
    return split_orbits(len(table), float(held_out), seed)


def split_orbits(n: int, held_out: float, seed: int) -> np.ndarray:
    """Bool mask over orbits: True for the held-out share (probes, R^2, metrics), by a seeded permutation."""
    n_out = min(max(1, round(held_out * n)), n - 1)
    mask = np.zeros(n, dtype=bool)
    mask[np.random.default_rng(seed).permutation(n)[:n_out]] = True
    return mask


def read_split(path, group: Group, held_out: float | str, seed: int) -> tuple[OrbitTable, np.ndarray]:
    """The orbit table and its held-out mask (`split_of`: a seeded share, or the table's own split where
    `held_out` is "table"): SAEs and M train on the rest, probes, R^2 and the atlas read the held-out orbits."""
    table = read_orbit_table(path, group.order)
    return table, split_of(table, held_out, seed, path)


def training_orbits(path, settings: dict, seed: int) -> tuple[np.ndarray, Group]:
    """The training orbits (n, |G|, d) of the table at `path` and the group, with the workflow's orbits settings
    (group, held_out): every orbit of a training set (the Shapes' SAE set: its split column says so), or the rest
    of one table after its held-out share."""
    group = get_group(settings["group"])
    table, held_out = read_split(path, group, settings["held_out"], seed)
    return table.acts[~held_out], group


def held_out_orbits(path, settings: dict, seed: int) -> tuple[np.ndarray, Group]:
    """`training_orbits`' other side: the held-out orbits (the Shapes' probing set, or one table's held-out share)."""
    group = get_group(settings["group"])
    table, held_out = read_split(path, group, settings["held_out"], seed)
    return table.acts[held_out], group
