import json

import numpy as np
import pytest
import torch
from test_io import LOADING, unreadable

from eqsae.io import NonFiniteError, UnreadableFileError
from eqsae.models.registry import load_sae, save_sae, variant_config
from eqsae.models.sae import PRACTICES, SAEConfig, TopKSAE
from eqsae.training.train import SAETrainConfig, init_from_data, sae_loss, step_losses, train_sae

ENCODERS = ["linear", "twolayer"]
STANDARD = PRACTICES["standard"]


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
@pytest.mark.parametrize("practice", sorted(PRACTICES))
@pytest.mark.parametrize("n_dead", [0, 5, 100])  # no AuxK; fewer dead than k_aux; more
def test_fast_path_equals_plain_path_in_outputs_and_gradients(encoder, practice, n_dead):
    torch.manual_seed(0)
    sae = build_sae(encoder=encoder, d_latent=128, k=8, **PRACTICES[practice]).double()
    with torch.no_grad():
        sae.b_dec.normal_()  # so that pre_bias and AuxK's bias-free decoding matter
    x, target = torch.randn(32, 16, dtype=torch.float64), torch.randn(32, 16, dtype=torch.float64)
    dead = torch.zeros(128, dtype=torch.bool).index_fill_(0, torch.randperm(128)[:n_dead], True)
    results = {}
    for fast in (True, False):
        sae.zero_grad()
        loss, aux, latents = step_losses(sae, x, target, fast, dead, k_aux=16, auxk_alpha=0.5)
        assert (aux is None) == (n_dead == 0)
        (loss if aux is None else loss + aux).backward()
        losses = torch.stack([loss, loss if aux is None else aux]).detach()
        results[fast] = losses, latents, {n: p.grad.to_dense() for n, p in sae.named_parameters()}  # fast: sparse rows
    (fast_loss, fast_lat, fast_grads), (plain_loss, plain_lat, plain_grads) = results[True], results[False]
    torch.testing.assert_close(fast_loss, plain_loss)
    torch.testing.assert_close(fast_lat, plain_lat)
    torch.testing.assert_close(sae(x, True)[0], sae(x, False)[0])
    for name in plain_grads:
        torch.testing.assert_close(fast_grads[name], plain_grads[name], msg=name)


@pytest.mark.parametrize("practice", sorted(PRACTICES))
def test_fast_path_sends_sparse_row_gradients_with_one_unique_per_step(practice, monkeypatch):
    # AuxK's dense gradient would make DictionaryAdam update every latent; torch.unique once: the encoder's and the
    # decoder's backward share the used rows.
    sae, calls = build_sae(**PRACTICES[practice]), []
    unique = torch.unique
    monkeypatch.setattr(torch, "unique", lambda *a, **kw: calls.append(1) or unique(*a, **kw))
    dead = torch.zeros(64, dtype=torch.bool).index_fill_(0, torch.arange(0, 64, 3), True)
    loss, aux, latents = step_losses(sae, torch.randn(8, 16), torch.randn(8, 16), True, dead, 16, 0.5)
    (loss + aux).backward()
    assert len(calls) == 1
    may = set(latents.indices.reshape(-1).tolist()) | set(dead.nonzero().reshape(-1).tolist())
    for table in sae.latent_tables():
        assert table.grad.is_sparse and set(table.grad.coalesce().indices()[0].tolist()) <= may


def test_auxk_trains_the_largest_dead_latents_on_the_residual():
    torch.manual_seed(0)
    sae = build_sae(d_latent=64, k=4).double()
    x = torch.randn(32, 16, dtype=torch.float64)
    live = sae.encode(x, sparse=True).indices.unique()
    dead = torch.ones(64, dtype=torch.bool).index_fill_(0, live, False)
    _, aux, _ = step_losses(sae, x, x, fast=False, dead=dead, k_aux=3, auxk_alpha=1.0)
    aux.backward()
    trained = sae.encoder.weight.grad.abs().sum(-1) > 0
    assert not trained[live].any()  # the residual is detached: the live latents learn nothing from AuxK
    chosen = sae.topk(sae.encoder_input(x), fast=False, among=dead, k=3)
    assert trained.nonzero().squeeze(1).tolist() == chosen.indices.unique().tolist()  # each row's top 3 dead
    assert len(chosen.indices.unique()) > 3
    with torch.no_grad():
        sae.b_dec.normal_()
        residual = x - sae(x, fast=False)[0]
        _, aux, _ = step_losses(sae, x, x, fast=False, dead=dead, k_aux=3, auxk_alpha=0.25)
    torch.testing.assert_close(aux, 0.25 * sae_loss(sae.dense(chosen) @ sae.W_dec, residual))  # no b_D


