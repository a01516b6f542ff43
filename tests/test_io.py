import re

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from eqsae.io import (
    NonFiniteError,
    UnreadableFileError,
    check_finite,
    read_json,
    read_matrix,
    read_table,
    write_json,
    write_table,
)
from eqsae.sources.orbit_table import read_orbit_table
from eqsae.sources.shapes import position_labels, read_activations, read_shapeset, write_activations, write_shapeset


def test_shapeset_round_trip(tmp_path, small_set):
    write_shapeset(tmp_path / "s.npz", small_set)
    back = read_shapeset(tmp_path / "s.npz")
    for field in ("images", "shapes", "orientations"):
        np.testing.assert_array_equal(getattr(back, field), getattr(small_set, field))
    assert [p.name for p in tmp_path.iterdir()] == ["s.npz"], "no temporary file may be left behind"


def test_shapes_activations_are_an_orbit_table_with_position_labels(tmp_path, small_set):
    acts = np.random.default_rng(0).normal(size=(len(small_set), 4, 256)).astype(np.float32)
    write_activations(tmp_path / "a.parquet", acts, small_set)
    table = pq.read_table(tmp_path / "a.parquet")
    assert len(table) == 4 * len(small_set)
    assert {"orbit_id", "element", "shape_0", "orientation_3", "activation"} <= set(table.column_names)
    row = table.slice(6, 1).to_pylist()[0]  # image 1, rotation 2
    assert (row["orbit_id"], row["element"]) == (1, 2)
    assert row["shape_0"] == small_set.shapes[1, 2, 0] and row["orientation_3"] == small_set.orientations[1, 2, 3]
    np.testing.assert_array_equal(row["activation"], acts[1, 2])
    back = read_activations(tmp_path / "a.parquet")
    generic = read_orbit_table(tmp_path / "a.parquet", order=4)  # what the orbits branch reads: the same
    np.testing.assert_array_equal(back.acts, acts)
    np.testing.assert_array_equal(generic.acts, acts)
    assert set(generic.labels) == {f"{n}_{q}" for n in ("shape", "orientation") for q in range(4)}
    shapes, orientations = position_labels(back)
    np.testing.assert_array_equal(shapes, small_set.shapes)
    np.testing.assert_array_equal(orientations, small_set.orientations)
    assert shapes.dtype == orientations.dtype == np.int8


def test_shapes_activations_read_in_any_row_order_and_refuse_a_missing_element(tmp_path, small_set):
    acts = np.random.default_rng(1).normal(size=(len(small_set), 4, 8)).astype(np.float32)
    write_activations(tmp_path / "a.parquet", acts, small_set)
    table = pq.read_table(tmp_path / "a.parquet")
    pq.write_table(table.take(np.arange(len(table))[::-1]), tmp_path / "b.parquet")
    np.testing.assert_array_equal(read_activations(tmp_path / "b.parquet").acts, acts)
    pq.write_table(table.slice(1), tmp_path / "c.parquet")  # image 0 lost its identity row
    with pytest.raises(ValueError, match="c.parquet.*orbit_id 0"):
        read_activations(tmp_path / "c.parquet")
    with pytest.raises(ValueError, match="do not match"):
        write_activations(tmp_path / "e.parquet", acts[:3], small_set)


def test_shapes_activations_of_an_older_release_still_read(tmp_path, small_set):
    """Files from before the Shapes activations were orbit tables named the orbit `image_id`."""
    acts = np.random.default_rng(2).normal(size=(len(small_set), 4, 8)).astype(np.float32)
    write_activations(tmp_path / "a.parquet", acts, small_set)
    table = pq.read_table(tmp_path / "a.parquet")
    pq.write_table(table.rename_columns(["image_id" if c == "orbit_id" else c for c in table.column_names]),
                   tmp_path / "old.parquet")  # fmt: skip
    np.testing.assert_array_equal(read_activations(tmp_path / "old.parquet").acts, acts)


def test_json_round_trip(tmp_path):
    write_json(tmp_path / "x" / "cfg.json", {"a": 1, "b": [1.5, "x"]})
    assert read_json(tmp_path / "x" / "cfg.json") == {"a": 1, "b": [1.5, "x"]}


LOADING = r"RuntimeError: Error\(s\) in loading state_dict"  # load_state_dict's shape mismatch


def unreadable(path, cause: str = "") -> str:
    """The start of UnreadableFileError's message for `path`, as a regex; `cause` a regex of what failed."""
    return rf"^{re.escape(str(path))}: cannot read it \({cause}"


