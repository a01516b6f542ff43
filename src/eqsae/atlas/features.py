"""The feature atlas (paper Figures 1 and 5, right): which SAE features are invariant,
which rotate, and what each one draws.

The group acts on a dictionary through the base model's M: feature i moves to M^p d_i. Its symmetry profile
s_p = cos(M^p d_i, d_i) says whether it stays (invariant), comes back after two turns (period 2) or moves
every turn (period 4); a partner j with cos(M^p d_i, d_j) high means the dictionary also holds the turned
copy, the redundancy the paper says a plain SAE pays for. Every SAE is read with its base model's M, the
equivariant one included (its dictionary is the invariant SAE's: their atlases coincide by construction).
Arrays first, one row per latent; the figures (eqsae.atlas.plots) only render them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from eqsae.group import ORDER, rotate
from eqsae.probing.tasks import Task

CLASSES = ("invariant", "period 2", "period 4", "mixed")
TURNS = tuple(range(1, ORDER))
"""p = 1..|G|-1: the non-trivial group elements."""
TURN_GAIN = 0.1
"""A turned copy must be this much closer (in cosine) to M^p d_i than to d_i: an atom near an invariant
one, or an invariant atom itself, is not a turned copy of it."""


@dataclass(frozen=True)
class AtlasConfig:
    """Thresholds of the atlas (the workflow's `atlas` section)."""

    tau: float = 0.9
    """s_p >= tau: the feature stays put under g^p."""
    moved: float = 0.5
    """s_p < moved: the feature moved away under g^p. Between the two thresholds a profile is `mixed`."""
    partner: float = 0.5
    """cos(M^p d_i, d_j) >= partner, and the turn brings i TURN_GAIN closer to j: j holds i's turned copy."""
    orbit_match: float = 0.9
    """Pixel correlation above which a feature's decoded M^p image matches rot90^p of its decoded image."""

    def __post_init__(self) -> None:
        if not -1 <= self.moved < self.tau <= 1:
            raise ValueError(f"atlas thresholds need -1 <= moved < tau <= 1, got moved={self.moved}, tau={self.tau}")
        if not (-1 <= self.partner <= 1 and -1 <= self.orbit_match <= 1):
            raise ValueError(f"atlas.partner and atlas.orbit_match are cosines/correlations in [-1, 1], got "
                             f"{self.partner} and {self.orbit_match}")  # fmt: skip


def m_powers(m: np.ndarray, upto: int = ORDER) -> list[np.ndarray]:
    """[M^0, ..., M^upto] in float64."""
    out = [np.eye(len(m))]
    for _ in range(upto):
        out.append(out[-1] @ np.asarray(m, np.float64))
    return out


def turned(dictionary: np.ndarray, m: np.ndarray, upto: int = ORDER) -> list[np.ndarray]:
    """[M^p d_i for every row i] for p = 0..upto (rows are vectors, so M^p d is d @ (M^p)^T)."""
    d = np.asarray(dictionary, np.float64)
    return [d @ mp.T for mp in m_powers(m, upto)]


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def symmetry_profile(dictionary: np.ndarray, m: np.ndarray) -> pd.DataFrame:
    """Per latent: s_p = cos(M^p d_i, d_i) and |M^p d_i| / |d_i| for p = 1..|G|-1, and how far the orbit is
    from closing, |M^|G| d_i - d_i| / |d_i| (0 where M is a representation of the group on d_i)."""
    rows = turned(dictionary, m)
    d, norm = rows[0], np.linalg.norm(rows[0], axis=1)
    out = {f"s_{p}": np.einsum("ij,ij->i", _unit(rows[p]), _unit(d)) for p in TURNS}
    out |= {f"norm_ratio_{p}": np.linalg.norm(rows[p], axis=1) / np.maximum(norm, 1e-12) for p in TURNS}
    out["order_residual"] = np.linalg.norm(rows[ORDER] - d, axis=1) / np.maximum(norm, 1e-12)
    return pd.DataFrame(out)


def isotypic_fractions(dictionary: np.ndarray, m: np.ndarray) -> pd.DataFrame:
    """How each atom splits over C4's isotypic parts, P_k = (1/|G|) sum_p omega^(-kp) M^p: `iso_invariant`
    (k = 0), `iso_sign` (k = 2, period 2) and `iso_rotation` (k = 1 and 3, the 2-d rotations), normalised
    to sum to 1. The split is clean only where M^4 = I and M is orthogonal on the span; `iso_raw_total`
    (sum of |P_k d|^2 / |d|^2, 1 in that case) and `order_residual` say how far from it an atom is."""
    if ORDER != 4:
        raise NotImplementedError("isotypic parts are written out for C4")
    d0, d1, d2, d3 = turned(dictionary, m, ORDER - 1)
    sq = lambda x: np.einsum("ij,ij->i", x, x)  # noqa: E731
    parts = {
        "iso_invariant": sq(d0 + d1 + d2 + d3) / 16,
        "iso_sign": sq(d0 - d1 + d2 - d3) / 16,
        # P_1 d = (d0 - d2)/4 - i (d1 - d3)/4, and P_3 d is its conjugate: same norm
        "iso_rotation": 2 * (sq(d0 - d2) + sq(d1 - d3)) / 16,
    }
    total = sum(parts.values())
    out = pd.DataFrame({k: v / np.maximum(total, 1e-30) for k, v in parts.items()})
    out["iso_raw_total"] = total / np.maximum(sq(d0), 1e-30)
    return out


def classify(profile: pd.DataFrame, cfg: AtlasConfig) -> np.ndarray:
    """invariant: every s_p >= tau; period 2: s_2 >= tau while s_1 and s_3 < moved; period 4: every s_p <
    moved; mixed: anything else (partly kept, partly moved: the profile does not say which)."""
    s = profile[[f"s_{p}" for p in TURNS]].to_numpy()
    odd = np.delete(s, ORDER // 2 - 1, axis=1)
    half = s[:, ORDER // 2 - 1]
    out = np.full(len(s), "mixed", dtype=object)
    out[(s < cfg.moved).all(axis=1)] = "period 4"
    out[(half >= cfg.tau) & (odd < cfg.moved).all(axis=1)] = "period 2"
    out[(s >= cfg.tau).all(axis=1)] = "invariant"
    return out


def partners(dictionary: np.ndarray, m: np.ndarray, live: np.ndarray, chunk: int = 1024) -> pd.DataFrame:
    """partner_p(i) = argmax_j cos(M^p d_i, d_j) over the whole dictionary (i itself when i is invariant),
    with its cosine; the best turned copy among the other live latents over every p (`rotated_partner`,
    `rotated_partner_p`, `rotated_partner_cos`, and `rotated_partner_gain`, how much closer the turn brings
    i to it: cos(M^p d_i, d_j) - cos(d_i, d_j)), and the nearest other live atom without a turn
    (`nearest_live_cos`). -1 where there is no other live latent."""
    rows = turned(dictionary, m, ORDER - 1)
    d_unit, n = _unit(rows[0]), len(rows[0])
    out: dict[str, np.ndarray] = {}
    best_j, best_p, best_cos, nearest = np.full(n, -1), np.full(n, -1), np.full(n, -np.inf), np.full(n, -np.inf)
    gain = np.zeros(n)
    for p in range(ORDER):
        part_j, part_cos = np.empty(n, np.int64), np.empty(n)
        for start in range(0, n, chunk):
            ids = np.arange(start, min(start + chunk, n))
            cos = _unit(rows[p][ids]) @ d_unit.T
            part_j[ids] = cos.argmax(axis=1)
            part_cos[ids] = cos[np.arange(len(ids)), part_j[ids]]
            cos[:, ~live] = -np.inf
            cos[np.arange(len(ids)), ids] = -np.inf
            j = cos.argmax(axis=1)
            c = cos[np.arange(len(ids)), j]
            if p == 0:
                nearest[ids] = c
                continue
            better = c > best_cos[ids]
            best_j[ids[better]], best_p[ids[better]], best_cos[ids[better]] = j[better], p, c[better]
            gain[ids[better]] = c[better] - np.einsum("ij,ij->i", d_unit[ids[better]], d_unit[j[better]])
        if p:
            out[f"partner_{p}"], out[f"partner_cos_{p}"] = part_j, part_cos
    none = ~np.isfinite(best_cos)
    best_j[none], best_p[none], best_cos[none], nearest[none] = -1, -1, -1.0, -1.0
    out |= {"rotated_partner": best_j, "rotated_partner_p": best_p, "rotated_partner_cos": best_cos,
            "rotated_partner_gain": gain, "nearest_live_cos": nearest}
    return pd.DataFrame(out)


def activity(values: np.ndarray, indices: np.ndarray, d_latent: int) -> pd.DataFrame:
    """From the TopK latents (rows, k) of the probing set: `density` (share of rows where the latent is
    active, value != 0 as in the SAE metrics), mean and max activation when active, `dead`."""
    n_rows = len(values)
    values, indices = values.reshape(-1), indices.reshape(-1)
    active = values != 0
    count = np.bincount(indices[active], minlength=d_latent)
    total = np.bincount(indices[active], weights=values[active], minlength=d_latent)
    peak = np.full(d_latent, -np.inf)
    np.maximum.at(peak, indices[active], values[active])
    return pd.DataFrame({"density": count / n_rows, "mean_activation": total / np.maximum(count, 1),
                         "max_activation": np.where(count > 0, peak, 0.0), "dead": count == 0})  # fmt: skip


def firing(values: np.ndarray, indices: np.ndarray, d_latent: int):
    """(rows, d_latent) sparse 0/1 matrix: latent j is active on row r."""
    from scipy import sparse

    active = values != 0
    rows = np.repeat(np.arange(len(values)), values.shape[1]).reshape(values.shape)
    return sparse.csr_matrix((np.ones(active.sum(), np.float32), (rows[active], indices[active])),
                             shape=(len(values), d_latent))  # fmt: skip


def best_concepts(values: np.ndarray, indices: np.ndarray, d_latent: int, labels: np.ndarray,
                  tasks: list[Task]) -> pd.DataFrame:  # fmt: skip
    """Per latent, the ground-truth concept (a probing task: shape; shape in orientation; at position; both)
    whose presence best matches "the latent fires", by F1 over the probing rows; `concept_f1` 0 when dead."""
    fires = firing(values, indices, d_latent)
    y = labels.astype(np.float32)
    tp = np.asarray(fires.T @ y)  # (d_latent, n_tasks)
    n_fire = np.asarray(fires.sum(axis=0)).ravel()[:, None]
    f1 = 2 * tp / np.maximum(n_fire + y.sum(axis=0)[None, :], 1)
    best = f1.argmax(axis=1)
    return pd.DataFrame({"concept": [tasks[t].name for t in best], "concept_group": [tasks[t].group for t in best],
                         "concept_f1": f1[np.arange(len(f1)), best]})  # fmt: skip


Decode = Callable[[np.ndarray], np.ndarray]
"""The base model's decoder on activation rows: (n, d) -> images (n, H, W)."""


def feature_images(decode: Decode, a_bar: np.ndarray, vectors: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """What adding each vector draws: Dec(a_bar + alpha_i v_i) - Dec(a_bar), (n, H, W)."""
    base = decode(a_bar[None].astype(np.float32))
    return decode((a_bar[None] + alpha[:, None] * vectors).astype(np.float32)) - base


def orbit_strip(decode: Decode, a_bar: np.ndarray, dictionary: np.ndarray, m: np.ndarray,
                alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The orbit strip of each atom, two rows of |G| images: Dec(a_bar + alpha M^p d_i) - Dec(a_bar) (what the
    model draws for the turned feature) and rot90^p of the p = 0 image (what turning the picture gives).
    Returns both as (n, |G|, H, W); where M is faithful for the feature the rows agree."""
    through_m = np.stack([feature_images(decode, a_bar, v, alpha) for v in turned(dictionary, m, ORDER - 1)], 1)
    by_pixels = np.stack([rotate(through_m[:, 0], p) for p in range(ORDER)], 1)
    return through_m, by_pixels


def pixel_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation over the pixels of matching images (..., H, W); 0 where either image is flat."""
    a = a.reshape(*a.shape[:-2], -1).astype(np.float64)
    b = b.reshape(*b.shape[:-2], -1).astype(np.float64)
    a, b = a - a.mean(-1, keepdims=True), b - b.mean(-1, keepdims=True)
    denom = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return np.where(denom > 0, (a * b).sum(-1) / np.where(denom > 0, denom, 1), 0.0)


def orbit_match(decode: Decode, a_bar: np.ndarray, dictionary: np.ndarray, m: np.ndarray, alpha: np.ndarray,
                chunk: int = 512) -> np.ndarray:  # fmt: skip
    """(n, |G|-1): pixel correlation of the orbit strip's rows at p = 1..|G|-1, per atom."""
    out = []
    for i in range(0, len(dictionary), chunk):
        through_m, by_pixels = orbit_strip(decode, a_bar, dictionary[i : i + chunk], m, alpha[i : i + chunk])
        out.append(pixel_correlation(through_m[:, 1:], by_pixels[:, 1:]))
    return np.concatenate(out) if out else np.zeros((0, ORDER - 1))


def latent_table(dictionary: np.ndarray, m: np.ndarray, values: np.ndarray, indices: np.ndarray,
                 labels: np.ndarray, tasks: list[Task], decode: Decode | None, a_bar: np.ndarray,
                 cfg: AtlasConfig) -> pd.DataFrame:  # fmt: skip
    """One row per latent: activity, symmetry profile, isotypic split, class, partners, best concept, and the
    orbit strip's pixel correlations (`orbit_corr_p`, their mean `orbit_corr`, and `orbit_corr_unturned`,
    the same with M = I as the baseline; missing for dead latents, which have no typical activation to draw
    with, and for every latent without a `decode`: activations from a model with no decoder). values/indices:
    (rows, k) TopK latents of the probing set, labels: (rows, n_tasks) of the same rows."""
    d_latent = len(dictionary)
    act = activity(values, indices, d_latent)
    live = ~act["dead"].to_numpy()
    profile = symmetry_profile(dictionary, m)
    table = pd.concat([pd.DataFrame({"latent": np.arange(d_latent)}), act, profile,
                       isotypic_fractions(dictionary, m)], axis=1)  # fmt: skip
    table.insert(table.columns.get_loc("s_1"), "class", classify(profile, cfg))
    table = pd.concat([table, partners(dictionary, m, live), best_concepts(values, indices, d_latent, labels, tasks)],
                      axis=1)  # fmt: skip
    corr, unturned = np.full((d_latent, ORDER - 1), np.nan), np.full((d_latent, ORDER - 1), np.nan)
    ids = np.flatnonzero(live) if decode is not None else np.zeros(0, dtype=np.int64)
    alpha = act["mean_activation"].to_numpy()[ids]
    corr[ids] = orbit_match(decode, a_bar, dictionary[ids], m, alpha)
    unturned[ids] = orbit_match(decode, a_bar, dictionary[ids], np.eye(len(m)), alpha)
    for p in TURNS:
        table[f"orbit_corr_{p}"] = corr[:, p - 1]
    table["orbit_corr"] = corr.mean(axis=1)
    # the baseline: M = I leaves the picture unturned, which matches rot90^p only as far as it is symmetric
    table["orbit_corr_unturned"] = unturned.mean(axis=1)
    cos, gain = table["rotated_partner_cos"].to_numpy(), table["rotated_partner_gain"].to_numpy()
    table["has_rotated_partner"] = live & (cos >= cfg.partner) & (gain >= TURN_GAIN)
    return table


MAY_BE_MISSING = tuple(f"orbit_corr_{p}" for p in TURNS) + ("orbit_corr", "orbit_corr_unturned")
"""Undefined for dead latents."""


def summary(table: pd.DataFrame, cfg: AtlasConfig) -> dict[str, float]:
    """Per SAE: the census of live latents per class (count and share), the isotypic split of the live
    dictionary, redundancy (share of live latents with a turned copy among the other live latents), and the
    share of live latents whose decoded M^p image matches rot90^p (orbit_corr above cfg.orbit_match)."""
    live = table[~table["dead"]]
    n = len(live)
    out: dict[str, float] = {"n_latents": len(table), "n_live": n}
    for name in CLASSES:
        key = name.replace(" ", "")
        out[f"n_{key}"] = int((live["class"] == name).sum())
        out[f"share_{key}"] = out[f"n_{key}"] / n if n else 0.0
    for part in ("iso_invariant", "iso_sign", "iso_rotation"):
        out[part] = float(live[part].mean()) if n else 0.0
    out["redundancy"] = float(live["has_rotated_partner"].mean()) if n else 0.0
    if live["orbit_corr"].notna().any() or not n:  # none drawn: no decoder, no orbit-strip numbers
        out["orbit_match"] = float((live["orbit_corr"] > cfg.orbit_match).mean()) if n else 0.0
        out["orbit_corr_median"] = float(live["orbit_corr"].median()) if n else 0.0
        out["orbit_corr_unturned_median"] = float(live["orbit_corr_unturned"].median()) if n else 0.0
    out["order_residual_median"] = float(live["order_residual"].median()) if n else 0.0
    return out


def latent_column(values: np.ndarray, indices: np.ndarray, latent: int) -> np.ndarray:
    """(rows,) activation of one latent on every row, 0 where it is not among the TopK."""
    return np.where(indices == latent, values, 0.0).sum(axis=1)


def examples(column: np.ndarray, n_top: int, n_other: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Rows to show for a feature: its `top` rows, rows from the lower `quantiles` of its active
    values (do weak activations mean the same?) and `random` active rows; each image once, at its most
    activating rotation (an invariant latent would otherwise show one image four times)."""
    active = np.flatnonzero(column != 0)
    ranked = active[np.argsort(-column[active], kind="stable")]
    _, first = np.unique(ranked // ORDER, return_index=True)
    ranked = ranked[np.sort(first)]
    active = np.sort(ranked)
    lower = ranked[n_top:]
    picks = np.linspace(0, len(lower) - 1, n_other).round().astype(int) if len(lower) else np.zeros(0, int)
    return {"top": ranked[:n_top], "quantiles": lower[np.unique(picks)],
            "random": rng.choice(active, min(n_other, len(active)), replace=False) if len(active) else active}


def rotation_response(column: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """(len(rows), |G|): the latent's activation on g^p applied to each row's image, p = 0..|G|-1 (rows are
    image-major with |G| rotations per image, so row r shows g^(r mod |G|) x)."""
    image, p0 = np.divmod(rows, ORDER)
    return np.stack([column[image * ORDER + (p0 + p) % ORDER] for p in range(ORDER)], axis=1)


@dataclass(frozen=True)
class ProbingView:
    """An SAE's TopK latents on every row of the probing set (image-major, |G| rotations per image), the
    rows' concept labels, and the base decoder, which is what the atlas reads."""

    values: np.ndarray
    """(rows, k) active latent values."""
    indices: np.ndarray
    """(rows, k) their latent ids."""
    labels: np.ndarray
    """(rows, n_tasks) the probing tasks' labels of each row."""
    tasks: list[Task]
    a_bar: np.ndarray
    """(d,) the mean activation of the probing set: where a feature is added before decoding."""
    decode: Decode | None
    """The base decoder (psi -> images); None for a source without one (a user's orbit table)."""
    images: np.ndarray
    """(n, H, W) canonical probing images; row r shows rotate(images[r // |G|], r % |G|)."""

    def row_images(self, rows: np.ndarray) -> np.ndarray:
        image, p = np.divmod(np.asarray(rows, int), ORDER)
        return np.stack([rotate(self.images[i], q) for i, q in zip(image, p)]) if len(rows) else self.images[:0]


def probing_view(sae, base, orbits: np.ndarray, shapes: np.ndarray, orientations: np.ndarray,
                 images: np.ndarray) -> ProbingView:  # fmt: skip
    """Encode the probing orbits (n, |G|, d) with `sae` (a TopKSAE) and wrap `base`'s decoder."""
    from eqsae.probing.tasks import make_tasks, orbit_labels

    tasks = make_tasks()
    return orbit_view(sae, orbits, orbit_labels(shapes, orientations, tasks), tasks, images, base_decoder(base))


def base_decoder(base) -> Decode:
    """A base autoencoder's decoder (psi (n, d) -> images (n, H, W)) on the CPU: how the atlas draws a latent."""
    import torch

    @torch.inference_mode()
    def decode(psi: np.ndarray) -> np.ndarray:
        return base.decode(torch.as_tensor(psi, dtype=torch.float32)).squeeze(1).numpy()

    return decode


def orbit_view(sae, orbits: np.ndarray, labels: np.ndarray, tasks: list, images: np.ndarray,
               decode: Decode | None = None) -> ProbingView:  # fmt: skip
    """Any source's view: `sae`'s latents on the orbits (n, |G|, d), the rows' task labels (n * |G|, n_tasks), the
    orbits' canonical images and, where the source has one, its decoder (None: nothing draws a latent)."""
    import torch

    from eqsae.training.evaluate import reconstruct

    rec = reconstruct(sae, torch.as_tensor(orbits, dtype=torch.float32))
    return ProbingView(rec.values.flatten(0, 1).numpy(), rec.indices.flatten(0, 1).numpy(), labels, tasks,
                       orbits.reshape(-1, orbits.shape[-1]).mean(0), decode, images)  # fmt: skip


def load_probing_view(sae, base_dir, acts_path, images_path) -> ProbingView:
    """The view of the probing set a stage needs, from the base model's directory and the probing set's files."""
    from eqsae.models.autoencoders import load_autoencoder
    from eqsae.sources.shapes import position_labels, read_activations, read_shapeset

    data = read_activations(acts_path)
    return probing_view(sae, load_autoencoder(base_dir), data.acts, *position_labels(data),
                        read_shapeset(images_path).images)  # fmt: skip


def sae_atlas(dictionary: np.ndarray, m: np.ndarray, view: ProbingView, cfg: AtlasConfig) -> pd.DataFrame:
    """The per-latent table of one SAE from its dictionary (d_latent, d) and its view of the probing set."""
    return latent_table(dictionary, m, view.values, view.indices, view.labels, view.tasks, view.decode,
                        view.a_bar, cfg)  # fmt: skip


def top_features(table: pd.DataFrame, n: int) -> list[int]:
    """The n live latents that fire most often (ties by mean activation): the cards' features."""
    live = table[~table["dead"]].sort_values(["density", "mean_activation"], ascending=False, kind="stable")
    return live["latent"].head(n).astype(int).tolist()


def orbit_atlas(sae, m: np.ndarray, orbits: np.ndarray, labels: np.ndarray, tasks: list, cfg: AtlasConfig,
                decode: Decode | None = None) -> pd.DataFrame:  # fmt: skip
    """The per-latent table (C4: symmetry profile, class, partners, best concept) of a TopK SAE read through M on
    the orbits (n, |G|, d); `decode` (psi -> images, `base_decoder`) draws each latent for the orbit-strip
    columns, which stay empty without one."""
    from eqsae.models.sae import encode_orbits

    latents = encode_orbits(sae, orbits)
    dictionary = sae.dictionary_rows().detach().cpu().numpy()
    return latent_table(dictionary, m, latents.values.numpy(), latents.indices.numpy(), labels, tasks, decode,
                        orbits.reshape(-1, orbits.shape[-1]).mean(0), cfg)  # fmt: skip


def source_decoder(source: str, base_dir) -> Decode | None:
    """The decoder that draws a latent of a source with a base network (`eqsae.sources.networks.source_network`
    in `base_dir`), or None (no network: a user's table, the toy)."""
    from eqsae.sources.networks import source_network

    network = source_network(source, base_dir)
    return None if network is None else base_decoder(network[0])


def held_out_view(sae, held, images_path, source: str = "file", base_dir=None) -> ProbingView:
    """The view of `sae` on a replicate's held-out orbits (`eqsae.probing.tasks.HeldOutOrbits`), with their images
    and the source's decoder where it has one (`base_dir`): what its cards and its part of the explorer draw."""
    from eqsae.sources.orbit_table import read_orbit_images

    images = read_orbit_images(images_path, held.orbit_ids)
    return orbit_view(sae, held.acts, held.labels, held.tasks, images, source_decoder(source, base_dir))
