"""The feature explorer: its data from a small synthetic atlas (an exactly equivariant pixel 'model'), and
the page itself in a real browser (Debian's chromium and chromium-driver; skipped without them)."""

import json
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eqsae.atlas import AtlasConfig, ProbingView, latent_table
from eqsae.explorer import (LEVELS, N_TOP, census, feature_rows, grey_levels, histogram, page_html, run_index,
                            sae_folder, sheet, signed_levels, top_examples, write_index, write_sae_explorer)  # fmt: skip
from eqsae.group import ORDER, rotate
from eqsae.tasks import Task

SIDE = 8  # images SIDE x SIDE; the toy model's activation is the image's pixels


def pixel_turn() -> np.ndarray:
    basis = np.eye(SIDE * SIDE).reshape(-1, SIDE, SIDE)
    return np.stack([rotate(b, 1).ravel() for b in basis], axis=1)  # column i = M e_i


def synthetic_sae(n_images: int = 12, seed: int = 0):
    """(view, table, dictionary, M) of a toy SAE read by the real atlas: atoms 0..3 one orbit (each the turned
    copy of the last), atom 4 invariant, atom 5 never in the TopK (dead), atom 6 a lone random atom."""
    rng = np.random.default_rng(seed)
    m = pixel_turn()
    blob = rng.normal(size=(SIDE, SIDE))
    square = sum(rotate(blob, p) for p in range(ORDER))
    dictionary = np.stack([*(rotate(blob, p).ravel() for p in range(ORDER)), square.ravel(),
                           rng.normal(size=SIDE * SIDE), rng.normal(size=SIDE * SIDE)])  # fmt: skip
    dictionary /= np.linalg.norm(dictionary, axis=1, keepdims=True)
    images = rng.integers(0, 256, size=(n_images, SIDE, SIDE)).astype(np.uint8)
    psi = np.stack([rotate(im, p).ravel() / 255 for im in images for p in range(ORDER)])
    scores = np.abs(psi @ dictionary.T)
    scores[:, 5] = -1  # never among the TopK: dead
    indices = np.argsort(-scores, axis=1)[:, :2]
    values = np.take_along_axis(psi @ dictionary.T, indices, 1)
    labels = rng.random((len(psi), 2)) < 0.5
    tasks = [Task("S", 0), Task("SO", 1, orientation=0)]
    decode = lambda x: np.asarray(x).reshape(len(x), SIDE, SIDE)  # noqa: E731
    view = ProbingView(values, indices, labels, tasks, psi.mean(0), decode, images)
    table = latent_table(dictionary, m, values, indices, labels, tasks, decode, psi.mean(0), AtlasConfig())
    return view, table, dictionary, m


KEYS = {"base_model": "cnn", "sae_training": "paper", "variant": "regular", "k": 2, "seed": 0}


def build_page(folder: Path, variants=("regular", "wide")) -> list[dict]:
    """A run's explorer from synthetic SAEs, as the workflow's two rules write it."""
    entries = []
    for i, variant in enumerate(variants):
        view, table, dictionary, m = synthetic_sae(seed=i)
        keys = {**KEYS, "variant": variant}
        entries.append(write_sae_explorer(folder / sae_folder(keys), view, table, dictionary, m, keys))
    write_index(folder, "synthetic", entries)
    return entries


def test_feature_rows_are_the_live_latents_with_json_values():
    _, table, _, _ = synthetic_sae()
    rows = feature_rows(table)
    assert [r["latent"] for r in rows] == [0, 1, 2, 3, 4, 6] == list(table.latent[~table.dead])
    assert all(isinstance(r["has_rotated_partner"], bool) and isinstance(r["latent"], int) for r in rows)
    json.dumps(rows, allow_nan=False)  # NaN became None
    assert rows[0]["class"] == "period 4" and rows[4]["class"] == "invariant"
    assert rows[0]["has_rotated_partner"] and rows[0]["rotated_partner"] in {1, 2, 3}


def test_census_counts_live_latents_per_class():
    _, table, _, _ = synthetic_sae()
    c = census(table)
    assert c["n_latents"] == 7 and c["n_live"] == 6 and c["invariant"] == 1 and c["period 4"] >= 4
    assert sum(c[name] for name in ("invariant", "period 2", "period 4", "mixed")) == 6
    assert c["turned_copy"] == int(table.has_rotated_partner.sum())


