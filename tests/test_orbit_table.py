"""Your own orbits: the orbit-table format, its label tasks and split, and the orbits branch's stages on it."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from eqsae.group import C4
from eqsae.io import UnreadableFileError
from eqsae.models.registry import variant_config
from eqsae.orbit_pipeline import (
    fit_orbit_generators,
    orbit_sae_config,
    probe_orbit_baselines,
    probe_orbits,
    train_orbit_sae,
)
from eqsae.pipeline.config import MFitConfig
from eqsae.probing.probe import ProbeConfig
from eqsae.sources.orbit_table import (
    label_tasks,
    read_orbit_images,
    read_orbit_table,
    split_of,
    split_orbits,
    write_orbit_images,
    write_orbit_table,
)
from eqsae.training.train import SAETrainConfig


def test_round_trip_in_any_row_order(tmp_path):
    rng = np.random.default_rng(0)
    acts = rng.normal(size=(6, 4, 3)).astype(np.float32)
    labels = {"kind": np.repeat(np.arange(6)[:, None] % 2, 4, 1), "turn": np.tile(np.arange(4), (6, 1))}
    write_orbit_table(tmp_path / "o.parquet", acts, labels, orbit_ids=np.array([9, 2, 7, 1, 5, 3]))
    shuffled = pd.read_parquet(tmp_path / "o.parquet").sample(frac=1, random_state=0)
    shuffled.to_parquet(tmp_path / "s.parquet")  # a user's file need not be sorted
    table = read_orbit_table(tmp_path / "s.parquet", order=4)
    assert list(table.orbit_ids) == [1, 2, 3, 5, 7, 9]
    np.testing.assert_array_equal(table.acts[0], acts[3])  # orbit 1 was written fourth
    np.testing.assert_array_equal(table.labels["turn"][2], np.arange(4))


def test_a_bad_table_names_the_file_and_the_problem(tmp_path):
    acts = np.zeros((3, 4, 2), np.float32)
    write_orbit_table(tmp_path / "o.parquet", acts)
    frame = pd.read_parquet(tmp_path / "o.parquet")
    frame.iloc[:-1].to_parquet(tmp_path / "short.parquet")  # the last orbit lacks an element
    with pytest.raises(UnreadableFileError, match="short.parquet: every orbit_id needs each element"):
        read_orbit_table(tmp_path / "short.parquet")
    with pytest.raises(UnreadableFileError, match="but the group has 8 elements"):
        read_orbit_table(tmp_path / "o.parquet", order=8)
    frame.drop(columns="element").to_parquet(tmp_path / "noelement.parquet")
    with pytest.raises(UnreadableFileError, match=r"missing column\(s\) \['element'\]"):
        read_orbit_table(tmp_path / "noelement.parquet")


def test_label_tasks_one_per_value_and_one_per_yes_no_column():
    labels = {"digit": np.array([[3, 3], [5, 5]]), "seen": np.array([[True, False], [False, False]])}
    tasks, matrix = label_tasks(labels)
    assert [t.name for t in tasks] == ["digit=3", "digit=5", "seen=True"] and tasks[0].group == "digit"
    np.testing.assert_array_equal(matrix[:, 2], [True, False, False, False])
    with pytest.raises(KeyError, match="'shape' is not in the orbit table"):
        label_tasks(labels, ["shape"])
    with pytest.raises(ValueError, match="not a concept"):
        label_tasks({"id": np.arange(600).reshape(300, 2)})


def test_split_is_seeded_and_leaves_both_sides():
    mask = split_orbits(10, 0.2, seed=3)
    assert mask.sum() == 2 and np.array_equal(mask, split_orbits(10, 0.2, seed=3))
    assert split_orbits(3, 0.01, 0).sum() == 1 and split_orbits(3, 0.99, 0).sum() == 2


def test_a_tables_own_split_is_read_where_asked_and_never_silently_replaced(tmp_path):
    """A `split` column (train / held_out per orbit) is not a label; `held_out: table` uses it, a share given for
    such a table is refused, and a column that is not one value per orbit names the orbit."""
    acts = np.random.default_rng(0).normal(size=(6, 4, 3)).astype(np.float32)
    held = np.array([False, True, False, False, True, True])
    write_orbit_table(tmp_path / "o.parquet", acts, {"kind": np.zeros((6, 4), int)}, held_out=held)
    table = read_orbit_table(tmp_path / "o.parquet", order=4)
    assert list(table.labels) == ["kind"]
    np.testing.assert_array_equal(split_of(table, "table", seed=0), held)
    with pytest.raises(ValueError, match=r"orbits.held_out: 0.2 splits the orbits anew, but o.parquet has its own"):
        split_of(table, 0.2, seed=0, path="o.parquet")
    write_orbit_table(tmp_path / "plain.parquet", acts)
    plain = read_orbit_table(tmp_path / "plain.parquet")
    assert plain.held_out is None and split_of(plain, 0.5, seed=1).sum() == 3
    with pytest.raises(ValueError, match=r"orbits.held_out: 'table' reads the split column of p, which has none"):
        split_of(plain, "table", seed=0, path="p")
    frame = pd.read_parquet(tmp_path / "o.parquet")
    frame.loc[0, "split"] = "held_out"  # orbit 0 is now split between train and held_out
    frame.to_parquet(tmp_path / "mixed.parquet")
    with pytest.raises(UnreadableFileError, match="column 'split' differs within orbit_id 0"):
        read_orbit_table(tmp_path / "mixed.parquet")
    frame["split"] = "test"
    frame.to_parquet(tmp_path / "other.parquet")
    with pytest.raises(UnreadableFileError, match=r"column 'split' holds 'test'; its values are \('train', 'held_out'\)"):
        read_orbit_table(tmp_path / "other.parquet")
    with pytest.raises(ValueError, match="a name other than"):
        write_orbit_table(tmp_path / "x.parquet", acts, {"split": np.zeros((6, 4), int)})


def test_the_shapes_sets_carry_the_papers_split(tmp_path, small_set):
    """The Shapes' SAE set is wholly training orbits and its probing set wholly held out (their split columns), so
    the analysis reads exactly the orbits the paper trains and probes on; its images are read by row."""
    from eqsae.sources.shapes import write_activations, write_shapeset

    acts = np.ones((len(small_set), 4, 2), np.float32)
    for name, held in (("sae", False), ("probe", True)):
        write_activations(tmp_path / f"{name}.parquet", acts, small_set, held_out=held)
        table = read_orbit_table(tmp_path / f"{name}.parquet", order=4)
        assert (table.held_out == held).all() and "split" not in table.labels
        np.testing.assert_array_equal(split_of(table, "table", seed=0), np.full(len(small_set), held))
    write_shapeset(tmp_path / "probe.npz", small_set)
    images = read_orbit_images(tmp_path / "probe.npz", np.array([5, 2]))  # a ShapeSet's orbit ids are its rows
    np.testing.assert_array_equal(images, small_set.images[[5, 2]].astype(np.float32))


def test_dictionary_sizes_follow_the_activation_width():
    assert orbit_sae_config("regular", 2, 16, expansion=4)[0].d_latent == 64
    assert orbit_sae_config("wide", 2, 16, expansion=4)[0].d_latent == 256
    cfg, objective = orbit_sae_config("invariant_latent", 2, 16, 4, d_hidden=32)
    assert (cfg.encoder, cfg.d_hidden, objective) == ("twolayer", 32, "latent")
    # the same architecture as the paper's SAE of that variant, but for the dictionary's width
    paper, _ = variant_config("invariant_latent", 2, d_in=16, d_hidden=32)
    assert replace(cfg, d_latent=paper.d_latent) == paper
    assert orbit_sae_config("archetypal", 2, 16, n_anchors=8)[0].relax_delta == 1.0  # the workflow's default


@pytest.mark.slow
def test_the_stages_run_on_exactly_equivariant_orbits():
    """A planted linear action: psi(g^p x) = M^p psi(x) with M a coordinate cycle; M is recovered, probes run."""
    rng = np.random.default_rng(0)
    m = np.roll(np.eye(8), 1, axis=0)
    x = rng.normal(size=(200, 8))
    orbits = np.stack([x @ np.linalg.matrix_power(m, p).T for p in range(4)], 1).astype(np.float32)
    held = split_orbits(200, 0.25, 0)
    generators, r2 = fit_orbit_generators(orbits[~held], orbits[held], MFitConfig(epochs=60, lr=1e-2), C4)
    mean = r2[r2.element == "mean"]
    assert mean.r2_learned.item() > 0.8 and mean.r2_identity.item() < 0  # Adam from the identity, 60 epochs
    sae, history = train_orbit_sae(orbits[~held], "twolayer", 2, SAETrainConfig(epochs=2), expansion=2, d_hidden=16)
    assert len(history) == 2 and (sae.cfg.d_latent, sae.cfg.d_hidden) == (16, 16)
    archetypal, _ = train_orbit_sae(orbits[~held], "archetypal", 2, SAETrainConfig(epochs=1), expansion=2, n_anchors=40)
    assert (archetypal.cfg.n_anchors, archetypal.cfg.relax_delta) == (40, 1.0)
    standard, _ = train_orbit_sae(orbits[~held], "regular", 2, SAETrainConfig(epochs=1, auxk_alpha=1 / 32, k_aux=4),
                                  practice="standard", expansion=2)  # the SAE libraries' practice  # fmt: skip
    assert standard.cfg.pre_bias and standard.cfg.tied_init and not sae.cfg.pre_bias
    labels = {"big": np.repeat((x[held, :1] > 0.5), 4, 1), "turn": np.tile(np.arange(4), (held.sum(), 1))}
    tasks, y = label_tasks(labels)
    scores = probe_orbits(sae, orbits[held], y, tasks, [2], ProbeConfig(xgb_trees=5))
    assert set(scores.task_group) == {"big", "turn"} and set(scores.representation) == {"latents", "reconstructions"}
    base = probe_orbits(None, orbits[held], y, tasks, [2], ProbeConfig(xgb_trees=5))
    assert base.representation.unique().tolist() == ["activations"]
    baselines = probe_orbit_baselines(orbits[held], y, tasks, ProbeConfig(xgb_trees=5))
    turn = baselines[(baselines.sae == "group_element") & (baselines.probe == "xgboost")].set_index("task").f1
    assert (turn[[f"turn={p}" for p in range(4)]] == 1).all()  # the turn label is the group element itself
    assert baselines[baselines.sae == "base"].drop(columns="sae").reset_index(drop=True).equals(base)


@pytest.mark.parametrize("column", [np.full((30, 4), "circle"), np.zeros((30, 4), bool), np.ones((30, 4), bool)],
                         ids=["constant", "all False", "all True"])  # fmt: skip
def test_a_label_with_one_value_is_named_not_scored(column):
    """A constant column would be one all-positive task (F1 = 1 for every probe) or, as bools, no task at all."""
    with pytest.raises(ValueError, match=r"label column 'kind' takes one value .* on all 120 held-out rows"):
        label_tasks({"kind": column, "shape": np.arange(120).reshape(30, 4) % 3})


def test_the_orbit_pipeline_docstring_example_runs(tmp_path, monkeypatch):
    """The notebook example at the top of `eqsae.orbit_pipeline`, run as written on a small orbit table; only the
    training lengths are shortened and the dictionary made small."""
    import textwrap

    import eqsae.orbit_pipeline as pipeline
    from eqsae.fitting.transform import element_matrices
    from eqsae.group import C4
    from eqsae.pipeline.config import MFitConfig
    from eqsae.probing.probe import ProbeConfig

    rng = np.random.default_rng(0)
    kind = rng.integers(0, 2, 60)
    canonical = rng.normal(size=(60, 8)).astype(np.float32) + kind[:, None]
    acts = np.stack([np.roll(canonical, p, axis=1) for p in range(4)], 1)  # a cyclic shift is the group action
    write_orbit_table(tmp_path / "my_orbits.parquet", acts, {"kind": np.repeat(kind[:, None], 4, 1)})
    monkeypatch.chdir(tmp_path)
    lines = [line for line in pipeline.__doc__.splitlines() if line.startswith("    ")]
    code = textwrap.dedent("\n".join(lines))
    assert "train_orbit_sae(" in code and "probe_orbits(" in code
    code = code.replace('"invariant", 16, SAETrainConfig()', '"invariant", 4, SAETrainConfig(epochs=2), expansion=2')
    code = code.replace("MFitConfig()", "MFitConfig(epochs=2)").replace("[4, 16]", "[2, 4]")
    namespace = {**vars(pipeline), "read_orbit_table": read_orbit_table, "split_orbits": split_orbits,
                 "label_tasks": label_tasks, "MFitConfig": MFitConfig, "C4": C4, "ProbeConfig": ProbeConfig,
                 "element_matrices": element_matrices, "SAETrainConfig": SAETrainConfig}  # fmt: skip
    exec(code, namespace)
    scores = namespace["scores"]
    assert len(scores) and np.isfinite(scores.select_dtypes("number").to_numpy(dtype=float)).any()


def test_orbit_images_are_read_in_the_tables_order_and_a_missing_one_is_named(tmp_path):
    images = np.random.default_rng(0).random((5, 6, 6)).astype(np.float32)
    write_orbit_images(tmp_path / "images.npz", images, orbit_ids=[10, 11, 12, 13, 14])
    assert not list(tmp_path.glob("*.tmp*"))
    np.testing.assert_array_equal(read_orbit_images(tmp_path / "images.npz", np.array([13, 10])), images[[3, 0]])
    with pytest.raises(UnreadableFileError, match="no image for orbit_id 15"):
        read_orbit_images(tmp_path / "images.npz", np.array([10, 15]))
    with pytest.raises(ValueError, match="H = W"):
        write_orbit_images(tmp_path / "bad.npz", np.zeros((2, 4, 5)))
    with pytest.raises(ValueError, match="distinct orbit ids"):
        write_orbit_images(tmp_path / "bad.npz", images, orbit_ids=[1, 1, 2, 3, 4])


def test_the_papers_tasks_of_a_shapes_orbit_table_are_the_papers_labels(tmp_path, small_set):
    """orbits.tasks: paper builds v1's 180 tasks from a Shapes orbit table's quadrant columns, with the very labels
    v1's probes read from the image set, on any held-out subset of orbits."""
    from eqsae.probing.tasks import make_tasks, orbit_labels, orbit_tasks, task_counts
    from eqsae.sources.shapes import write_activations

    acts = np.zeros((len(small_set), 4, 3), np.float32)
    write_activations(tmp_path / "a.parquet", acts, small_set)
    table = read_orbit_table(tmp_path / "a.parquet", order=4)
    held = np.arange(len(small_set)) % 3 == 0
    tasks, labels = orbit_tasks("paper", {c: v[held] for c, v in table.labels.items()})
    assert tasks == make_tasks() and len(tasks) == task_counts()["all"] == 180
    expected = orbit_labels(small_set.shapes[held], small_set.orientations[held], tasks)
    np.testing.assert_array_equal(labels, expected)
    assert labels.shape == (4 * held.sum(), 180) and labels.any(axis=0).sum() > 100
    by_column, _ = orbit_tasks("labels", table.labels, columns=["shape_0"])
    assert [t.name for t in by_column] == [f"shape_0={s}" for s in range(8)]
    with pytest.raises(ValueError, match="probing tasks 'figure3'"):
        orbit_tasks("figure3", table.labels)
