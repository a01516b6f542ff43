"""Numbers of the C4 pipeline on a tiny input, computed by the code as it stood before groups of two generators
and stored in v1_golden.json; tests/test_v1_unchanged.py recomputes them with today's code.

Run from the repository root to regenerate (only when a C4 number is meant to change): python tests/data/v1_golden.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from eqsae.fitting.transform import element_matrices, fit_m, result1_table
from eqsae.models.autoencoders import orbit_activations, train_autoencoder
from eqsae.models.registry import variant_config
from eqsae.pipeline.config import BaseTrainConfig, MFitConfig
from eqsae.probing.probe import truncate, truncated_reconstruction
from eqsae.probing.tasks import make_tasks, orbit_labels
from eqsae.sources.shapes import generate
from eqsae.training.evaluate import sae_metrics
from eqsae.training.train import SAETrainConfig, train_sae

GOLDEN = Path(__file__).with_name("v1_golden.json")


def _sum(x) -> float:
    return float(np.asarray(x, np.float64).sum())


def compute() -> dict[str, float | int | list]:
    """Every stage once, on 24 images: dataset, both base models (1 epoch), activations, M, every trained
    variant under both practices (2 epochs), metrics with and without M, task labels, truncation."""
    torch.set_num_threads(1)
    out: dict[str, float | int | list] = {}
    data = generate(24, np.random.default_rng(7))
    out["images"], out["shapes"], out["orientations"] = _sum(data.images), _sum(data.shapes), _sum(data.orientations)
    tasks = make_tasks()
    out["tasks"] = [t.name for t in tasks]
    labels = orbit_labels(data.shapes, data.orientations, tasks)
    out["labels"] = _sum(labels * np.arange(1, labels.shape[1] + 1))
    for model in ("mlp", "cnn"):
        base, history = train_autoencoder(data.images, BaseTrainConfig(model, epochs=1, batch_size=8, seed=3))
        acts = orbit_activations(base, data.images)
        out[f"{model}/base_loss"], out[f"{model}/acts"] = history[-1].loss, _sum(acts)
        m, m_history = fit_m(acts, MFitConfig(epochs=2, batch_size=8, seed=3))
        out[f"{model}/m"], out[f"{model}/m_loss"] = _sum(m), m_history[-1].loss
        r1 = result1_table(m, acts, model)
        readings = [c for c in r1.columns if c.startswith("r2_")]  # the readings the golden file recorded
        out[f"{model}/r2"] = r1[readings].to_numpy().round(8).tolist()
        for practice in ("paper", "standard"):
            for variant in ("regular", "wide", "twolayer", "invariant"):
                cfg, objective = variant_config(variant, 4, 256, practice)
                train = SAETrainConfig(epochs=2, batch_size=8, seed=3, auxk_alpha=0.03125 * (practice == "standard"))
                sae, sae_history = train_sae(acts, cfg, objective, train)
                key = f"{model}/{practice}/{variant}"
                out[f"{key}/loss"], out[f"{key}/w_dec"] = sae_history[-1].loss, _sum(sae.W_dec.detach())
                for name, with_m in (("", None), ("+M", m)):
                    metrics = sae_metrics(sae, acts, base, data.images, with_m)
                    out[f"{key}{name}/metrics"] = [round(v, 8) for v in metrics.values()]
                if variant == "invariant":
                    x = torch.from_numpy(acts).flatten(0, 1)
                    z = sae.dense(sae.encode(x)).detach().numpy()
                    chosen = truncate(z, labels, 2)
                    rotations = np.tile(np.arange(4), len(acts))
                    rec = truncated_reconstruction(z, chosen[5], sae.W_dec.detach().numpy(),
                                                   sae.b_dec.detach().numpy(), rotations,
                                                   element_matrices([m]))  # fmt: skip
                    out[f"{key}/truncated"], out[f"{key}/chosen"] = _sum(rec), chosen.tolist()
    return out


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(compute(), indent=1) + "\n")
    print(f"wrote {GOLDEN}")