def test_auxk_counts_a_latent_dead_after_one_epoch_of_rows_without_firing(monkeypatch):
    import eqsae.training.train

    calls = []

    def recording(sae, x, target, fast, dead, k_aux, auxk_alpha):
        out = step_losses(sae, x, target, fast, dead, k_aux, auxk_alpha)
        calls.append((len(x), dead.clone(), out[2].indices))
        return out

    monkeypatch.setattr(eqsae.training.train, "step_losses", recording)
    orbits = np.random.default_rng(0).normal(size=(40, 4, 16)).astype(np.float32)
    cfg = SAEConfig(k=2, d_in=16, d_latent=64)
    train_sae(orbits, cfg, "augmented", SAETrainConfig(epochs=4, batch_size=16, auxk_alpha=0.1))
    since = torch.zeros(64)
    for rows, dead, indices in calls:
        assert dead.tolist() == (since >= 40).tolist()
        since += rows
        since[indices.reshape(-1)] = 0
    assert not calls[2][1].any() and calls[-1][1].any()  # none dead in the first epoch, some later


@pytest.mark.parametrize("objective", ["augmented", "invariant"])
def test_decoder_rows_stay_unit_norm_through_training(objective):
    orbits = np.random.default_rng(0).normal(size=(128, 4, 16)).astype(np.float32)
    sae, history = train_sae(orbits, SAEConfig(k=4, d_in=16, d_latent=64), objective, SAETrainConfig(epochs=3))
    torch.testing.assert_close(sae.W_dec.norm(dim=-1), torch.ones(64))
    assert history[-1].loss < history[0].loss


@pytest.mark.parametrize("practice", sorted(PRACTICES))
def test_fast_and_plain_training_reach_the_same_loss(practice):
    orbits = np.random.default_rng(1).normal(size=(256, 4, 16)).astype(np.float32)
    auxk = 1 / 32 if practice == "standard" else 0.0
    cfg = SAEConfig(k=4, d_in=16, d_latent=64, **PRACTICES[practice])
    train = SAETrainConfig(epochs=3, seed=2, auxk_alpha=auxk, k_aux=8)
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


def test_cfg_json_without_practice_keys_loads_as_the_paper_practice(tmp_path):
    sae = build_sae()
    save_sae(sae, tmp_path / "sae")
    cfg_file = tmp_path / "sae" / "cfg.json"
    saved = json.loads(cfg_file.read_text())
    assert saved["sae"]["pre_bias"] is False and saved["sae"]["tied_init"] is False
    for key in PRACTICES["paper"]:
        del saved["sae"][key]  # as written before the standard practice existed
    cfg_file.write_text(json.dumps(saved))
    loaded = load_sae(tmp_path / "sae")
    assert loaded.cfg == sae.cfg and not loaded.cfg.pre_bias and not loaded.cfg.tied_init


def test_tied_init_starts_the_linear_encoder_as_the_decoder_transpose():
    sae = build_sae(tied_init=True)
    torch.testing.assert_close(sae.encoder.weight, sae.W_dec)  # W_dec holds W_D^T: one row per latent
    torch.testing.assert_close(sae.W_dec.norm(dim=-1), torch.ones(64))
    assert (sae.encoder.bias == 0).all()
    assert not torch.allclose(build_sae().encoder.weight, build_sae().W_dec)
    assert build_sae(tied_init=True, encoder="twolayer").encoder.weight.shape == (64, 32)  # no-op there


