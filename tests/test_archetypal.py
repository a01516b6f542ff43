import math

import numpy as np
import pytest
import torch

from eqsae.models.archetypal import ArchetypalSAE, kmeans_anchors
from eqsae.models.registry import build_sae, load_sae, save_sae
from eqsae.models.sae import PRACTICES, SAEConfig, TopKSAE
from eqsae.training.train import SAETrainConfig, step_losses, train_sae


def build_cfg(**overrides) -> SAEConfig:
    cfg = dict(k=4, d_in=16, d_latent=64, encoder="twolayer", d_hidden=32, dictionary="archetypal", n_anchors=24,
               relax_delta=0.5) | overrides  # fmt: skip
    return SAEConfig(**cfg)


def build_archetypal(**overrides) -> ArchetypalSAE:
    cfg = build_cfg(**overrides)
    return build_sae(cfg, torch.randn(cfg.n_anchors, cfg.d_in) * 3)


def assert_within_delta_of_the_hull(sae: ArchetypalSAE) -> None:
    """W row-stochastic and every atom within delta of W C: within delta of the anchors' convex hull."""
    w, _ = sae.constrained()
    assert (w >= 0).all()
    torch.testing.assert_close(w.sum(-1), torch.ones(sae.cfg.d_latent))
    distance = (sae.dictionary_rows() - w @ sae.anchors).norm(dim=-1)
    assert (distance <= sae.cfg.relax_delta + 1e-6).all()


@pytest.mark.parametrize("n_anchors", [24, 100], ids=["fewer-anchors-than-latents", "more"])
@pytest.mark.parametrize("delta", [0.0, 0.5])
def test_atoms_stay_within_delta_of_the_anchors_hull_through_training(n_anchors, delta):
    sae = build_archetypal(n_anchors=n_anchors, relax_delta=delta)
    assert_within_delta_of_the_hull(sae)
    start = sae.dictionary_rows().detach().clone()
    # the original's start: latent i is anchor i (mod n_anchors here), no relaxation
    torch.testing.assert_close(start, sae.anchors[torch.arange(64) % n_anchors])
    opt, left = torch.optim.Adam(sae.parameters(), lr=0.5), False  # large steps: W < 0, ||Lambda_i|| > delta
    for _ in range(5):
        loss, aux, _ = step_losses(sae, torch.randn(32, 16), torch.randn(32, 16) * 5, dead=torch.rand(64) < 0.5,
                                   k_aux=8, auxk_alpha=0.5)  # fmt: skip
        opt.zero_grad()
        (loss + aux).backward()  # AuxK reads the dictionary a second time in the same graph
        opt.step()
        left |= bool((sae.W < 0).any())  # the raw step left the constraint set, so the projection has work
        assert_within_delta_of_the_hull(sae)
    assert left and not torch.allclose(sae.dictionary_rows(), start)
    assert_within_delta_of_the_hull(sae.eval())
    if delta > 0:  # the relaxation was used up to its bound
        assert sae.constrained()[1].norm(dim=-1).max().item() == pytest.approx(delta, rel=1e-5)


def test_training_forward_projects_the_parameters_in_place_as_the_original():
    sae = build_archetypal()
    with torch.no_grad():
        sae.W.normal_()
        sae.Lambda.normal_()
    expected = sae.eval().dictionary_rows()  # out of training: a projected copy, parameters untouched
    assert (sae.W < 0).any()
    torch.testing.assert_close(sae.train().dictionary_rows(), expected)
    assert (sae.W >= 0).all() and (sae.Lambda.norm(dim=-1) <= 0.5 + 1e-6).all()


def test_decoding_is_the_dense_product_with_the_dictionary_rows():
    sae = build_archetypal().eval()
    x = torch.randn(10, 16)
    latents = sae.encode(x, sparse=True)
    manual = sae.dense(latents) @ sae.dictionary_rows() + sae.b_dec
    torch.testing.assert_close(sae(x, fast=True)[0], manual)
    torch.testing.assert_close(sae(x, fast=False)[0], manual)
    sae.normalize_decoder()  # a no-op: atoms are not on the unit sphere
    torch.testing.assert_close(sae(x)[0], manual)
    assert not hasattr(sae, "W_dec")


def test_save_then_load_restores_anchors_and_outputs_exactly(tmp_path):
    sae = build_archetypal(encoder="linear", **PRACTICES["standard"])
    with torch.no_grad():
        for p in sae.parameters():
            p.uniform_(-1, 1)  # so that zeros cannot pass, W's negative entries included
    save_sae(sae, tmp_path / "sae", objective="augmented")
    loaded = load_sae(tmp_path / "sae")
    assert isinstance(loaded, ArchetypalSAE) and loaded.cfg == sae.cfg
    torch.testing.assert_close(loaded.anchors, sae.anchors, rtol=0, atol=0)
    x = torch.randn(10, 16)
    torch.testing.assert_close(loaded(x)[0], sae.eval()(x)[0], rtol=0, atol=0)
    torch.testing.assert_close(loaded.dictionary_rows(), sae.dictionary_rows(), rtol=0, atol=0)


