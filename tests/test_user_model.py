from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from eqsae.group import C4, D4
from eqsae.io import NonFiniteError
from eqsae.sources.orbit_table import read_orbit_images, read_orbit_table
from eqsae.sources.user_model import model_to_orbit_table, orbit_activations


def small_cnn(channels: int = 1) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(OrderedDict(
        conv=nn.Conv2d(channels, 4, 3, padding=1), relu=nn.ReLU(), drop=nn.Dropout(0.5),
        flat=nn.Flatten(), head=nn.Linear(4 * 6 * 6, 3),
    ))  # fmt: skip


@pytest.mark.parametrize("group", [C4, D4], ids=lambda g: g.name)
def test_the_hook_sees_what_the_layer_computes_on_each_transformed_image(group):
    model = small_cnn().train()
    images = np.random.default_rng(0).random((7, 6, 6), dtype=np.float32)
    acts = orbit_activations(model, "conv", images, group, batch_size=10)
    assert acts.shape == (7, group.order, 4 * 6 * 6) and acts.dtype == np.float32
    with torch.no_grad():
        for e in range(group.order):
            x = torch.from_numpy(group.act(images, e).copy())[:, None]
            np.testing.assert_allclose(acts[:, e], model.conv(x).flatten(1).numpy(), rtol=1e-5, atol=1e-6)
    assert model.training, "the model goes back to the mode it came in"


def test_eval_mode_turns_dropout_off():
    model = small_cnn().train()
    images = np.random.default_rng(1).random((5, 6, 6), dtype=np.float32)
    first = orbit_activations(model, "head", images, C4)
    np.testing.assert_array_equal(first, orbit_activations(model, "head", images, C4))


@pytest.mark.parametrize("group", [C4, D4], ids=lambda g: g.name)
def test_an_equivariant_layer_gives_the_transformed_image(group):
    identity = nn.Sequential(OrderedDict(flat=nn.Flatten(), head=nn.Linear(36, 2)))
    images = np.random.default_rng(2).random((4, 6, 6), dtype=np.float32)
    acts = orbit_activations(identity, "flat", images, group)
    for e in range(group.order):
        np.testing.assert_array_equal(acts[:, e], group.act(images, e).reshape(4, -1))
    for p in range(4):
        np.testing.assert_array_equal(acts[:, p], np.rot90(images, p, axes=(1, 2)).reshape(4, -1))
    if group.order == 8:
        np.testing.assert_array_equal(acts[:, 4], images[:, ::-1].reshape(4, -1))


def test_channels_first_images_pass_as_they_are():
    model = small_cnn(channels=3)
    images = np.random.default_rng(3).random((2, 3, 6, 6), dtype=np.float32)
    acts = orbit_activations(model, "conv", images, C4)
    with torch.no_grad():
        turned = torch.from_numpy(np.rot90(images, 3, axes=(2, 3)).copy())
        np.testing.assert_allclose(acts[:, 3], model.conv(turned).flatten(1).numpy(), rtol=1e-5, atol=1e-6)


def test_an_unknown_layer_names_the_available_ones():
    with pytest.raises(ValueError, match=r"no layer 'fc'.*'conv', 'relu', 'drop', 'flat', 'head'"):
        orbit_activations(small_cnn(), "fc", np.zeros((1, 6, 6), np.float32), C4)


def test_non_square_images_are_refused():
    with pytest.raises(ValueError, match="H == W"):
        orbit_activations(small_cnn(), "conv", np.zeros((1, 6, 5), np.float32), C4)


def test_model_to_orbit_table_round_trips(tmp_path):
    model = small_cnn()
    images = np.random.default_rng(4).random((6, 6, 6), dtype=np.float32)
    labels = {"bright": np.repeat(images.mean(axis=(1, 2))[:, None] > 0.5, C4.order, axis=1),
              "turn": np.tile(np.arange(C4.order), (6, 1))}  # fmt: skip
    acts = model_to_orbit_table(model, "relu", images, C4, tmp_path / "orbits.parquet", labels,
                                images_path=tmp_path / "images.npz")  # fmt: skip
    table = read_orbit_table(tmp_path / "orbits.parquet", order=C4.order)
    np.testing.assert_array_equal(read_orbit_images(tmp_path / "images.npz", table.orbit_ids), images)
    np.testing.assert_array_equal(table.acts, acts)
    np.testing.assert_array_equal(table.orbit_ids, np.arange(6))
    for name, values in labels.items():
        np.testing.assert_array_equal(table.labels[name], values)


def test_non_finite_activations_are_refused_before_writing(tmp_path):
    images = np.full((2, 6, 6), np.nan, np.float32)
    with pytest.raises(NonFiniteError, match="'conv'"):
        model_to_orbit_table(small_cnn(), "conv", images, C4, tmp_path / "orbits.parquet")
    assert not (tmp_path / "orbits.parquet").exists()
