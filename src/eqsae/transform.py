"""The activation transformation matrix M (paper Eq. 3, RESULT 1): psi(g^p x) ~= M^p psi(x).

Activations come as orbits, (n, |G|, d) with [:, p] = psi(g^p x); row vectors, so M^p acts as x @ (M^p)^T.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
import torch

from eqsae.autoencoders import EpochRecord, stop_if_diverged
from eqsae.config import MFitConfig
from eqsae.group import ORDER
from eqsae.io import NonFiniteError
from eqsae.metrics import r2_all

log = logging.getLogger(__name__)


def powers(m: torch.Tensor, psi: torch.Tensor, upto: int = ORDER) -> list[torch.Tensor]:
    """[M^1 psi, ..., M^upto psi] for rows psi (batch, d)."""
    out, current = [], psi
    for _ in range(upto):
        current = current @ m.T
        out.append(current)
    return out


def orbit_loss(m: torch.Tensor, orbits: torch.Tensor) -> torch.Tensor:
    """Eq. 3: mean over p = 1..|G| of ||psi(g^p x) - M^p psi(x)||^2 (per coordinate; Adam is scale-free)."""
    predicted = powers(m, orbits[:, 0])
    return torch.stack([(orbits[:, p % ORDER] - pred).square().mean() for p, pred in enumerate(predicted, 1)]).mean()


def order_penalty(m: torch.Tensor) -> torch.Tensor:
    """||M^|G| - I||_F^2: zero when M is an exact representation of C4."""
    return (torch.linalg.matrix_power(m, ORDER) - torch.eye(len(m), device=m.device)).square().sum()


def lstsq_init(orbits: torch.Tensor) -> torch.Tensor:
    """Closed-form least squares for p = 1: argmin_M ||psi(g x) - M psi(x)||^2."""
    solution = torch.linalg.lstsq(orbits[:, 0].double().cpu(), orbits[:, 1].double().cpu(), driver="gelsd").solution
    return solution.T.float()


def fit_m(
    orbits: np.ndarray, cfg: MFitConfig, device: torch.device | str = "cpu"
) -> tuple[np.ndarray, list[EpochRecord]]:
    """Adam on Eq. 3 from the identity (or the least-squares start); returns M (d, d) and per-epoch losses."""
    torch.manual_seed(cfg.seed)
    data = torch.as_tensor(orbits, dtype=torch.float32, device=device)
    n, _, d = data.shape
    start = torch.eye(d) if cfg.init == "identity" else lstsq_init(data)
    m = torch.nn.Parameter(start.to(device))
    opt = torch.optim.Adam([m], lr=cfg.lr, fused=True)
    gen, history = torch.Generator().manual_seed(cfg.seed), []
    for epoch in range(1, cfg.epochs + 1):
        t0, total = time.perf_counter(), torch.zeros((), device=device)
        order = torch.randperm(n, generator=gen).to(device)
        for i in range(0, n, cfg.batch_size):
            batch = data[order[i : i + cfg.batch_size]]
            loss = orbit_loss(m, batch)
            total += loss.detach() * len(batch)
            if cfg.order_penalty:
                loss = loss + cfg.order_penalty * order_penalty(m)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        record = EpochRecord(epoch, total.item() / n, time.perf_counter() - t0)
        history.append(record)
        log.info("epoch %d/%d loss %.6f seconds %.2f", epoch, cfg.epochs, record.loss, record.seconds)
        stop_if_diverged(record.loss, "fit M: training loss", epoch, cfg)
    fitted = m.detach().cpu().numpy()
    if not np.isfinite(fitted).all():  # the order penalty is not in the logged loss and can diverge alone
        raise NonFiniteError(f"fit M: M has {int((~np.isfinite(fitted)).sum())} non-finite entries after "
                             f"{cfg.epochs} epochs with {cfg!r}")  # fmt: skip
    return fitted, history


def r2_per_rotation(m: np.ndarray, orbits: np.ndarray) -> pd.DataFrame:
    """R^2 of M^p psi(x) against psi(g^p x) for p = 1..|G|-1 on held-out orbits, in every R^2 reading."""
    t = torch.as_tensor(orbits, dtype=torch.float64)
    predicted = powers(torch.as_tensor(m, dtype=torch.float64), t[:, 0], ORDER - 1)
    rows = [{"rotation": p, **r2_all(t[:, p].numpy(), pred.numpy())} for p, pred in enumerate(predicted, 1)]
    return pd.DataFrame(rows)


def result1_table(m: np.ndarray, orbits: np.ndarray, base_model: str) -> pd.DataFrame:
    """RESULT 1 for one base model: learned M against M = I, per rotation, then mean and std over rotations.

    Columns base_model, rotation, r2_learned, r2_identity (pooled, the primary reading), then the same for
    the flat and uniform readings; rows p = 1..3, then 'mean' and 'std' (population std over rotations).
    """
    learned, identity = r2_per_rotation(m, orbits), r2_per_rotation(np.eye(len(m)), orbits)
    table = pd.DataFrame({"rotation": learned["rotation"].astype(str)})
    for kind in ("pooled", "flat", "uniform"):
        suffix = "" if kind == "pooled" else f"_{kind}"
        table[f"r2_learned{suffix}"] = learned[kind]
        table[f"r2_identity{suffix}"] = identity[kind]
    values = table.drop(columns="rotation")
    summary = pd.DataFrame([values.mean(), values.std(ddof=0)]).assign(rotation=["mean", "std"])
    table = pd.concat([table, summary], ignore_index=True)
    table.insert(0, "base_model", base_model)
    return table
