"""eqsae: equivariant sparse autoencoders (Erdogan & Lucic), as a small reusable library.

Names are loaded on first use, so `import eqsae.validate` (what the Snakefile does) stays free of torch.
"""

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    "SHAPES": "shapes", "ShapeSet": "shapes", "generate": "shapes", "read_labels": "shapes",
    "orbit_sizes": "shapes", "rotate_labels": "shapes", "transform_labels": "shapes",
    "Group": "group", "C4": "group", "D4": "group", "GROUPS": "group", "get_group": "group",
    "ORDER": "group", "rotate": "group", "orbit": "group",
    "BaseAutoencoder": "autoencoders", "train_autoencoder": "autoencoders",
    "orbit_activations": "autoencoders", "load_autoencoder": "autoencoders",
    "fit_m": "transform", "orbit_loss": "transform", "result1_table": "transform",
    "fit_generators": "transform", "element_matrices": "transform",
    "ArchetypalSAE": "archetypal", "kmeans_anchors": "archetypal", "build_sae": "sae",
    "TopKSAE": "sae", "SAEConfig": "sae", "variant_config": "sae", "load_sae": "sae", "save_sae": "sae",
    "Latents": "sae", "export_saelens": "saelens",
    "SAETrainConfig": "train", "train_sae": "train", "DictionaryAdam": "optim",
    "r2_pooled": "metrics", "r2_flat": "metrics", "r2_uniform": "metrics",
    "BaseTrainConfig": "config", "MFitConfig": "config", "validate_config": "validate", "ConfigError": "validate",
    "read_activations": "io", "write_activations": "io", "read_shapeset": "io", "write_shapeset": "io",
}  # fmt: skip
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"eqsae.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'eqsae' has no attribute {name!r}")
