import json

import pytest
import torch
from test_io import LOADING, unreadable
from torch import nn

from eqsae.io import NonFiniteError, UnreadableFileError
from eqsae.models.autoencoders import (
    D_ACT,
    BaseAutoencoder,
    load_autoencoder,
    orbit_activations,
    save_autoencoder,
    train_autoencoder,
)
from eqsae.pipeline.config import BaseTrainConfig

TABLE_1 = {
    "mlp": [
        ("Linear", 4096, 256), ("ReLU",), ("Linear", 256, 256),  # psi: the pre-activation of this layer
        ("ReLU",), ("Linear", 256, 256), ("ReLU",), ("Linear", 256, 4096),
    ],
    "cnn": [
        ("Conv2d", 1, 16, 3, 2, 1), ("ReLU",), ("Conv2d", 16, 32, 3, 2, 1), ("ReLU",), ("Conv2d", 32, 256, 16, 1, 0),
        ("ReLU",), ("ConvTranspose2d", 256, 32, 16, 1, 0, 0), ("ReLU",),
        ("ConvTranspose2d", 32, 16, 3, 2, 1, 1), ("ReLU",), ("ConvTranspose2d", 16, 1, 3, 2, 1, 1),
    ],
}  # fmt: skip


def describe(module: nn.Module) -> tuple:
    match module:
        case nn.Linear():
            return ("Linear", module.in_features, module.out_features)
        case nn.ConvTranspose2d():
            return ("ConvTranspose2d", module.in_channels, module.out_channels, module.kernel_size[0],
                    module.stride[0], module.padding[0], module.output_padding[0])  # fmt: skip
        case nn.Conv2d():
            return ("Conv2d", module.in_channels, module.out_channels, module.kernel_size[0], module.stride[0],
                    module.padding[0])  # fmt: skip
        case nn.ReLU():
            return ("ReLU",)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_table_1_layers(kind):
    model = BaseAutoencoder(kind)
    layers = [describe(m) for m in [*model.encoder, *model.decoder] if describe(m)]
    assert layers == TABLE_1[kind]
    assert not isinstance(model.encoder[-1], nn.ReLU), "psi is the pre-activation: the encoder ends before ReLU"


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_image_to_256d_activation_and_back(kind):
    model = BaseAutoencoder(kind).eval()
    x = torch.rand(5, 1, 64, 64)
    psi = model.encode(x)
    assert psi.shape == (5, D_ACT)
    assert (psi < 0).any(), "pre-activation must keep its negative values"
    assert model.decode(psi).shape == (5, 1, 64, 64)
    torch.testing.assert_close(model.decode(psi), model(x))


def test_training_reduces_loss_and_is_reproducible(small_set):
    cfg = BaseTrainConfig("mlp", epochs=3, batch_size=16, lr=1e-3, seed=1)
    model_a, history = train_autoencoder(small_set.images, cfg)
    model_b, _ = train_autoencoder(small_set.images, cfg)
    assert [r.epoch for r in history] == [1, 2, 3]
    assert history[-1].loss < history[0].loss
    for a, b in zip(model_a.parameters(), model_b.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_save_load_round_trip(tmp_path, small_set, kind):
    model = BaseAutoencoder(kind)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()
    cfg = BaseTrainConfig(kind, epochs=1)
    save_autoencoder(model, tmp_path / kind, cfg, {"final_train_mse": 1.0})
    loaded = load_autoencoder(tmp_path / kind)
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    x = torch.from_numpy(small_set.images[:4]).float().div(255).unsqueeze(1)
    torch.testing.assert_close(loaded.encode(x), model.eval().encode(x), rtol=0, atol=0)
    acts = orbit_activations(loaded, small_set.images[:4])
    assert acts.shape == (4, 4, D_ACT)
    torch.testing.assert_close(torch.from_numpy(acts[:, 0]), loaded.encode(x), rtol=1e-4, atol=1e-3)  # batch-size


def test_bad_model_name_is_named():
    with pytest.raises(ValueError, match="'resnet'"):
        BaseAutoencoder("resnet")


def test_a_diverging_training_stops_with_its_settings(small_set):
    cfg = BaseTrainConfig("mlp", epochs=3, batch_size=8, lr=1e30)
    with pytest.raises(NonFiniteError, match=r"base autoencoder mlp: training loss (nan|inf) at epoch 1/3 with "
                                             r"BaseTrainConfig\(model='mlp', epochs=3, batch_size=8, lr=1e\+30"):
        train_autoencoder(small_set.images[:16], cfg)


def test_damaged_saved_model_names_the_file(tmp_path):
    directory = tmp_path / "cnn"
    save_autoencoder(BaseAutoencoder("cnn"), directory, BaseTrainConfig("cnn", epochs=1), {})
    cfg_file, weights, good = directory / "cfg.json", directory / "model.pt", (directory / "model.pt").read_bytes()
    weights.write_bytes(good[: len(good) // 2])
    with pytest.raises(UnreadableFileError, match=unreadable(weights)):
        load_autoencoder(directory)
    weights.write_bytes(good)
    saved = json.loads(cfg_file.read_text())
    cfg_file.write_text(json.dumps({**saved, "config": {**saved["config"], "model": "mlp"}}))  # wrong shapes
    with pytest.raises(UnreadableFileError, match=unreadable(weights, LOADING)):
        load_autoencoder(directory)
    cfg_file.write_text(json.dumps({**saved, "config": {**saved["config"], "model": "resnet"}}))
    with pytest.raises(UnreadableFileError, match=unreadable(cfg_file, r"ValueError: .*'resnet'")):
        load_autoencoder(directory)
    cfg_file.write_text("{")
    with pytest.raises(UnreadableFileError, match=unreadable(cfg_file, r"JSONDecodeError")):
        load_autoencoder(directory)


def test_a_training_that_ends_far_above_its_start_stops_naming_the_numbers():
    from eqsae.io import DivergedError
    from eqsae.models.autoencoders import EpochRecord, stop_if_worse

    history = [EpochRecord(1, 0.5, 1.0), EpochRecord(2, 0.2, 1.0), EpochRecord(3, 90.0, 1.0)]
    stop_if_worse(history, "base autoencoder mlp: training loss", BaseTrainConfig("mlp"))  # worse, not diverged
    history.append(EpochRecord(4, 6.5e25, 1.0))
    with pytest.raises(DivergedError, match=r"base autoencoder mlp: training loss ended at 6\.5e\+25 after 4 epochs"):
        stop_if_worse(history, "base autoencoder mlp: training loss", BaseTrainConfig("mlp"))
    with pytest.raises(DivergedError, match=r"2\.5e\+03 times where it started \(0\.2\)"):
        stop_if_worse(history[:2] + [EpochRecord(3, 500.0, 1.0)], "x", BaseTrainConfig("mlp"), start=0.2)
