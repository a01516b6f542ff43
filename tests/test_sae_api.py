"""The SAE's user-facing API: dense and sparse encoding, decoding either, chunked encoding, the saved folder
(safetensors beside cfg.json; folders holding the former sae.pt still load) and the docstring examples."""

import doctest

import pytest
import torch
from safetensors import safe_open
from test_io import unreadable

import eqsae.models.sae
from eqsae.io import UnreadableFileError
from eqsae.models.registry import build_sae, load_sae, save_sae
from eqsae.models.sae import Latents, SAEConfig

CONFIGS = {
    "linear": dict(),
    "twolayer": dict(encoder="twolayer"),
    "relu": dict(topk_activation="relu"),
    "pre_bias": dict(pre_bias=True),
    "archetypal": dict(encoder="twolayer", dictionary="archetypal", n_anchors=12, relax_delta=0.5),
}


def make(name: str, seed: int = 0):
    torch.manual_seed(seed)
    cfg = SAEConfig(**(dict(k=4, d_in=16, d_latent=64, d_hidden=32) | CONFIGS[name]))
    sae = build_sae(cfg, torch.randn(cfg.n_anchors, cfg.d_in) if cfg.dictionary == "archetypal" else None)
    with torch.no_grad():
        sae.b_dec.normal_()
    return sae.eval()


def test_the_docstring_examples_run():
    result = doctest.testmod(eqsae.models.sae)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("name", CONFIGS)