def test_the_free_dictionary_is_unchanged():
    cfg = SAEConfig(k=4, d_in=16, d_latent=64)
    assert (cfg.dictionary, cfg.n_anchors, cfg.relax_delta) == ("free", 0, 0.0)
    sae = build_sae(cfg)
    assert type(sae) is TopKSAE and sae.dictionary_rows() is sae.W_dec


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (dict(n_anchors=0), "n_anchors >= 1"),
        (dict(relax_delta=-0.1), "relax_delta >= 0"),
        (dict(relax_delta=math.nan), "relax_delta >= 0"),
        (dict(dictionary="free"), "free dictionary has no anchors"),
        (dict(dictionary="free", n_anchors=0), "free dictionary has no anchors"),  # relax_delta=0.5 left
        (dict(dictionary="convex"), "'free' or 'archetypal'"),
    ],
    ids=["no-anchors", "negative-delta", "nan-delta", "free-with-anchors", "free-with-delta", "unknown"],
)
def test_config_rejects_inconsistent_dictionaries(overrides, message):
    with pytest.raises(ValueError, match=message):
        build_cfg(**overrides)


@pytest.mark.parametrize(
    ("cfg", "anchors", "message"),
    [
        (build_cfg(), None, "needs anchors"),
        (SAEConfig(k=4, d_in=16, d_latent=64), torch.zeros(24, 16), "anchors given for a free dictionary"),
        (build_cfg(), torch.zeros(23, 16), r"\(n_anchors, d_in\) = \(24, 16\), got \(23, 16\)"),
        (build_cfg(), torch.zeros(24, 15), r"got \(24, 15\)"),
    ],
    ids=["archetypal-without-anchors", "free-with-anchors", "too-few-anchors", "wrong-width"],
)
def test_build_sae_rejects_bad_combinations(cfg, anchors, message):
    with pytest.raises(ValueError, match=message):
        build_sae(cfg, anchors)


def planted(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Five well-separated centres in 8-d and 200 noisy rows around each."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(5, 8)) * 10
    acts = centres.repeat(200, 0) + rng.normal(size=(1000, 8)) * 0.1
    return centres, acts[rng.permutation(1000)].astype(np.float32)


def test_kmeans_anchors_finds_planted_centres_deterministically():
    centres, acts = planted()
    anchors = kmeans_anchors(acts, 5, seed=3)
    assert anchors.dtype == np.float32 and anchors.shape == (5, 8)
    np.testing.assert_array_equal(anchors, kmeans_anchors(acts, 5, seed=3))
    distance = np.linalg.norm(centres[:, None] - anchors[None], axis=-1)
    assert distance.min(1).max() < 0.05  # every centre found, each by one anchor (noise/sqrt(200) ~ 0.007)
    assert sorted(distance.argmin(1)) == list(range(5))


@pytest.mark.parametrize("n_anchors", [0, 1001])
def test_kmeans_anchors_rejects_more_anchors_than_rows(n_anchors):
    with pytest.raises(ValueError, match=r"n_anchors must be in 1\.\.1000"):
        kmeans_anchors(planted()[1], n_anchors, seed=0)


def test_train_sae_trains_an_archetypal_sae():
    orbits = np.random.default_rng(0).normal(size=(128, 4, 16)).astype(np.float32)
    cfg = build_cfg(n_anchors=32, relax_delta=0.1)
    anchors = kmeans_anchors(orbits.reshape(-1, 16), 32, seed=0)
    train = SAETrainConfig(epochs=2, batch_size=32, auxk_alpha=1 / 32, k_aux=8)
    sae, history = train_sae(orbits, cfg, "augmented", train, anchors=anchors)  # fast=True is overridden
    assert isinstance(sae, ArchetypalSAE) and not sae.training
    losses = [record.loss for record in history]
    assert all(math.isfinite(loss) for loss in losses) and losses[-1] <= losses[0] * 1.05
    np.testing.assert_array_equal(sae.anchors.numpy(), anchors)
    assert_within_delta_of_the_hull(sae)


def test_decoding_the_used_atoms_only_gives_the_dense_products_gradients():
    sae = build_archetypal().double()
    with torch.no_grad():
        sae.Lambda.normal_(0, 0.1)
    latents = sae.encode(torch.randn(16, 16, dtype=torch.float64), sparse=True)
    grads = []
    for decode in (sae.decode, lambda lat: sae.dense(lat) @ sae.dictionary_rows() + sae.b_dec):
        sae.zero_grad()
        out = decode(latents)
        out.square().sum().backward(retain_graph=True)
        grads.append((out.detach(), sae.W.grad.clone(), sae.Lambda.grad.clone()))
    for sparse, dense in zip(*grads):
        torch.testing.assert_close(sparse, dense)
