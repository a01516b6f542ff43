"""The feature atlas drawn: feature cards, orbit gallery, census, s_1 vs s_2, M diagnostics, and v1's
Figures 2 (sample images) and 6 (the eight shapes and their orbits). Everything here renders arrays that
eqsae.atlas.features and eqsae.fitting.transform computed; nothing is decided here."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from eqsae.atlas.features import CLASSES, TURNS  # noqa: E402
from eqsae.group import ORDER, rotate  # noqa: E402
from eqsae.paper.plots import VARIANT_ORDER, _colors, _over, _se  # noqa: E402
from eqsae.sources.shapes import SHAPES, orbit_sizes, shape_tiles  # noqa: E402

CLASS_COLORS = dict(zip(CLASSES, sns.color_palette("Set2", len(CLASSES))))


def _image(ax, image, title: str = "", signed: bool = False, **title_kw) -> None:
    """A grey image (signed: a blue-white-red difference image centred at 0)."""
    if signed:
        lim = max(float(np.abs(image).max()), 1e-6)
        ax.imshow(image, cmap="RdBu_r", vmin=-lim, vmax=lim)
    else:
        ax.imshow(image, cmap="gray", vmin=0, vmax=255 if image.max() > 1.5 else 1)
    ax.set_xticks([]), ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=7, **title_kw)


def feature_card(row: pd.Series, draws: np.ndarray | None, strip: tuple[np.ndarray, np.ndarray] | None,
                 shown: dict[str, tuple[np.ndarray, np.ndarray]], response: np.ndarray,
                 partner_response: np.ndarray, title: str) -> plt.Figure:  # fmt: skip
    """One feature: header; what it draws; its orbit strip (decoded M^p d over rot90^p of the p = 0 image,
    with their pixel correlation; a note instead where the source has no decoder, `strip` None); top, lower-quantile and random active probing images with activations;
    the rotation response of its top images, with its turned partner's."""
    n_cols = 8
    fig = plt.figure(figsize=(10, 8.2))
    grid = fig.add_gridspec(7, n_cols, height_ratios=[1, 1, 1, 1, 1, 1, 1.4], hspace=0.6)
    profile = ", ".join(f"s{p} {row[f's_{p}']:.2f}" for p in TURNS)
    partners = ", ".join(f"p{p}: {int(row[f'partner_{p}'])} ({row[f'partner_cos_{p}']:.2f})" for p in TURNS)
    fig.suptitle(f"{title}  latent {int(row['latent'])}: {row['class']}, density {row['density']:.3f}, "
                 f"best concept {row['concept']} (F1 {row['concept_f1']:.2f})\n{profile}; partners {partners}",
                 fontsize=8)  # fmt: skip
    if strip is None:  # a source without a decoder: nothing draws the latent, its inputs show what it reads
        ax = fig.add_subplot(grid[0:2, :])
        ax.axis("off")
        ax.text(0.5, 0.5, "no decoder: this source's activations cannot be drawn;\nits top inputs below show the "
                "latent", ha="center", va="center", fontsize=9, color="0.3")  # fmt: skip
    else:
        through_m, by_pixels = strip
        _image(fig.add_subplot(grid[0, 0]), draws, "draws", signed=True)
        for p in range(ORDER):
            corr = "" if p == 0 else f" r={row[f'orbit_corr_{p}']:.2f}"
            _image(fig.add_subplot(grid[0, 1 + p]), through_m[p], f"Dec M^{p} d{corr}", signed=True)
            _image(fig.add_subplot(grid[1, 1 + p]), by_pixels[p], f"rot90^{p} of p=0", signed=True)
    row_of = {"top": 2, "quantiles": 4, "random": 5}
    for name, (images, acts) in shown.items():
        for i, (image, a) in enumerate(zip(images, acts)):
            r = row_of[name] + i // n_cols
            if r >= 6 or (name != "top" and i >= n_cols):
                break
            _image(fig.add_subplot(grid[r, i % n_cols]), image, f"{name if i == 0 else ''} {a:.1f}")
    ax = fig.add_subplot(grid[6, 1:7])
    turns = np.arange(ORDER)
    if len(response):
        ax.plot(turns, response.T, color="C0", alpha=0.3)
        ax.plot(turns, response.mean(0), color="C0", lw=2, label="this latent (mean of top images)")
        ax.plot(turns, partner_response.mean(0), color="C3", lw=2, ls="--", label="its partner p1")
    ax.set_xticks(turns, [f"g^{p} x" for p in turns])
    ax.set_ylabel("activation", fontsize=7), ax.tick_params(labelsize=7), ax.legend(fontsize=7)
    return fig


