import json

import numpy as np
import pytest
import torch

from eqsae.group import C4, D4
from eqsae.io import NonFiniteError
from eqsae.sources.digits import (
    DigitsAutoencoder,
    DigitsTrainConfig,
    digits_labels,
    digits_mse,
    load_digits_autoencoder,
    load_digits_set,
    save_digits_autoencoder,
    train_digits_autoencoder,
)


def test_the_whole_set_is_1797_images_of_8x8_in_unit_range():
    images, digits = load_digits_set()
    assert images.shape == (1797, 8, 8) and images.dtype == np.float32
    assert images.min() == 0.0 and images.max() == 1.0
    assert digits.shape == (1797,) and set(digits.tolist()) == set(range(10))


def test_a_seeded_subset_is_reproducible_and_part_of_the_set():
    images, digits = load_digits_set(50, seed=3)
    again, again_digits = load_digits_set(50, seed=3)
    other, _ = load_digits_set(50, seed=4)
    assert images.shape == (50, 8, 8) and digits.shape == (50,)
    np.testing.assert_array_equal(images, again)
    np.testing.assert_array_equal(digits, again_digits)
    assert not np.array_equal(images, other)
    every, every_digit = load_digits_set()
    rows = [int(np.flatnonzero((every == image).all(axis=(1, 2)))[0]) for image in images]
    np.testing.assert_array_equal(every_digit[rows], digits)
    with pytest.raises(ValueError, match="1797"):
        load_digits_set(2000)


def test_psi_is_the_bottleneck_pre_activation_and_decode_encode_is_forward():
    model = DigitsAutoencoder(d_act=24).eval()
    x = torch.rand(5, 1, 8, 8)
    psi = model.encode(x)
    assert psi.shape == (5, 24)
    assert (psi < 0).any(), "pre-activation must keep its negative values"
    torch.testing.assert_close(model.decode(psi), model(x))
    assert model(x).shape == x.shape


@pytest.mark.slow
def test_training_lowers_the_loss_and_is_seeded():
    images, _ = load_digits_set(96, seed=0)
    cfg = DigitsTrainConfig(epochs=3, batch_size=32, d_act=16, seed=1)
    model_a, history = train_digits_autoencoder(images, cfg)
    model_b, _ = train_digits_autoencoder(images, cfg)
    assert [r.epoch for r in history] == [1, 2, 3]
    assert history[-1].loss < history[0].loss
    for a, b in zip(model_a.parameters(), model_b.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert np.isfinite(digits_mse(model_a, images, C4))


def test_a_diverged_training_stops():
    images, _ = load_digits_set(32, seed=0)
    with pytest.raises(NonFiniteError, match="epoch 1/"):
        train_digits_autoencoder(images * np.float32(np.nan), DigitsTrainConfig(epochs=5, d_act=8))


def test_config_refuses_bad_settings():
    with pytest.raises(ValueError, match="d_act"):
        DigitsTrainConfig(d_act=0)
    with pytest.raises(ValueError, match="group C7 has no action on images"):
        DigitsTrainConfig(group="C7")
    with pytest.raises(ValueError, match="unknown group 'E4'"):
        DigitsTrainConfig(group="E4")


def test_save_load_round_trip(tmp_path):
    model = DigitsAutoencoder(d_act=12).eval()
    cfg = DigitsTrainConfig(epochs=1, d_act=12)
    save_digits_autoencoder(model, tmp_path / "ae", cfg, {"final_loss": 0.5})
    saved = json.loads((tmp_path / "ae" / "cfg.json").read_text())
    assert saved["d_act"] == 12 and saved["config"]["d_act"] == 12 and saved["final_loss"] == 0.5
    loaded = load_digits_autoencoder(tmp_path / "ae")
    x = torch.rand(3, 1, 8, 8)
    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


@pytest.mark.parametrize("group", [C4, D4], ids=lambda g: g.name)
def test_digit_is_invariant_and_orientation_follows_the_element(group):
    digits = np.array([0, 3, 9, 3])
    labels = digits_labels(digits, group)
    assert labels["digit"].shape == labels["digit_orientation"].shape == (4, group.order)
    assert (labels["digit"] == digits[:, None]).all(), "the digit is the same along each orbit"
    for row in labels["digit_orientation"]:
        assert len(set(row.tolist())) == group.order, "each element has its own orientation label"
    np.testing.assert_array_equal(labels["digit_orientation"][1], labels["digit_orientation"][3])
    np.testing.assert_array_equal(labels["digit_orientation"] // group.order, labels["digit"])
    np.testing.assert_array_equal(labels["digit_orientation"] % group.order, np.tile(np.arange(group.order), (4, 1)))