def truncate_file(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def test_damaged_files_raise_unreadable_naming_the_path(tmp_path, small_set):
    write_shapeset(tmp_path / "s.npz", small_set)
    write_shapeset(tmp_path / "flipped.npz", small_set)
    data = bytearray((tmp_path / "flipped.npz").read_bytes())
    data[200:400] = bytes(b ^ 0xFF for b in data[200:400])  # a zip whose compressed member is corrupt
    (tmp_path / "flipped.npz").write_bytes(bytes(data))
    write_activations(tmp_path / "a.parquet", np.zeros((len(small_set), 4, 8), np.float32), small_set)
    write_table(tmp_path / "t.parquet", pd.DataFrame({"x": [1.0, 2.0]}))
    write_json(tmp_path / "c.json", {"a": 1})
    for name in ("s.npz", "a.parquet", "t.parquet", "c.json"):
        truncate_file(tmp_path / name)
    (tmp_path / "t.csv").write_text("a,b\n1,2\n3,4,5,6\n")  # a row with too many fields
    readers = {"s.npz": read_shapeset, "flipped.npz": read_shapeset, "missing.npz": read_shapeset,
               "a.parquet": read_activations, "t.parquet": read_table, "t.csv": read_table, "c.json": read_json}
    for name, read in readers.items():
        path = tmp_path / name
        with pytest.raises(UnreadableFileError) as error:
            read(path)
        assert str(error.value).startswith(f"{path}: cannot read it ("), name
        assert error.value.__cause__ is not None, name


def test_activations_without_a_column_name_the_file(tmp_path, small_set):
    write_activations(tmp_path / "a.parquet", np.zeros((len(small_set), 4, 8), np.float32), small_set)
    pq.write_table(pq.read_table(tmp_path / "a.parquet").drop_columns(["shape_2"]), tmp_path / "b.parquet")
    with pytest.raises(UnreadableFileError, match=r"b\.parquet: not a Shapes activation table .*'shape_2'"):
        read_activations(tmp_path / "b.parquet")


def test_table_round_trip(tmp_path):
    table = pd.DataFrame({"model": ["cnn", "mlp"], "k": [16.0, np.nan], "r2": [0.5, 0.25]})
    for name in ("t.csv", "t.parquet"):
        write_table(tmp_path / name, table, allow_missing=["k"])
        pd.testing.assert_frame_equal(read_table(tmp_path / name), table)


def test_read_matrix_refuses_a_non_finite_or_non_square_m(tmp_path):
    m = np.eye(4, dtype=np.float32)
    np.save(tmp_path / "M.npy", m)
    back = read_matrix(tmp_path / "M.npy")
    assert back.dtype == np.float32 and np.array_equal(back, m)
    m[1, 2], m[3, 0] = np.nan, np.inf
    np.save(tmp_path / "nan.npy", m)
    with pytest.raises(NonFiniteError, match=r"nan\.npy: M has 2 non-finite entries .*row 1, column 2"):
        read_matrix(tmp_path / "nan.npy")
    np.save(tmp_path / "wide.npy", np.zeros((4, 5), np.float32))
    with pytest.raises(UnreadableFileError, match=r"wide\.npy: M must be a square float matrix, got shape \(4, 5\)"):
        read_matrix(tmp_path / "wide.npy")
    np.save(tmp_path / "int.npy", np.eye(4, dtype=np.int64))
    with pytest.raises(UnreadableFileError, match="int.npy"):
        read_matrix(tmp_path / "int.npy")
    np.save(tmp_path / "cut.npy", np.eye(64, dtype=np.float32))
    truncate_file(tmp_path / "cut.npy")
    with pytest.raises(UnreadableFileError, match=r"cut\.npy: cannot read it"):
        read_matrix(tmp_path / "cut.npy")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), np.float64("nan")])