def orbit_gallery(rows: list[list[tuple[np.ndarray, np.ndarray, str]]], title: str) -> plt.Figure:
    """Rows of features in rotation order (i, partner_1(i), partner_2(i), partner_3(i)); each cell the atom's
    decoded image (None: the source has no decoder, its label alone) over its top probing image."""
    n = max(len(rows), 1)
    fig, axes = plt.subplots(2 * n, ORDER, figsize=(ORDER * 1.4, 2.9 * n), squeeze=False)
    for r, cells in enumerate(rows):
        for p, (drawn, top, label) in enumerate(cells):
            if drawn is None:  # no decoder: the label (latent id, cosine) over the top input alone
                axes[2 * r, p].text(0.5, 0.2, label, ha="center", fontsize=7)
            else:
                _image(axes[2 * r, p], drawn, label, signed=True)
            _image(axes[2 * r + 1, p], top)
    for ax in axes.ravel():
        if not ax.images:
            ax.axis("off")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.25 / (2.9 * n)))  # leave the title its own line
    return fig


def census_figure(census: pd.DataFrame) -> plt.Figure:
    """Per SAE (variant x K, a column of panels per base model): the live latents' share per class (stacked,
    mean over seeds), and redundancy and the orbit strip's median correlation (beside its M = I baseline)
    with standard-error bars."""
    models = list(dict.fromkeys(census["base_model"]))
    practices = list(dict.fromkeys(census["sae_training"]))
    fig, axes = plt.subplots(2 * len(practices), len(models), figsize=(5.5 * len(models), 6 * len(practices)),
                             squeeze=False)  # fmt: skip
    colors = _colors()
    for c, model in enumerate(models):
        for r, practice in enumerate(practices):
            part = census[(census.base_model == model) & (census.sae_training == practice)]
            part = part.assign(order=part.variant.map(VARIANT_ORDER.index)).sort_values(["order", "k"])
            labels = [f"{v}\nK={k}" for v, k in zip(part.variant, part.k)]
            x, bottom = np.arange(len(part)), np.zeros(len(part))
            ax = axes[2 * r, c]
            for name in CLASSES:
                share = part[f"share_{name.replace(' ', '')}_mean"].to_numpy()
                ax.bar(x, share, bottom=bottom, color=CLASS_COLORS[name], label=name)
                bottom += share
            ax.set_xticks(x, labels, fontsize=6), ax.set_ylabel("share of live latents")
            ax.set_title(f"{model}, {practice} SAEs: census", fontsize=9)
            ax.legend(fontsize=7)
            ax = axes[2 * r + 1, c]
            width, bar_colors = 0.27, [colors[v] for v in part.variant]
            bars = [("redundancy", "redundancy (turned copy in the dictionary)", dict(color=bar_colors)),
                    ("orbit_corr_median", "median orbit-strip correlation, Dec M^p d vs rot90^p Dec d",
                     dict(color=bar_colors, hatch="//", alpha=0.6)),
                    ("orbit_corr_unturned_median", "the same with M = I (baseline)", dict(color="grey"))]
            for i, (name, label, style) in enumerate(bars):
                if f"{name}_mean" in part:
                    ax.bar(x + (i - 1) * width, part[f"{name}_mean"], width, yerr=_se(part[f"{name}_se"]),
                           capsize=2, label=label, **style)  # fmt: skip
            ax.set_xticks(x, labels, fontsize=6), ax.set_ylim(0, 1.35), ax.set_ylabel("share / correlation")
            ax.set_title(f"{model}, {practice}: bars = mean, {_over(int(part.n_seeds.max()))}", fontsize=9)
            ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def symmetry_scatter(tables: dict[tuple[str, int, str], pd.DataFrame]) -> plt.Figure:
    """s_1 against s_2 of every live latent, coloured by class: a row per (model, K), a column per variant."""
    rows = sorted({(m, k) for m, k, _ in tables})
    variants = [v for v in VARIANT_ORDER if any(key[2] == v for key in tables)]
    fig, axes = plt.subplots(len(rows), len(variants), figsize=(2.6 * len(variants), 2.6 * len(rows)),
                             squeeze=False, sharex=True, sharey=True)  # fmt: skip
    for r, (model, k) in enumerate(rows):
        for c, variant in enumerate(variants):
            ax, table = axes[r, c], tables.get((model, k, variant))
            if table is None:
                ax.axis("off")
                continue
            live = table[~table["dead"]]
            for name in CLASSES:
                part = live[live["class"] == name]
                ax.scatter(part["s_1"], part["s_2"], s=6, color=CLASS_COLORS[name], label=f"{name} ({len(part)})")
            ax.set_xlim(-1, 1), ax.set_ylim(-1, 1), ax.axhline(0, lw=0.3, c="k"), ax.axvline(0, lw=0.3, c="k")
            ax.set_title(f"{model} K={k} {variant}", fontsize=8)
            ax.legend(fontsize=5, loc="lower right")
    for ax in axes[-1]:
        ax.set_xlabel("s_1 = cos(M d, d)")
    for ax in axes[:, 0]:
        ax.set_ylabel("s_2 = cos(M^2 d, d)")
    fig.tight_layout()
    return fig


