"""export_saelens writes what SAELens reads, and SAELens' forward on it computes our SAE.

SAELens itself is not installed (it pulls in transformer_lens, transformers, datasets, plotly, nltk), so
`saelens_forward` below reads the export as sae-lens 6.54.12 does: `SAE.load_from_disk` (cfg.json, then
`sae_weights.safetensors` through safetensors' safe_open, cast to cfg["dtype"]) and `TopKSAE.encode` / `decode`:
sae_in = x - b_dec * apply_b_dec_to_input; pre = sae_in @ W_enc + b_enc (rescale_acts_by_decoder_norm false);
z = zeros with the top k of pre scattered in after a ReLU; x_hat = z @ W_dec + b_dec (normalize_activations and
reshape_activations "none": identities)."""

import json

import pytest
import torch
from safetensors import safe_open

from eqsae import export_saelens
from eqsae.models.registry import build_sae, save_sae
from eqsae.models.sae import SAEConfig

TOPK_FIELDS = {"d_in", "d_sae", "dtype", "device", "apply_b_dec_to_input", "normalize_activations",
               "reshape_activations", "metadata", "architecture", "k", "rescale_acts_by_decoder_norm"}  # fmt: skip
"""The fields of sae-lens 6.54.12's TopKSAEConfig (SAEConfig's plus k and rescale_acts_by_decoder_norm)."""
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def saelens_forward(folder, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(z (batch, d_sae), x_hat (batch, d_in)) as SAELens computes them from the exported folder."""
    cfg = json.loads((folder / "cfg.json").read_text())
    assert cfg["architecture"] == "topk" and not cfg["rescale_acts_by_decoder_norm"]
    assert cfg["normalize_activations"] == "none" and cfg["reshape_activations"] == "none"
    with safe_open(folder / "sae_weights.safetensors", framework="pt") as f:
        w = {name: f.get_tensor(name).to(DTYPES[cfg["dtype"]]) for name in f.keys()}  # noqa: SIM118
    assert set(w) == {"W_enc", "b_enc", "W_dec", "b_dec"}
    pre = (x - w["b_dec"] * cfg["apply_b_dec_to_input"]) @ w["W_enc"] + w["b_enc"]
    values, indices = pre.topk(cfg["k"], dim=-1, sorted=False)
    z = torch.zeros_like(pre).scatter_(-1, indices, values.relu())
    return z, z @ w["W_dec"] + w["b_dec"]


def trained_like(practice: str = "paper", **overrides):
    """A linear SAE with random weights (k=4, 64 latents on 16 dims), b_D non-zero."""
    torch.manual_seed(0)
    sae = build_sae(SAEConfig(k=4, d_in=16, d_latent=64, pre_bias=practice == "standard", **overrides))
    with torch.no_grad():
        sae.b_dec.normal_()
        sae.encoder.bias.normal_(0, 0.3)
    return sae.eval()


@pytest.mark.parametrize("practice", ["paper", "standard"])
def test_a_relu_sae_exports_exactly(tmp_path, practice):
    sae = trained_like(practice, topk_activation="relu")
    save_sae(sae, tmp_path / "ours")
    out = export_saelens(tmp_path / "ours", tmp_path / "saelens", hook_name="blocks.0.hook_resid_post")
    cfg = json.loads((out / "cfg.json").read_text())
    assert set(cfg) == TOPK_FIELDS and sorted(p.name for p in out.iterdir()) == ["cfg.json", "sae_weights.safetensors"]
    assert (cfg["d_in"], cfg["d_sae"], cfg["k"], cfg["dtype"]) == (16, 64, 4, "float32")
    assert cfg["apply_b_dec_to_input"] == (practice == "standard")
    assert cfg["metadata"]["hook_name"] == "blocks.0.hook_resid_post" and cfg["metadata"]["sae_lens_version"] >= "6"
    with safe_open(out / "sae_weights.safetensors", framework="pt") as f:
        assert {n: tuple(f.get_slice(n).get_shape()) for n in f.keys()} == {  # noqa: SIM118
            "W_enc": (16, 64), "b_enc": (64,), "W_dec": (64, 16), "b_dec": (16,)}  # fmt: skip
    x = torch.randn(500, 16) * 2
    z, x_hat = saelens_forward(out, x)
    with torch.no_grad():
        torch.testing.assert_close(z, sae.encode(x), rtol=0, atol=1e-6)
        torch.testing.assert_close(x_hat, sae.decode(sae.encode(x)), rtol=0, atol=1e-6)


def test_a_signed_sae_is_refused_unless_allowed_and_then_differs_only_where_a_kept_value_is_negative(tmp_path):
    sae = trained_like()  # topk_activation="signed", the default
    with pytest.raises(ValueError, match=r"signed TopK values .* allow_signed=True"):
        export_saelens(sae, tmp_path / "refused")
    assert not (tmp_path / "refused").exists()
    out = export_saelens(sae, tmp_path / "saelens", allow_signed=True)
    metadata = json.loads((out / "cfg.json").read_text())["metadata"]
    assert metadata["eqsae_topk_activation"] == "signed" and "ReLU" in metadata["eqsae_topk_note"]
    with torch.no_grad():
        sae.encoder.bias.sub_(1.0)  # many rows now keep a negative pre-activation
        export_saelens(sae, out, allow_signed=True)
        x = torch.randn(500, 16)
        ours = sae.encode(x, sparse=True)
        z, x_hat = saelens_forward(out, x)
    negative = (ours.values < 0).any(-1)
    assert 0 < negative.sum() < len(x)
    torch.testing.assert_close(z, sae.dense(ours).clamp_min(0), rtol=0, atol=1e-6)  # exactly the ReLU of ours
    with torch.no_grad():
        torch.testing.assert_close(x_hat[~negative], sae.decode(ours)[~negative], rtol=0, atol=1e-5)


def test_an_archetypal_dictionary_with_a_linear_encoder_exports_its_atoms(tmp_path):
    torch.manual_seed(0)
    cfg = SAEConfig(k=4, d_in=16, d_latent=64, dictionary="archetypal", n_anchors=12, relax_delta=0.5,
                    topk_activation="relu")  # fmt: skip
    sae = build_sae(cfg, torch.randn(12, 16)).eval()
    out, x = export_saelens(sae, tmp_path / "saelens"), torch.randn(100, 16)
    with torch.no_grad():
        torch.testing.assert_close(saelens_forward(out, x)[1], sae(x)[0], rtol=0, atol=1e-5)


@pytest.mark.parametrize("variant", ["twolayer", "archetypal"])
def test_a_two_layer_encoder_is_refused_with_the_reason(tmp_path, variant):
    from eqsae.models.registry import variant_config

    cfg, _ = variant_config(variant, 4, d_in=16, d_hidden=8, **({"n_anchors": 4} if variant == "archetypal" else {}))
    sae = build_sae(cfg, torch.randn(4, 16) if variant == "archetypal" else None)
    with pytest.raises(ValueError, match=r"twolayer encoder .* no W_enc expresses the hidden ReLU layer"):
        export_saelens(sae, tmp_path / "saelens", allow_signed=True)