def test_write_json_refuses_non_finite_numbers_and_writes_nothing(tmp_path, bad):
    path = tmp_path / "fit.json"
    with pytest.raises(NonFiniteError, match=rf"fit\.json: final_loss is {bad}"):
        write_json(path, {"epochs": 3, "final_loss": bad})
    with pytest.raises(NonFiniteError, match=r"fit\.json: history\[1\]\.loss is "):
        write_json(path, {"history": [{"loss": 1.0}, {"loss": bad}]})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_write_table_refuses_nan_and_inf_naming_the_column(tmp_path, suffix):
    path = tmp_path / f"sae_metrics{suffix}"
    table = pd.DataFrame({"variant": ["regular", "wide", "twolayer"], "k": [16, 16, 32], "fvu": [0.1, 0.2, 0.3]})
    with pytest.raises(NonFiniteError, match=r"sae_metrics.*: column 'fvu' has 2 non-finite value\(s\); "
                                             r"the first is nan in row 1 \(variant=wide, k=16\)"):  # fmt: skip
        write_table(path, table.assign(fvu=[0.1, np.nan, np.nan]))
    with pytest.raises(NonFiniteError, match="column 'fvu' has 1 non-finite"):
        write_table(path, table.assign(fvu=[0.1, 0.2, np.inf]), allow_missing=["fvu"])  # inf is never "missing"
    assert list(tmp_path.iterdir()) == []


def test_allow_missing_and_non_float_columns_may_be_empty(tmp_path):
    table = pd.DataFrame({"sae": ["base", "regular"], "k": [np.nan, 16.0], "truncation": [np.nan, 8.0],
                          "training": [None, "paper"], "n": pd.array([pd.NA, 3], dtype="Int64"),
                          "f1": [0.9, 0.8]})  # fmt: skip
    write_table(tmp_path / "p.parquet", table, allow_missing=("k", "truncation"))
    assert read_table(tmp_path / "p.parquet").shape == table.shape
    with pytest.raises(NonFiniteError, match="probes: column 'truncation'"):
        check_finite(table, "probes", allow_missing=("k",))
    check_finite(table.assign(f1=[np.nan, 0.8]), "probes", ("k", "truncation"), columns=["k", "truncation"])


def test_a_damaged_file_says_how_to_make_it_again(tmp_path):
    path = tmp_path / "cut.npy"
    path.write_bytes(b"\x93NUMPY")
    with pytest.raises(UnreadableFileError, match=r"cut\.npy: cannot read it .* delete it, or rerun with --forcerun"):
        read_matrix(path)


@pytest.mark.parametrize("failure", ["enospc", "torch"])
def test_a_full_disk_is_named_with_the_path_and_leaves_no_file(tmp_path, monkeypatch, failure):
    """torch reports a full disk as 'iostream error' without an errno: the free space decides then."""
    import errno
    import shutil
    from collections import namedtuple

    import torch

    from eqsae.io import UnwritableFileError, write_array, write_state

    def no_space(*args, **kwargs):
        if failure == "enospc":
            raise OSError(errno.ENOSPC, "No space left on device")
        raise RuntimeError("[enforce fail at inline_container.cc:626] . unexpected pos 64 vs 0: basic_ios::clear")

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 4096, 4096))
    monkeypatch.setattr(torch, "save", no_space)
    monkeypatch.setattr(np, "save", no_space)
    for path, write in ((tmp_path / "model.pt", lambda p: write_state(p, {"w": torch.zeros(2)})),
                        (tmp_path / "M.npy", lambda p: write_array(p, np.eye(2)))):  # fmt: skip
        with pytest.raises(UnwritableFileError, match=rf"^{re.escape(str(path))}: cannot write it: disk full \(0 MiB"):
            write(path)
        assert list(tmp_path.iterdir()) == []


def test_a_full_disk_under_safetensors_is_named_too(tmp_path, monkeypatch):
    """safetensors reports its I/O errors as SafetensorError, no OSError: eqsae.models.weights passes them on as one."""
    import shutil
    from collections import namedtuple

    import safetensors.torch
    import torch
    from safetensors import SafetensorError

    from eqsae.io import UnwritableFileError
    from eqsae.models.weights import write_tensors

    def no_space(*args, **kwargs):
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(shutil, "disk_usage", lambda path: namedtuple("usage", "total used free")(10**9, 0, 4096))
    monkeypatch.setattr(safetensors.torch, "save_file", no_space)
    path = tmp_path / "sae.safetensors"
    with pytest.raises(UnwritableFileError, match=rf"^{re.escape(str(path))}: cannot write it: disk full"):
        write_tensors(path, {"w": torch.zeros(2)})
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_with_space_left_names_the_path_without_calling_the_disk_full(tmp_path, monkeypatch):
    from eqsae.io import UnwritableFileError, atomic_write

    def denied(tmp):
        raise PermissionError(13, "Permission denied")

    with pytest.raises(UnwritableFileError, match=r"out.json: cannot write it \(PermissionError") as caught:
        atomic_write(tmp_path / "out.json", denied)
    assert "disk full" not in str(caught.value)
