import numpy as np
import pyarrow.parquet as pq
import pytest

from eqsae.io import read_activations, read_json, read_shapeset, write_activations, write_json, write_shapeset


def test_shapeset_round_trip(tmp_path, small_set):
    write_shapeset(tmp_path / "s.npz", small_set)
    back = read_shapeset(tmp_path / "s.npz")
    for field in ("images", "shapes", "orientations"):
        np.testing.assert_array_equal(getattr(back, field), getattr(small_set, field))
    assert [p.name for p in tmp_path.iterdir()] == ["s.npz"], "no temporary file may be left behind"


def test_activations_parquet_has_one_row_per_rotation_with_labels(tmp_path, small_set):
    acts = np.random.default_rng(0).normal(size=(len(small_set), 4, 256)).astype(np.float32)
    write_activations(tmp_path / "a.parquet", acts, small_set)
    table = pq.read_table(tmp_path / "a.parquet")
    assert len(table) == 4 * len(small_set)
    assert {"image_id", "rotation", "shape_0", "orientation_3", "activation"} <= set(table.column_names)
    row = table.slice(6, 1).to_pylist()[0]  # image 1, rotation 2
    assert (row["image_id"], row["rotation"]) == (1, 2)
    assert row["shape_0"] == small_set.shapes[1, 2, 0] and row["orientation_3"] == small_set.orientations[1, 2, 3]
    np.testing.assert_array_equal(row["activation"], acts[1, 2])
    back = read_activations(tmp_path / "a.parquet")
    np.testing.assert_array_equal(back.acts, acts)
    np.testing.assert_array_equal(back.shapes, small_set.shapes)
    np.testing.assert_array_equal(back.orientations, small_set.orientations)


def test_misordered_activations_are_rejected(tmp_path, small_set):
    acts = np.zeros((len(small_set), 4, 8), np.float32)
    write_activations(tmp_path / "a.parquet", acts, small_set)
    table = pq.read_table(tmp_path / "a.parquet")
    pq.write_table(table.take(np.arange(len(table))[::-1]), tmp_path / "b.parquet")
    with pytest.raises(ValueError, match="b.parquet"):
        read_activations(tmp_path / "b.parquet")
    with pytest.raises(ValueError, match="do not match"):
        write_activations(tmp_path / "c.parquet", acts[:3], small_set)


def test_json_round_trip(tmp_path):
    write_json(tmp_path / "x" / "cfg.json", {"a": 1, "b": [1.5, "x"]})
    assert read_json(tmp_path / "x" / "cfg.json") == {"a": 1, "b": [1.5, "x"]}
