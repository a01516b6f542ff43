"""The toy model with planted features (`eqsae.toy.model`) as a source of the orbits branch: its training and
test orbits as one orbit table with a yes/no label column per true feature, and the ground truth (the features
and M) beside it, which the branch's truth scores read. The branch then treats it as any table: its own seeded
split, M fitted from the orbits, the SAE variants, probes (one task per feature), the atlas."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eqsae.io import UnreadableFileError, atomic_write, reading
from eqsae.sources.orbit_table import write_orbit_table
from eqsae.toy.model import ToyConfig, make_toy


def feature_label(i: int) -> str:
    """The label column of true feature i: present in the orbit or not."""
    return f"feature_{i}"


def toy_labels(present: np.ndarray, order: int) -> dict[str, np.ndarray]:
    """A bool column (n, |G|) per true feature: M keeps the coefficients, so a feature is present in every
    element of an orbit or in none."""
    return {feature_label(i): np.repeat(present[:, i : i + 1], order, axis=1) for i in range(present.shape[1])}


def toy_source_settings(toy: dict) -> dict:
    """The `ToyConfig` settings (but the group's order and the seed) of a toy source from the config's toy
    section: its one N and one canonical representative, its sizes."""
    keys = ("d", "n_train", "n_test", "invariant_features")
    return {"n_features": toy["n_features"][0], "canonical": toy["canonical"][0], **{key: toy[key] for key in keys}}


def toy_orbit_table(cfg: ToyConfig, table_path: str | Path, truth_path: str | Path) -> int:
    """The toy dataset `cfg` describes (its training orbits, then its test orbits) as an orbit table, and its
    ground truth as an .npz (`read_truth`). Returns the number of orbits."""
    data = make_toy(cfg)
    orbits = np.concatenate([data.train, data.test])
    present = np.concatenate([data.present_train, data.present_test])
    write_orbit_table(table_path, orbits, toy_labels(present, cfg.order))

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object: numpy would append ".npz" to the temporary name
            np.savez(f, features=data.features, m=data.m)

    atomic_write(truth_path, write)
    return len(orbits)


def read_truth(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(features (N, d), M (d, d)) of a toy source; a file without them is an UnreadableFileError naming it."""
    with reading(path), np.load(path) as f:
        if "features" not in f or "m" not in f:
            raise UnreadableFileError(f"{path}: a toy source's truth needs arrays 'features' and 'm'")
        return f["features"], f["m"]
