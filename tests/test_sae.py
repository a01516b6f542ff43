import numpy as np
import pytest
import torch

from eqsae.sae import SAEConfig, TopKSAE, load_sae, save_sae, variant_config
from eqsae.train import SAETrainConfig, sae_loss, train_sae

ENCODERS = ["linear", "twolayer"]


def build_sae(**overrides) -> TopKSAE:
    cfg = dict(k=4, d_in=16, d_latent=64, encoder="linear", d_hidden=32) | overrides
    return TopKSAE(SAEConfig(**cfg))


@pytest.mark.parametrize("encoder", ENCODERS)
def test_topk_keeps_exactly_k_nonzeros(encoder):
    sae = build_sae(encoder=encoder)
    _, latents = sae(torch.randn(50, 16))
    z = sae.dense(latents)
    assert z.shape == (50, 64)
    assert ((z != 0).sum(-1) == 4).all()
    assert all(len(set(row.tolist())) == 4 for row in latents.indices)


@pytest.mark.parametrize("encoder", ENCODERS)
def test_fast_path_equals_plain_path_in_outputs_and_gradients(encoder):
    sae = build_sae(encoder=encoder, d_latent=128, k=8).double()
    x = torch.randn(32, 16, dtype=torch.float64)
    results = {}
    for fast in (True, False):
        sae.zero_grad()
        x_hat, latents = sae(x, fast)
        sae_loss(x_hat, x).backward()
        results[fast] = x_hat.detach(), latents, {n: p.grad.clone() for n, p in sae.named_parameters()}
    (fast_out, fast_lat, fast_grads), (plain_out, plain_lat, plain_grads) = results[True], results[False]
    torch.testing.assert_close(fast_out, plain_out)
    torch.testing.assert_close(fast_lat.indices, plain_lat.indices)
    for name in plain_grads:
        torch.testing.assert_close(fast_grads[name], plain_grads[name], msg=name)


@pytest.mark.parametrize("objective", ["augmented", "invariant"])
def test_decoder_rows_stay_unit_norm_through_training(objective):
    orbits = np.random.default_rng(0).normal(size=(128, 4, 16)).astype(np.float32)
    sae, history = train_sae(orbits, SAEConfig(k=4, d_in=16, d_latent=64), objective, SAETrainConfig(epochs=3))
    torch.testing.assert_close(sae.W_dec.norm(dim=-1), torch.ones(64))
    assert history[-1].loss < history[0].loss


def test_fast_and_plain_training_reach_the_same_loss():
    orbits = np.random.default_rng(1).normal(size=(256, 4, 16)).astype(np.float32)
    cfg, train = SAEConfig(k=4, d_in=16, d_latent=64), SAETrainConfig(epochs=3, seed=2)
    _, fast = train_sae(orbits, cfg, "augmented", train, fast=True)
    _, plain = train_sae(orbits, cfg, "augmented", train, fast=False)
    assert fast[-1].loss == pytest.approx(plain[-1].loss, rel=1e-3)


@pytest.mark.parametrize("encoder", ENCODERS)
def test_save_then_load_reproduces_outputs_exactly(tmp_path, encoder):
    sae = build_sae(encoder=encoder)
    with torch.no_grad():
        for p in sae.parameters():
            p.normal_()
    save_sae(sae, tmp_path / "sae", objective="augmented")
    loaded = load_sae(tmp_path / "sae")
    assert loaded.cfg == sae.cfg
    x = torch.randn(10, 16)
    torch.testing.assert_close(loaded(x)[0], sae.eval()(x)[0], rtol=0, atol=0)


def test_variants_are_configurations_of_one_model():
    assert variant_config("regular", 16) == (SAEConfig(k=16, d_latent=2048, encoder="linear"), "augmented")
    assert variant_config("wide", 8)[0].d_latent == 4 * 2048
    assert variant_config("twolayer", 32)[0].encoder == "twolayer"
    assert variant_config("invariant", 16) == (SAEConfig(k=16, encoder="twolayer"), "invariant")
    with pytest.raises(ValueError, match="'equivariant'"):
        variant_config("equivariant", 16)  # it trains nothing: the invariant SAE plus M
    with pytest.raises(ValueError, match="k must be"):
        SAEConfig(k=0)