@pytest.mark.parametrize("objective", ["augmented", "invariant"])
def test_pre_bias_starts_b_dec_at_the_mean_of_all_rotated_inputs(objective):
    rng = np.random.default_rng(0)
    orbits = (rng.normal(size=(64, 4, 16)) + rng.normal(size=(1, 4, 16)) * 5).astype(np.float32)
    mean = torch.as_tensor(orbits.reshape(-1, 16).mean(0))
    paper, standard = build_sae(), build_sae(**STANDARD)
    for sae in (paper, standard):
        init_from_data(sae, torch.as_tensor(orbits))
    assert (paper.b_dec == 0).all()
    torch.testing.assert_close(standard.b_dec.detach(), mean)
    cfg = SAEConfig(k=4, d_in=16, d_latent=64, **STANDARD)
    sae, _ = train_sae(orbits, cfg, objective, SAETrainConfig(epochs=1, lr=1e-12))  # one epoch barely moves it
    torch.testing.assert_close(sae.b_dec.detach(), mean)
    x = torch.as_tensor(orbits[:8, 1])
    torch.testing.assert_close(sae.encoder_input(x), x - mean)


def synthetic_orbits(n: int, seed: int, d: int = 32, offset: float = 3.0) -> np.ndarray:
    """Sparse sums of 3 of 16 features, each with 4 orientations that a rotation cycles, plus a shared mean
    offset (as ReLU networks' pre-activations have) and a little noise."""
    rng, atoms = np.random.default_rng(seed), np.random.default_rng(0).normal(size=(16, 4, d)) / np.sqrt(d)
    feats, turns = rng.choice(16, size=(n, 3)), rng.integers(4, size=(n, 3, 1))
    coefs = rng.uniform(0.5, 2.0, size=(n, 3, 1, 1))
    acts = (coefs * atoms[feats[..., None], (turns + np.arange(4)) % 4]).sum(1)  # (n, 4, d)
    mean = np.random.default_rng(1).normal(size=d) * offset / np.sqrt(d)
    return (acts + mean + 0.01 * rng.normal(size=acts.shape)).astype(np.float32)


@pytest.mark.slow
def test_standard_practice_leaves_fewer_dead_latents_than_the_paper():
    train_rows, held_out = synthetic_orbits(300, seed=2), synthetic_orbits(200, seed=3)
    dead = {}
    for practice, auxk in (("paper", 0.0), ("standard", 1 / 32)):
        cfg = SAEConfig(k=4, d_in=32, d_latent=256, **PRACTICES[practice])
        sae, _ = train_sae(train_rows, cfg, "augmented", SAETrainConfig(epochs=30, auxk_alpha=auxk, k_aux=64))
        with torch.no_grad():
            fired = sae.encode(torch.as_tensor(held_out).reshape(-1, 32), sparse=True).indices.unique()
        dead[practice] = 1 - len(fired) / 256
    assert dead["paper"] > 0.5 and dead["standard"] < 0.25, dead  # measured: 0.75 and 0.004


