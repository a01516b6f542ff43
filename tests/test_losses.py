"""v2's three invariance losses: each has its gradient where v2 says, and trains end to end."""

import numpy as np
import pytest
import torch

from eqsae.models.registry import variant_config
from eqsae.models.sae import SAEConfig, TopKSAE
from eqsae.training.train import SAETrainConfig, invariance_term, sae_loss, step_losses, train_sae


def twolayer(**overrides) -> TopKSAE:
    torch.manual_seed(0)
    return TopKSAE(SAEConfig(**(dict(k=4, d_in=16, d_latent=64, encoder="twolayer", d_hidden=32) | overrides))).double()


def grads(sae: TopKSAE, value: torch.Tensor) -> dict[str, torch.Tensor]:
    sae.zero_grad()
    value.backward()
    return {n: torch.zeros_like(p) if p.grad is None else p.grad.to_dense().clone() for n, p in sae.named_parameters()}


@pytest.mark.parametrize("fast", [True, False])
def test_latent_term_leaves_the_dictionary_alone_and_output_term_does_not(fast):
    sae = twolayer()
    x0, xg = torch.randn(32, 16, dtype=torch.float64), torch.randn(32, 16, dtype=torch.float64)
    for objective, dictionary_moves in (("latent", False), ("output", True)):
        canonical = sae.encode(x0, sparse=True, fast=fast)
        g = grads(sae, invariance_term(sae, canonical, xg, objective, fast))
        assert bool(g["W_dec"].abs().sum() > 0) == dictionary_moves, objective
        assert g["encoder.weight"].abs().sum() > 0 and g["hidden.0.weight"].abs().sum() > 0  # the encoder learns
        assert g["b_dec"].abs().sum() == 0  # the bias cancels in both terms


def test_latent_loss_gives_the_dictionary_only_the_canonical_reconstructions_gradient():
    """latent: L_SAE(psi(x)) + lambda ||E(psi(x)) - E(psi(gx))||^2; transformed inputs never reach W_D."""
    sae = twolayer()
    x0, xg = torch.randn(32, 16, dtype=torch.float64), torch.randn(32, 16, dtype=torch.float64)
    loss, _, latents = step_losses(sae, x0, x0, fast=True)
    full = grads(sae, loss + 1.0 * invariance_term(sae, latents, xg, "latent"))
    loss, _, _ = step_losses(sae, x0, x0, fast=True)
    reconstruction_only = grads(sae, loss)
    torch.testing.assert_close(full["W_dec"], reconstruction_only["W_dec"])
    assert not torch.allclose(full["encoder.weight"], reconstruction_only["encoder.weight"])


def test_invariance_terms_are_what_v2_writes():
    sae = twolayer()
    x0, xg = torch.randn(8, 16, dtype=torch.float64), torch.randn(8, 16, dtype=torch.float64)
    z0, zg = sae.encode(x0, fast=False), sae.encode(xg, fast=False)
    latent = invariance_term(sae, sae.encode(x0, sparse=True), xg, "latent")
    torch.testing.assert_close(latent, (z0 - zg).square().sum(-1).mean())
    output = invariance_term(sae, sae.encode(x0, sparse=True), xg, "output")
    torch.testing.assert_close(output, sae_loss(sae(xg, fast=False)[0], sae(x0, fast=False)[0]))
    with pytest.raises(ValueError, match="no invariance term"):
        invariance_term(sae, sae.encode(x0, sparse=True), xg, "augmented")


@pytest.mark.parametrize("variant", ["invariant", "invariant_latent", "invariant_output"])
def test_each_invariance_loss_trains_and_reaches_invariant_latents(variant):
    rng = np.random.default_rng(0)
    psi = rng.normal(size=(256, 16)).astype(np.float32)
    orbits = np.stack([psi, psi[:, ::-1], -psi, psi[:, ::-1] * 2], 1).copy()  # anything that moves psi
    cfg, objective = variant_config(variant, 4, d_in=16, d_hidden=32)
    assert objective == {"invariant": "invariant", "invariant_latent": "latent", "invariant_output": "output"}[variant]
    train = SAETrainConfig(epochs=3, batch_size=32, lr=1e-3, seed=0, invariance_lambda=1.0)
    sae, history = train_sae(orbits, cfg, objective, train)
    assert all(np.isfinite(r.loss) for r in history) and history[-1].loss < history[0].loss
    with pytest.raises(ValueError, match="invariance_lambda must be >= 0"):
        SAETrainConfig(invariance_lambda=-1.0)