def m_diagnostics_figure(model: str, fits: dict[str, tuple[dict, dict]]) -> plt.Figure:
    """Per fit of M (label -> (summary, arrays)): eigenvalues on the complex plane against the 4th roots of
    unity (of all of M, faint, and of M on the activations' span, rings); the per-sample equivariance error
    against M = I; ||M^4 - I|| on and off the activations' span."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    circle = np.exp(1j * np.linspace(0, 2 * np.pi, 200))
    axes[0].plot(circle.real, circle.imag, c="grey", lw=0.5)
    roots = np.exp(2j * np.pi * np.arange(ORDER) / ORDER)
    axes[0].scatter(roots.real, roots.imag, marker="x", s=80, c="k", label="4th roots of unity", zorder=3)
    for i, (label, (summary, arrays)) in enumerate(fits.items()):
        eig, on_span = arrays["eigenvalues"], arrays["eigenvalues_on_span"]
        axes[0].scatter(eig.real, eig.imag, s=6, alpha=0.25, color=f"C{i}", label=f"{label}: all of M")
        axes[0].scatter(on_span.real, on_span.imag, s=30, marker="o", facecolors="none", color=f"C{i}",
                        label=f"{label}: M on the activations' span")  # fmt: skip
        bins = np.logspace(-4, 0.5, 60)
        axes[1].hist(arrays["error"], bins=bins, alpha=0.5, color=f"C{i}",
                     label=f"{label}: median {summary['equivariance_error_median']:.3g}")  # fmt: skip
        on, off = summary["m4_residual_on_span"], summary["m4_residual_off_span"]
        axes[2].bar([2 * i, 2 * i + 1], [on, off or 0], color=f"C{i}", label=label)
    identity = next(iter(fits.values()))[1]["identity_error"]
    axes[1].hist(identity, bins=np.logspace(-4, 0.5, 60), alpha=0.4, color="grey",
                 label=f"M = I: median {np.median(identity):.3g}")  # fmt: skip
    axes[0].set_aspect("equal"), axes[0].set_title(f"{model}: eigenvalues of M")
    axes[0].legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2)  # below: not over a root
    axes[1].set_xscale("log"), axes[1].legend(fontsize=7)
    axes[1].set_title("||psi(g^p x) - M^p psi(x)|| / ||psi(g^p x)||, held-out", fontsize=9)
    axes[2].set_xticks(range(2 * len(fits)), [f"{lab}\n{side}" for lab in fits for side in ("on span", "off span")],
                       fontsize=6)  # fmt: skip
    axes[2].set_yscale("log"), axes[2].set_title("||M^4 - I|| per unit direction (RMS)", fontsize=9)
    fig.tight_layout()
    return fig


def dataset_figure(images: np.ndarray, shapes: np.ndarray, orientations: np.ndarray, n: int = 8) -> plt.Figure:
    """v1's Figure 2: sample images with their labels (shape/orientation per position TL, TR, BR, BL)."""
    n = min(n, len(images))
    fig, axes = plt.subplots(2, (n + 1) // 2, figsize=(2 * ((n + 1) // 2), 4.6), squeeze=False)
    for ax, image, s, o in zip(axes.ravel(), images[:n], shapes[:n], orientations[:n]):
        _image(ax, image, "\n".join(f"{SHAPES[a]}/o{b}" for a, b in zip(s, o)))
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def shapes_figure() -> plt.Figure:
    """v1's Figure 6: the eight shapes (rows) and their orbits under 90-degree turns; turns that repeat an
    earlier orientation are greyed (orbit size read from the pixels)."""
    tiles, sizes = shape_tiles(), orbit_sizes()
    fig, axes = plt.subplots(len(tiles), ORDER, figsize=(ORDER * 1.2, len(tiles) * 1.25))
    for s, (tile, size) in enumerate(zip(tiles, sizes)):
        for p in range(ORDER):
            _image(axes[s, p], rotate(tile, p) // (1 if p < size else 3),
                   f"{SHAPES[s]} (orbit {size})" if p == 0 else f"g^{p}")  # fmt: skip
    fig.tight_layout()
    return fig


def _card_parts(view, table: pd.DataFrame, dictionary: np.ndarray, m: np.ndarray, latent: int,
                rng: np.random.Generator):  # fmt: skip
    from eqsae.atlas.features import examples, feature_images, latent_column, orbit_strip, rotation_response

    row = table.iloc[latent]
    alpha = np.array([row["mean_activation"]])
    draws, strip = None, None
    if view.decode is not None:
        draws = feature_images(view.decode, view.a_bar, dictionary[latent : latent + 1], alpha)[0]
        through_m, by_pixels = orbit_strip(view.decode, view.a_bar, dictionary[latent : latent + 1], m, alpha)
        strip = through_m[0], by_pixels[0]
    column = latent_column(view.values, view.indices, latent)
    picks = examples(column, 16, 8, rng)
    shown = {name: (view.row_images(rows), column[rows]) for name, rows in picks.items()}
    top = picks["top"]
    partner = latent_column(view.values, view.indices, int(row["partner_1"]))
    responses = rotation_response(column, top), rotation_response(partner, top)
    return row, draws, strip, shown, *responses


def write_cards(directory, view, table: pd.DataFrame, dictionary: np.ndarray, m: np.ndarray, latents: list[int],
                title: str, seed: int = 0) -> list[str]:  # fmt: skip
    """A card PNG per latent into `directory` (feature<id>.png); returns the file names."""
    from pathlib import Path

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng, names = np.random.default_rng(seed), []
    for latent in latents:
        fig = feature_card(*_card_parts(view, table, dictionary, m, latent, rng), title=title)
        names.append(f"feature{latent:05d}.png")
        fig.savefig(directory / names[-1], dpi=90)
        plt.close(fig)
    return names


def gallery_for(view, table: pd.DataFrame, dictionary: np.ndarray, latents: list[int], title: str) -> plt.Figure:
    """The orbit gallery of `latents`: each followed by its partners partner_1..3 (which may be itself)."""
    from eqsae.atlas.features import examples, feature_images, latent_column

    rng, rows = np.random.default_rng(0), []
    for latent in latents:
        cells = []
        for p in range(ORDER):
            j = latent if p == 0 else int(table.iloc[latent][f"partner_{p}"])
            alpha = np.array([max(table.iloc[j]["mean_activation"], table.iloc[latent]["mean_activation"])])
            drawn = None
            if view.decode is not None:
                drawn = feature_images(view.decode, view.a_bar, dictionary[j : j + 1], alpha)[0]
            top = examples(latent_column(view.values, view.indices, j), 1, 0, rng)["top"]
            image = view.row_images(top)[0] if len(top) else np.zeros_like(view.images[0])
            cos = "" if p == 0 else f" cos {table.iloc[latent][f'partner_cos_{p}']:.2f}"
            cells.append((drawn, image, f"p{p}: {j}{cos}"))
        rows.append(cells)
    return orbit_gallery(rows, title)


def write_atlas_cards(cards_dir, gallery_path, view, table: pd.DataFrame, dictionary: np.ndarray, m: np.ndarray,
                      n_cards: int, title: str, seed: int = 0) -> list[str]:  # fmt: skip
    """One SAE's report figures: a card for each of its `n_cards` most often firing live latents and the orbit
    gallery of the first 8; returns the cards' file names."""
    from eqsae.atlas.features import top_features

    latents = top_features(table, n_cards)
    names = write_cards(cards_dir, view, table, dictionary, m, latents, title, seed=seed)
    fig = gallery_for(view, table, dictionary, latents[:8], f"orbit gallery: {title}")
    fig.savefig(gallery_path, dpi=80)
    plt.close(fig)
    return names
