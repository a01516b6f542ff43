"""eqsae: equivariant sparse autoencoders (Erdogan & Lucic), as a small reusable library.

Names are loaded on first use, so `import eqsae.pipeline.validate` (what the Snakefile does) stays free of torch.
"""

from importlib import import_module

__version__ = "0.2.0"

_EXPORTS = {
    "SHAPES": "sources.shapes", "ShapeSet": "sources.shapes", "generate": "sources.shapes", "read_labels": "sources.shapes",
    "orbit_sizes": "sources.shapes", "rotate_labels": "sources.shapes", "transform_labels": "sources.shapes",
    "Group": "group", "C4": "group", "D4": "group", "GROUPS": "group", "get_group": "group",
    "ORDER": "group", "rotate": "group", "orbit": "group",
    "BaseAutoencoder": "models.autoencoders", "train_autoencoder": "models.autoencoders",
    "orbit_activations": "models.autoencoders", "load_autoencoder": "models.autoencoders",
    "fit_m": "fitting.transform", "orbit_loss": "fitting.transform", "result1_table": "fitting.transform",
    "fit_generators": "fitting.transform", "element_matrices": "fitting.transform",
    "ArchetypalSAE": "models.archetypal", "kmeans_anchors": "models.archetypal", "build_sae": "models.registry",
    "TopKSAE": "models.sae", "SAEConfig": "models.sae", "EquivariantSAE": "models.registry",
    "variant_config": "models.registry", "load_sae": "models.registry",
    "save_sae": "models.registry",
    "Latents": "models.sae", "export_saelens": "models.saelens",
    "SAETrainConfig": "training.train", "train_sae": "training.train", "DictionaryAdam": "training.optim",
    "r2_pooled": "fitting.metrics", "r2_flat": "fitting.metrics", "r2_uniform": "fitting.metrics",
    "BaseTrainConfig": "pipeline.config", "MFitConfig": "pipeline.config", "validate_config": "pipeline.validate", "ConfigError": "pipeline.validate",
    "read_activations": "sources.shapes", "write_activations": "sources.shapes", "read_shapeset": "sources.shapes",
    "write_shapeset": "sources.shapes",
}  # fmt: skip
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"eqsae.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'eqsae' has no attribute {name!r}")
