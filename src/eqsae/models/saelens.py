"""Our linear-encoder TopK SAEs in SAELens' on-disk layout, so SAELens (`SAE.load_from_disk`) and the tools that read
it can use them.

The layout, as sae-lens 6.54.12 writes and reads it (`SAE.save_model`, `SAE.load_from_disk`, `TopKSAE`): a folder
with `sae_weights.safetensors` holding W_enc (d_in, d_sae), b_enc (d_sae,), W_dec (d_sae, d_in), b_dec (d_in,),
and `cfg.json` with d_in, d_sae, dtype, device, apply_b_dec_to_input, normalize_activations, reshape_activations,
architecture "topk", k, rescale_acts_by_decoder_norm and a free-form `metadata`. Its forward:
z = scatter(ReLU(TopK_k(pre))) with pre = (x - b_dec if apply_b_dec_to_input else x) @ W_enc + b_enc, then
x_hat = z @ W_dec + b_dec. That is ours exactly for a linear encoder with `topk_activation="relu"`; under our
`pre_bias` (the standard practice) b_D is subtracted before the encoder as apply_b_dec_to_input does.

Not expressible, so refused: a two-layer encoder (ReLU(W_1 x + b_1) before W_E is no single affine map W_enc), and
by default the signed TopK (see `export_saelens`). An archetypal dictionary with a linear encoder exports its atoms
W C + Lambda as a plain W_dec: the same outputs, no longer tied to the anchors.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from eqsae.models.registry import load_sae
from eqsae.models.sae import TopKSAE

WEIGHTS = "sae_weights.safetensors"
CONFIG = "cfg.json"
FORMAT_VERSION = "6.0.0"
"""Written as metadata.sae_lens_version: SAELens reads a cfg.json without one as a pre-6.0 file, which renames
keys and keeps only its own metadata fields."""
SIGNED_NOTE = (
    "trained with signed TopK: the K largest pre-activations kept as they are, a negative one included. SAELens' "
    "TopK applies a ReLU to the K kept values, so on a row whose K-th largest pre-activation is negative those "
    "latents read 0 instead of their negative value and the reconstruction lacks their terms; rows whose K kept "
    "pre-activations are all >= 0 give identical latents and reconstructions."
)


def export_saelens(sae: TopKSAE | str | Path, out: str | Path, *, allow_signed: bool = False, **metadata) -> Path:
    """Write the SAE (a TopKSAE, or the folder `save_sae` wrote) to the folder `out` in SAELens' layout; returns
    `out`. `metadata` joins cfg.json's metadata (SAELens reads e.g. `model_name`, `hook_name`, `hook_head_index`,
    `prepend_bos`, `context_size` from there).

    Only SAEs with a linear encoder (the regular and wide variants, or your own linear config) export: a two-layer
    encoder is a ValueError saying why. A signed-TopK SAE (`topk_activation="signed"`, the paper's and our
    default) is refused unless `allow_signed=True`, since SAELens would rectify its kept latents: its outputs
    then differ exactly as cfg.json's `metadata.eqsae_topk_note` says (a negative kept latent becomes 0, so its
    term drops from the reconstruction; every other row is unchanged). A `relu` SAE exports exactly."""
    sae = sae if isinstance(sae, TopKSAE) else load_sae(sae)
    tensors = saelens_tensors(sae, allow_signed)
    from eqsae.io import write_json
    from eqsae.models.weights import write_tensors

    out = Path(out)
    write_tensors(out / WEIGHTS, tensors)
    write_json(out / CONFIG, saelens_config(sae, metadata))
    return out


def saelens_tensors(sae: TopKSAE, allow_signed: bool = False) -> dict[str, torch.Tensor]:
    """W_enc (d_in, d_sae), b_enc (d_sae,), W_dec (d_sae, d_in), b_dec (d_in,): SAELens' names and orientation."""
    refuse_unexportable(sae, allow_signed)
    with torch.no_grad():
        tensors = {"W_enc": sae.encoder.weight.T, "b_enc": sae.encoder.bias, "W_dec": sae.dictionary_rows(),
                   "b_dec": sae.b_dec}  # fmt: skip
        return {name: t.detach().clone() for name, t in tensors.items()}


def refuse_unexportable(sae: TopKSAE, allow_signed: bool = False) -> None:
    """A ValueError saying why when SAELens' TopK SAE cannot compute what `sae` computes."""
    cfg = sae.cfg
    if cfg.encoder != "linear":
        raise ValueError(f"this SAE has a {cfg.encoder} encoder (h = ReLU(W_1 x + b_1), then W_E h + b_E): SAELens' "
                         "TopK SAE encodes with one affine map, (x - b_dec) @ W_enc + b_enc, and no W_enc expresses "
                         "the hidden ReLU layer. Only linear-encoder SAEs (the regular and wide variants) export to "
                         "SAELens; use eqsae.save_sae / load_sae for this one")  # fmt: skip
    if cfg.topk_activation == "signed" and not allow_signed:
        raise ValueError("this SAE keeps signed TopK values (topk_activation='signed'), and SAELens' TopK applies a "
                         f"ReLU after the TopK: exported, it would differ. It was {SIGNED_NOTE} Pass "
                         "allow_signed=True to export it anyway (cfg.json's metadata then says so), or train with "
                         "sae.topk_activation: relu for an exact export")  # fmt: skip


def saelens_config(sae: TopKSAE, metadata: dict | None = None) -> dict:
    """SAELens' cfg.json for the exported SAE: its TopK fields, with our SAEConfig and the signed-TopK note (if any)
    in `metadata`."""
    cfg = sae.cfg
    ours = {"eqsae_version": _version(), "eqsae_sae": asdict(cfg), "eqsae_topk_activation": cfg.topk_activation}
    if cfg.topk_activation == "signed":
        ours["eqsae_topk_note"] = SIGNED_NOTE
    return {
        "d_in": cfg.d_in,
        "d_sae": cfg.d_latent,
        "dtype": str(sae.b_dec.dtype).removeprefix("torch."),
        "device": "cpu",
        "apply_b_dec_to_input": cfg.pre_bias,
        "normalize_activations": "none",
        "reshape_activations": "none",
        "architecture": "topk",
        "k": cfg.k,
        "rescale_acts_by_decoder_norm": False,
        "metadata": {"sae_lens_version": FORMAT_VERSION, "sae_lens_training_version": None, **ours, **(metadata or {})},
    }


def _version() -> str:
    from eqsae import __version__

    return __version__
