"""Settings of each stage (frozen dataclasses) and validation of the workflow config against its schema."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

BaseModel = Literal["mlp", "cnn"]
Device = Literal["auto", "cpu", "cuda"]


@dataclass(frozen=True)
class BaseTrainConfig:
    """Training of a base autoencoder (paper Appendix C.2)."""

    model: BaseModel
    """Architecture from Table 1."""
    epochs: int = 100
    """Passes over the training images, each image entering with one random rotation."""
    batch_size: int = 64
    lr: float = 1e-3
    """Adam learning rate."""
    seed: int = 0
    """Seeds initialisation, shuffling and the random rotations."""

    def __post_init__(self) -> None:
        _positive(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr)


@dataclass(frozen=True)
class MFitConfig:
    """Fitting the activation transformation matrix M on Eq. 3 (RESULT 1)."""

    epochs: int = 150
    batch_size: int = 32
    """Canonical images per step; each brings its whole orbit (reading: 64 leaves the MLP unconverged)."""
    lr: float = 1e-3
    """Adam learning rate (SPEC.md reading)."""
    init: Literal["identity", "lstsq"] = "identity"
    """identity: the paper's start; lstsq: the closed-form least-squares fit of p = 1 (off for the paper)."""
    order_penalty: float = 0.0
    """Weight of ||M^|G| - I||_F^2 added to the loss (the paper's future-work suggestion; 0 for the paper)."""
    seed: int = 0

    def __post_init__(self) -> None:
        _positive(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr)
        if self.init not in ("identity", "lstsq"):
            raise ValueError(f"init must be 'identity' or 'lstsq', got {self.init!r}")
        if self.order_penalty < 0:
            raise ValueError(f"order_penalty must be >= 0, got {self.order_penalty}")


def _positive(**values: float) -> None:
    for key, value in values.items():
        if not value > 0:
            raise ValueError(f"{key} must be positive, got {value}")


class ConfigError(ValueError):
    """A workflow config that does not match the schema; the message names the offending key."""


def validate_config(config: dict[str, Any], schema_path: str | Path) -> dict[str, Any]:
    """Check `config` against the JSON schema (YAML file), fill defaults in place, and return it.

    Raises ConfigError naming the key path (e.g. `base.epochs`) of the first problem found.
    """
    import jsonschema
    import yaml

    schema = yaml.safe_load(Path(schema_path).read_text())
    _coerce_numbers(config, schema)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        where = ".".join(str(part) for part in error.absolute_path)
        if error.validator == "additionalProperties":
            unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            keys = ", ".join(f"{where}.{key}" if where else key for key in unknown)
            raise ConfigError(f"unknown config key {keys}; allowed here: {sorted(error.schema['properties'])}")
        raise ConfigError(f"config key {where or '<root>'}: {error.message}")
    _fill_defaults(config, schema)
    return config


def _coerce_numbers(config: dict[str, Any], schema: Mapping[str, Any]) -> None:
    """Snakemake reads lists given with --config (`topk=[8,16]`) as strings; make the numbers numbers again."""

    def coerce(value: Any, sub: Mapping[str, Any]) -> Any:
        kind = sub.get("type")
        if isinstance(value, str) and kind in ("integer", "number"):
            try:
                return int(value) if kind == "integer" else float(value)
            except ValueError:
                return value  # the schema check names the key
        if isinstance(value, list) and "items" in sub:
            return [coerce(item, sub["items"]) for item in value]
        if isinstance(value, dict):
            props = sub.get("properties", {})
            return {key: coerce(item, props.get(key, {})) for key, item in value.items()}
        return value

    config.update(coerce(dict(config), schema))


def _fill_defaults(config: dict[str, Any], schema: Mapping[str, Any]) -> None:
    for key, sub in schema.get("properties", {}).items():
        if key not in config and "default" in sub:
            config[key] = sub["default"]
        if isinstance(config.get(key), dict):
            _fill_defaults(config[key], sub)