def test_encode_is_dense_by_default_and_sparse_on_request(name):
    sae, x = make(name), torch.randn(30, 16)
    z, latents = sae.encode(x), sae.encode(x, sparse=True)
    assert isinstance(latents, Latents) and latents.values.shape == latents.indices.shape == (30, 4)
    assert z.shape == (30, 64) and torch.equal(z, sae.dense(latents))
    assert torch.equal(sae.dense(z), z)  # a dense z passes through
    x_hat, forward_latents = sae(x)  # forward keeps the sparse form
    assert torch.equal(forward_latents.indices, latents.indices)
    for decoded in (sae.decode(z), sae.decode(latents), sae.decode(tuple(latents))):
        torch.testing.assert_close(decoded, x_hat, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(sae.decode(z, bias=False), x_hat - sae.b_dec, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["linear", "archetypal"])
def test_leading_dimensions_are_kept(name):
    sae, x = make(name), torch.randn(5, 4, 16)
    z, latents = sae.encode(x), sae.encode(x, sparse=True)
    assert z.shape == (5, 4, 64) and latents.indices.shape == (5, 4, 4)
    torch.testing.assert_close(z.reshape(20, 64), sae.encode(x.reshape(20, 16)))
    torch.testing.assert_close(sae.decode(latents), sae.decode(z), rtol=1e-5, atol=1e-5)
    assert sae.decode(latents).shape == (5, 4, 16)
    assert sae.encode(x[0, 0]).shape == (64,)


def test_batched_encoding_never_computes_more_rows_than_the_batch(monkeypatch):
    sae, x = make("linear"), torch.randn(103, 16)
    rows, topk = [], sae.topk
    monkeypatch.setattr(sae, "topk", lambda h, fast=True: rows.append(len(h)) or topk(h, fast))
    with torch.no_grad():
        whole, chunked = sae.encode(x, sparse=True), sae.encode(x, sparse=True, batch_size=25)
        dense = sae.encode(x, batch_size=25)
    assert rows == [103, 25, 25, 25, 25, 3, 25, 25, 25, 25, 3]
    assert torch.equal(chunked.indices, whole.indices)
    torch.testing.assert_close(chunked.values, whole.values)
    torch.testing.assert_close(dense, sae.dense(whole))


@pytest.mark.parametrize("name", CONFIGS)
def test_the_folder_holds_safetensors_and_cfg_json_only(tmp_path, name):
    sae = make(name)
    save_sae(sae, tmp_path, variant="mine")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cfg.json", "sae.safetensors"]
    with safe_open(tmp_path / "sae.safetensors", framework="pt") as f:
        assert set(f.keys()) == set(sae.state_dict())
    loaded, x = load_sae(tmp_path), torch.randn(10, 16)
    assert type(loaded) is type(sae) and loaded.cfg == sae.cfg
    torch.testing.assert_close(loaded(x)[0], sae(x)[0], rtol=0, atol=0)


@pytest.mark.parametrize("name", ["linear", "archetypal"])
def test_a_folder_holding_the_former_sae_pt_still_loads(tmp_path, name):
    sae = make(name)
    save_sae(sae, tmp_path)
    (tmp_path / "sae.safetensors").unlink()
    torch.save(sae.state_dict(), tmp_path / "sae.pt")  # what save_sae wrote before
    x = torch.randn(10, 16)
    torch.testing.assert_close(load_sae(tmp_path)(x)[0], sae(x)[0], rtol=0, atol=0)
    (tmp_path / "sae.pt").write_bytes(b"not a torch file")
    with pytest.raises(UnreadableFileError, match=unreadable(tmp_path / "sae.pt")):
        load_sae(tmp_path)


def test_a_folder_without_weights_names_the_safetensors_file(tmp_path):
    save_sae(make("linear"), tmp_path)
    (tmp_path / "sae.safetensors").unlink()
    with pytest.raises(UnreadableFileError, match=unreadable(tmp_path / "sae.safetensors")):
        load_sae(tmp_path)


def equivariant_run(tmp_path, group_dir=""):
    """A workflow run's layout: the invariant SAE and the model's fitted M (and R) beside it."""
    import numpy as np

    seed = tmp_path / f"{group_dir}seed0"
    save_sae(make("twolayer"), seed / "sae/paper/cnn/invariant/k4")
    rng = np.random.default_rng(0)
    (seed / "m/cnn").mkdir(parents=True)
    np.save(seed / "m/cnn/M.npy", np.linalg.qr(rng.normal(size=(16, 16)))[0].astype(np.float32))
    np.save(seed / "m/cnn/R.npy", np.linalg.qr(rng.normal(size=(16, 16)))[0].astype(np.float32))
    return seed


@pytest.mark.parametrize("group_dir", ["", "D4/"])
def test_an_equivariant_folder_loads_as_its_invariant_sae_turned_by_m(tmp_path, group_dir):
    from eqsae.fitting.transform import apply_elements, element_matrices
    from eqsae.group import GROUPS
    from eqsae.io import read_generators
    from eqsae.models.registry import EquivariantSAE

    seed = equivariant_run(tmp_path, group_dir)
    group = GROUPS[group_dir[:-1] or "C4"]
    sae = load_sae(seed / "sae/paper/cnn/equivariant/k4")
    invariant = load_sae(seed / "sae/paper/cnn/invariant/k4")
    assert isinstance(sae, EquivariantSAE) and sae.group is group
    x = torch.randn(8, group.order, 16)
    generators = read_generators(seed / "m/cnn/M.npy", seed / "m/cnn/R.npy" if group.n_generators == 2 else None)
    expected = apply_elements(invariant(x.flatten(0, 1))[0].view_as(x), element_matrices(
        [torch.from_numpy(g) for g in generators], group))  # fmt: skip
    for e in range(group.order):
        x_hat, latents = sae(x[:, e], element=e)
        torch.testing.assert_close(x_hat, expected[:, e])
        torch.testing.assert_close(latents.values, invariant.encode(x[:, e], sparse=True).values)
    assert sae.dictionary_rows(1).shape == invariant.dictionary_rows().shape


def test_an_equivariant_sae_without_its_m_names_the_file_and_takes_generators(tmp_path):
    import numpy as np

    seed = equivariant_run(tmp_path)
    (seed / "m/cnn/M.npy").unlink()
    with pytest.raises(FileNotFoundError, match=r"m/cnn/M.npy does not exist; pass generators=\[M\]"):
        load_sae(seed / "sae/paper/cnn/equivariant/k4")
    sae = load_sae(seed / "sae/paper/cnn/equivariant/k4", generators=[np.eye(16, dtype=np.float32)])
    x = torch.randn(5, 16)
    torch.testing.assert_close(sae(x, element=3)[0], load_sae(seed / "sae/paper/cnn/invariant/k4")(x)[0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_an_sae_trained_on_the_gpu_saves_loads_and_encodes_orbits_there(tmp_path):
    import numpy as np

    from eqsae.orbit_pipeline import encode_orbits, train_orbit_sae
    from eqsae.training.train import SAETrainConfig

    orbits = np.random.default_rng(0).normal(size=(64, 4, 16)).astype(np.float32)
    sae, _ = train_orbit_sae(orbits, "regular", 4, SAETrainConfig(epochs=2), device="cuda", expansion=2)
    assert sae.b_dec.device.type == "cuda"
    save_sae(sae, tmp_path)
    on_gpu, on_cpu = encode_orbits(load_sae(tmp_path, device="cuda"), orbits), encode_orbits(load_sae(tmp_path), orbits)
    assert on_gpu.values.device.type == "cpu"
    dense = load_sae(tmp_path).dense
    torch.testing.assert_close(dense(on_gpu), dense(on_cpu), rtol=1e-4, atol=1e-4)