def test_variants_are_configurations_of_one_model():
    assert variant_config("regular", 16) == (SAEConfig(k=16, d_latent=2048, encoder="linear"), "augmented")
    assert variant_config("wide", 8)[0].d_latent == 4 * 2048
    assert variant_config("twolayer", 32)[0].encoder == "twolayer"
    assert variant_config("invariant", 16) == (SAEConfig(k=16, encoder="twolayer"), "invariant")
    with pytest.raises(ValueError, match="'equivariant'"):
        variant_config("equivariant", 16)  # it trains nothing: the invariant SAE plus M
    with pytest.raises(ValueError, match="k must be"):
        SAEConfig(k=0)
    cfg, objective = variant_config("twolayer", 16, d_in=32, practice="standard")
    assert (cfg, objective) == (SAEConfig(k=16, d_in=32, encoder="twolayer", **STANDARD), "augmented")
    assert variant_config("regular", 16) == variant_config("regular", 16, 256, "paper")
    with pytest.raises(ValueError, match="'sparsify'.*'paper', 'standard'"):
        variant_config("regular", 16, practice="sparsify")
    for bad in (dict(auxk_alpha=-0.1), dict(k_aux=0)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            SAETrainConfig(**bad)


def test_damaged_saved_sae_names_the_file(tmp_path):
    save_sae(build_sae(), tmp_path / "sae")
    cfg_file, weights = tmp_path / "sae" / "cfg.json", tmp_path / "sae" / "sae.safetensors"
    good = weights.read_bytes()
    weights.write_bytes(b"not a safetensors file")
    with pytest.raises(UnreadableFileError, match=unreadable(weights)):
        load_sae(tmp_path / "sae")
    weights.write_bytes(good)
    saved = json.loads(cfg_file.read_text())
    cfg_file.write_text(json.dumps({**saved, "sae": {**saved["sae"], "d_latent": 32}}))  # wrong shapes
    with pytest.raises(UnreadableFileError, match=unreadable(weights, LOADING)):
        load_sae(tmp_path / "sae")
    cfg_file.write_text(json.dumps({**saved, "sae": {**saved["sae"], "d_latnet": 32}}))  # a misspelt key
    with pytest.raises(UnreadableFileError, match=unreadable(cfg_file, r"TypeError: .*d_latnet")):
        load_sae(tmp_path / "sae")
    cfg_file.write_text(json.dumps({"sea": saved["sae"]}))
    with pytest.raises(UnreadableFileError, match=unreadable(cfg_file, r"KeyError: 'sae'")):
        load_sae(tmp_path / "sae")


def test_a_diverging_sae_training_stops_with_its_settings():
    orbits = np.random.default_rng(0).normal(size=(32, 4, 8)).astype(np.float32)
    cfg, train = SAEConfig(k=2, d_in=8, d_latent=16), SAETrainConfig(epochs=3, batch_size=8, lr=1e30)
    with pytest.raises(NonFiniteError, match=r"SAE SAEConfig\(k=2, .*augmented objective: reconstruction loss "
                                             r"(nan|inf) at epoch 1/3 with SAETrainConfig\(epochs=3, "):  # fmt: skip
        train_sae(orbits, cfg, "augmented", train)


def test_a_non_finite_auxk_loss_stops_training(monkeypatch):
    import eqsae.training.train

    def inf_aux(*args, **kwargs):
        loss, _, latents = step_losses(*args, **kwargs)
        return loss, torch.tensor(float("inf")), latents  # a constant: the reconstruction still trains

    monkeypatch.setattr(eqsae.training.train, "step_losses", inf_aux)
    orbits = np.random.default_rng(0).normal(size=(32, 4, 8)).astype(np.float32)
    train = SAETrainConfig(epochs=3, batch_size=8, auxk_alpha=1 / 32, k_aux=4)
    with pytest.raises(NonFiniteError, match=r"AuxK loss inf at epoch 1/3 with SAETrainConfig\("):
        train_sae(orbits, SAEConfig(k=2, d_in=8, d_latent=16), "augmented", train)


def test_relu_topk_gives_no_negative_latent_where_signed_does():
    torch.manual_seed(0)
    x = torch.randn(200, 16)
    signed, relu = build_sae(), build_sae(topk_activation="relu")
    relu.load_state_dict(signed.state_dict())
    with torch.no_grad():
        signed.encoder.bias.fill_(-3.0), relu.encoder.bias.fill_(-3.0)  # most kept pre-activations negative
    kept, rectified = signed.encode(x, sparse=True), relu.encode(x, sparse=True)
    assert (kept.values < 0).any()
    assert (rectified.values >= 0).all() and torch.equal(rectified.indices, kept.indices)
    torch.testing.assert_close(rectified.values, kept.values.clamp_min(0))
    assert set(relu.fired(rectified).tolist()) < set(signed.fired(kept).tolist())


@pytest.mark.parametrize("encoder", ENCODERS)
def test_relu_topk_fast_path_equals_plain_path_in_gradients(encoder):
    torch.manual_seed(0)
    sae = build_sae(encoder=encoder, d_latent=128, k=8, topk_activation="relu").double()
    x = torch.randn(32, 16, dtype=torch.float64)
    grads = {}
    for fast in (True, False):
        sae.zero_grad()
        x_hat, _ = sae(x, fast)
        sae_loss(x_hat, x).backward()
        grads[fast] = {n: p.grad.to_dense() for n, p in sae.named_parameters()}
    for name in grads[False]:
        torch.testing.assert_close(grads[True][name], grads[False][name], msg=name)


def test_relu_topk_setting_survives_save_and_load(tmp_path):
    sae = build_sae(topk_activation="relu")
    save_sae(sae, tmp_path)
    assert load_sae(tmp_path).cfg.topk_activation == "relu"
    with pytest.raises(ValueError, match="topk_activation"):
        build_sae(topk_activation="abs")
