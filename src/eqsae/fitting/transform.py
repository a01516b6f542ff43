"""The activation transformation matrices (v1 Eq. 3, RESULT 1; v2 Eq. 8): psi(g^p h^q x) ~= M^p R^q psi(x).

M stands for the generator g, R for h (groups of two generators, eqsae.group). Activations come as orbits,
(n, |G|, d) with [:, e] = psi(g^p h^q x); row vectors, so M^p R^q acts as x @ (M^p R^q)^T.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from eqsae.fitting.metrics import mean_shift_share, r2_all
from eqsae.group import C4, ORDER, Group
from eqsae.io import DivergedError, NonFiniteError
from eqsae.models.autoencoders import EpochRecord, stop_if_diverged
from eqsae.pipeline.config import MFitConfig

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


def group_orbit_loss(generators: Sequence[torch.Tensor], orbits: torch.Tensor, group: Group) -> torch.Tensor:
    """v2 Eq. 8: mean over p = 1..ord(g), q = 1..ord(h) of ||psi(g^p h^q x) - M^p R^q psi(x)||^2 (every element
    once, the identity as g^ord(g) h^ord(h)); with one generator, v1's Eq. 3 exactly."""
    if group.n_generators == 1:
        return orbit_loss(generators[0], orbits)
    m, r = generators
    terms = [
        (orbits[:, group.index(p, q)] - pred).square().mean()
        for q, flipped in enumerate(powers(r, orbits[:, 0], group.orders[1]), 1)
        for p, pred in enumerate(powers(m, flipped, group.orders[0]), 1)
    ]
    return torch.stack(terms).mean()


def order_penalty(m: torch.Tensor, order: int = ORDER) -> torch.Tensor:
    """||M^order - I||_F^2: zero when M is an exact representation of a cyclic generator of that order."""
    return (torch.linalg.matrix_power(m, order) - torch.eye(len(m), device=m.device)).square().sum()


def element_matrices(generators: Sequence, group: Group = C4) -> list:
    """T_e = M^p R^q for every element e (numpy or torch, as given), with the exponents the fit trained for e
    (Group.fitted_exponents); T_0 is None: the identity, applied as nothing. With one generator, T_p = M^p
    exactly as v1 computed it."""
    power = torch.linalg.matrix_power if isinstance(generators[0], torch.Tensor) else np.linalg.matrix_power
    out = [None]
    for e in range(1, group.order):
        p, q = group.fitted_exponents(e)
        t = power(generators[0], p) if p else None
        if q:
            r_q = power(generators[1], q)
            t = r_q if t is None else t @ r_q
        out.append(t)
    return out


def apply_elements(orbits: torch.Tensor, transforms: list) -> torch.Tensor:
    """T_e applied to (n, |G|, d) orbits, row e by T_e."""
    return torch.stack([orbits[:, e] if t is None else orbits[:, e] @ t.T for e, t in enumerate(transforms)], 1)