def test_histogram_and_top_examples_read_the_latents_column():
    column = np.zeros(12)  # 3 images x 4 rotations
    column[[1, 2, 6, 11]] = [5.0, 4.0, 3.0, 1.0]
    hist = histogram(column, bins=4)
    assert hist["lo"] == 1 and hist["hi"] == 5 and sum(hist["counts"]) == 4
    tops = top_examples(column, 3)
    # image 0 once, at g^1 (its most activating rotation); its response runs over rows 1, 2, 3, 0
    assert [(t["image"], t["p"], t["activation"]) for t in tops] == [(0, 1, 5.0), (1, 2, 3.0), (2, 3, 1.0)]
    assert tops[0]["response"] == [5.0, 4.0, 0.0, 0.0]
    assert histogram(np.zeros(4))["counts"] == [0] * 16


def test_a_sheet_holds_the_orbit_strip_and_top_images_on_one_scale():
    rng = np.random.default_rng(0)
    through_m = rng.normal(size=(ORDER, SIDE, SIDE))
    by_pixels = np.stack([rotate(through_m[0], p) for p in range(ORDER)])
    tops = rng.integers(0, 256, size=(3, SIDE, SIDE))
    levels, lim = sheet(through_m, by_pixels, tops)
    assert levels.shape == ((2 + N_TOP // ORDER) * SIDE, ORDER * SIDE) and lim == np.abs(through_m).max()
    assert (levels[: 2 * SIDE] < LEVELS).all() and (levels[2 * SIDE :] >= LEVELS).all()  # signed, then grey
    assert np.array_equal(levels[SIDE : 2 * SIDE, SIDE : 2 * SIDE], np.rot90(levels[:SIDE, :SIDE]))
    assert np.array_equal(levels[2 * SIDE : 3 * SIDE, :SIDE], grey_levels(tops[0]))
    assert (levels[3 * SIDE :] == LEVELS).all()  # fewer than N_TOP images: black cells
    assert signed_levels(np.array([-2.0, 0.0, 2.0]), 2).tolist() == [0, 64, 127]


def test_the_page_data_name_every_live_latent_with_its_png(tmp_path):
    entries = build_page(tmp_path)
    assert [e["id"] for e in entries] == ["seed0/paper/cnn/regular_k2", "seed0/paper/cnn/wide_k2"]
    text = (tmp_path / "seed0/paper/cnn/regular_k2/data.js").read_text()
    prefix = 'EQSAE_SAE["seed0/paper/cnn/regular_k2"] = '
    assert text.startswith(prefix)
    data = json.loads(text[len(prefix) :].rstrip().rstrip(";"))
    assert [f["latent"] for f in data["features"]] == [0, 1, 2, 3, 4, 6] and data["side"] == SIDE
    for f in data["features"]:
        assert (tmp_path / "seed0/paper/cnn/regular_k2" / f["png"]).stat().st_size > 50
        assert 1 <= len(f["top"]) <= N_TOP and f["lim"] > 0 and sum(f["hist"]["counts"]) > 0
    assert not (tmp_path / "seed0/paper/cnn/regular_k2/latent00005.png").exists()  # dead: no view
    index = (tmp_path / "data.js").read_text()
    assert index.startswith("EQSAE_RUN = ") and '"n_live":6' in index
    html = (tmp_path / "index.html").read_text()
    assert "/*SCRIPT*/" not in html and "/*STYLE*/" not in html and 'src="data.js?v=' in html


def test_the_index_orders_saes_for_the_picker():
    entries = [{"id": f"x{k}", **KEYS, "k": k, "census": {}} for k in (32, 8, 16)]
    assert [e["k"] for e in run_index("r", entries)["saes"]] == [8, 16, 32]  # numbers as numbers
    assert "linear-gradient(to top, rgb(" in run_index("r", entries)["colorbar"]
    html = page_html()
    assert html.count("<script") == 3 and html.count("</script>") == 3  # nothing inlined closes a script early