def as_generators(m: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    """[M] for a single (d, d) M, else the list [M] or [M, R] as given: what callers of v1 passed, and v2's."""
    return [m] if isinstance(m, np.ndarray) and m.ndim == 2 else list(m)


def order_norms(generators: Sequence[np.ndarray], group: Group) -> dict[str, float]:
    """||X^ord - I|| per fitted matrix (`norm_m4_minus_i`, `norm_r2_minus_i`): how far each is from an exact
    representation of its generator."""
    norms = {}
    for name, x, order in zip("mr", generators, group.orders):
        power = np.linalg.matrix_power(np.asarray(x, np.float64), order)
        norms[f"norm_{name}{order}_minus_i"] = float(np.linalg.norm(power - np.eye(len(x))))
    return norms


def lstsq_init(orbits: torch.Tensor) -> torch.Tensor:
    """Closed-form least squares for p = 1: argmin_M ||psi(g x) - M psi(x)||^2."""
    solution = torch.linalg.lstsq(orbits[:, 0].double().cpu(), orbits[:, 1].double().cpu(), driver="gelsd").solution
    return solution.T.float()


M_FAR_ABOVE = 1e6
"""A fit of M whose last epoch's loss exceeds this many times the loss of M = 0 (predicting zeros, the mean squared
activation) diverged, though finite. Not relative to the start, as for the other trainings: from M = I on a barely
trained network Adam's first steps wander 4-63 times above where they began and still fit, while a diverged fit
ends 1e12 times and more above the data's scale (learning rate 10: 1e13)."""


def stop_if_far_above_zero(history: list[EpochRecord], zero: float, cfg) -> None:
    end = history[-1].loss
    if end > M_FAR_ABOVE * zero:
        raise DivergedError(f"fit M: training loss ended at {end:.6g} after {len(history)} epochs, {end / zero:.3g} "
                            f"times the loss of M = 0 ({zero:.6g}), with {cfg!r}: lower m_fit.lr")  # fmt: skip


def fit_m(
    orbits: np.ndarray, cfg: MFitConfig, device: torch.device | str = "cpu"
) -> tuple[np.ndarray, list[EpochRecord]]:
    """Adam on Eq. 3 (C4) from the identity (or the least-squares start); returns M (d, d) and per-epoch losses."""
    generators, history = fit_generators(orbits, cfg, device, C4)
    return generators[0], history


def fit_generators(
    orbits: np.ndarray, cfg: MFitConfig, device: torch.device | str = "cpu", group: Group = C4
) -> tuple[list[np.ndarray], list[EpochRecord]]:
    """Adam on v2's Eq. 8 (v1's Eq. 3 for one generator), every matrix from the identity (M may start from
    least squares); returns [M] or [M, R] and per-epoch losses."""
    torch.manual_seed(cfg.seed)
    data = torch.as_tensor(orbits, dtype=torch.float32, device=device)
    n, order, d = data.shape
    if order != group.order:
        raise ValueError(f"orbits have {order} elements per image, group {group.name} has {group.order}")
    start = torch.eye(d) if cfg.init == "identity" else lstsq_init(data)
    mats = [torch.nn.Parameter(start.to(device))]
    mats += [torch.nn.Parameter(torch.eye(d, device=device)) for _ in group.orders[1:]]
    opt = torch.optim.Adam(mats, lr=cfg.lr, fused=True)
    gen, history = torch.Generator().manual_seed(cfg.seed), []
    for epoch in range(1, cfg.epochs + 1):
        t0, total = time.perf_counter(), torch.zeros((), device=device)
        order = torch.randperm(n, generator=gen).to(device)
        for i in range(0, n, cfg.batch_size):
            batch = data[order[i : i + cfg.batch_size]]
            loss = group_orbit_loss(mats, batch, group)
            total += loss.detach() * len(batch)
            if cfg.order_penalty:
                loss = loss + cfg.order_penalty * sum(order_penalty(x, o) for x, o in zip(mats, group.orders))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        record = EpochRecord(epoch, total.item() / n, time.perf_counter() - t0)
        history.append(record)
        log.info("epoch %d/%d loss %.6f seconds %.2f", epoch, cfg.epochs, record.loss, record.seconds)
        stop_if_diverged(record.loss, "fit M: training loss", epoch, cfg)
    stop_if_far_above_zero(history, float(data.double().pow(2).mean()), cfg)
    fitted = [x.detach().cpu().numpy() for x in mats]
    for name, x in zip("MR", fitted):
        if not np.isfinite(x).all():  # the order penalty is not in the logged loss and can diverge alone
            raise NonFiniteError(f"fit M: {name} has {int((~np.isfinite(x)).sum())} non-finite entries after "
                                 f"{cfg.epochs} epochs with {cfg!r}")  # fmt: skip
    return fitted, history


def r2_per_element(
    generators: Sequence[np.ndarray], orbits: np.ndarray, group: Group = C4, post_relu: bool = False
) -> pd.DataFrame:
    """R^2 of M^p R^q psi(x) against psi(g^p h^q x) for every element but the identity on held-out orbits, in
    every R^2 reading, and the share of SS_res that is the shift between the means (`shift`); with post_relu,
    the readings again on ReLU of both sides (`relu_<reading>`: what a decoder that starts with a ReLU sees).
    Exponents as the fit trained them (Group.fitted_exponents)."""
    t = torch.as_tensor(orbits, dtype=torch.float64)
    mats = [torch.as_tensor(x, dtype=torch.float64) for x in generators]
    rows = []
    for e in range(1, group.order):
        p, q = group.fitted_exponents(e)
        predicted = t[:, 0]
        for x, times in ((mats[-1], q), (mats[0], p)):  # R^q first, then M^p, one product at a time as in v1
            for _ in range(times):
                predicted = predicted @ x.T
        y, y_hat = t[:, e].numpy(), predicted.numpy()
        rows.append({"element": e, **r2_all(y, y_hat), "shift": mean_shift_share(y, y_hat)})
        if post_relu:
            rows[-1] |= {f"relu_{k}": v for k, v in r2_all(np.maximum(y, 0), np.maximum(y_hat, 0)).items()}
    return pd.DataFrame(rows)


def result1_table(
    generators: np.ndarray | Sequence[np.ndarray], orbits: np.ndarray, base_model: str, group: Group = C4,
    post_relu: bool = False,
) -> pd.DataFrame:  # fmt: skip
    """RESULT 1 (v2 Table 1) for one base model: the learned M (and R) against M = R = I, per group element,
    then mean and std over elements.

    Columns base_model, group, element, r2_learned, r2_identity (pooled, the primary reading), then the same
    for the flat and uniform readings, `shift_share_learned` / `_identity` (the share of SS_res that is the
    shift between the means) and, with post_relu, `r2_learned_relu[_flat|_uniform]` and the identity's on ReLU
    of both sides; rows e = 1..|G|-1, then 'mean' and 'std' (population std over elements).
    """
    generators = as_generators(generators)
    learned = r2_per_element(generators, orbits, group, post_relu)
    identity = r2_per_element([np.eye(len(generators[0]))] * len(generators), orbits, group, post_relu)
    table = pd.DataFrame({"element": learned["element"].astype(str)})
    kinds = [(kind, "" if kind == "pooled" else f"_{kind}") for kind in ("pooled", "flat", "uniform")]
    kinds += [(f"relu_{kind}", f"_relu{suffix}") for kind, suffix in kinds] if post_relu else []
    for kind, suffix in kinds:
        table[f"r2_learned{suffix}"] = learned[kind]
        table[f"r2_identity{suffix}"] = identity[kind]
    table["shift_share_learned"], table["shift_share_identity"] = learned["shift"], identity["shift"]
    values = table.drop(columns="element")
    summary = pd.DataFrame([values.mean(), values.std(ddof=0)]).assign(element=["mean", "std"])
    table = pd.concat([table, summary], ignore_index=True)
    table.insert(0, "group", group.name)
    table.insert(0, "base_model", base_model)
    return table
