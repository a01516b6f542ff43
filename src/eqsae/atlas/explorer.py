"""The feature explorer: a static web page per run (results/<run>/explorer/index.html) where a researcher
browses every live latent of every SAE the atlas read, not only the report's dozen cards.

No server and no framework: the page opens from file://, where browsers refuse fetch() of JSON, so its data
are scripts that assign globals (data.js for the run, one data.js per SAE, loaded on demand) and its pictures
are one small PNG per live latent beside them. A latent's PNG is a sheet of 64 x 64 cells at the images' own
resolution (the page enlarges them without smoothing): its orbit strip through M and its probing images (the
top ones, a few from each activation-quantile band below them, a few random firing ones).
One 256-colour palette holds both the signed (blue-white-red) and the grey images: a byte per pixel.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eqsae.atlas.features import CLASSES, TURNS, ProbingView, orbit_strip, rotation_response
from eqsae.group import ORDER
from eqsae.io import atomic_write

N_TOP = 8
"""Top-activating probing images per latent (each image once, at its most activating rotation)."""
N_BANDS = 3
"""Activation-quantile bands of a latent's firing images (upper, middle, lower third), each showing a few of its
images (as SAE dashboards do: does the latent mean the same where it fires weakly?)."""
N_PER_BAND = 2
"""Images drawn at random from each band (none already shown among the top ones)."""
N_RANDOM = 2
"""Random firing images besides the top and band ones: what a typical firing looks like. With the bands' 6, a
latent shows 16 images, which keep it within its 15 kB (docs/explorer.md)."""
N_EXAMPLES = N_TOP + N_BANDS * N_PER_BAND + N_RANDOM
"""Probing images a latent's PNG holds at most."""
N_BINS = 16
"""Bins of a latent's activation histogram (its non-zero activations on the probing rows)."""
LEVELS = 128
"""Colour levels per half of the palette: 0..127 blue-white-red (signed images), 128..255 grey."""
SHEET_ROWS = 1 + -(-N_EXAMPLES // ORDER)
"""Rows of |G| cells in a latent's PNG: its orbit strip, then its top, band and random images."""
PAGE = Path(__file__).parent / "explorer_page"
"""The page's template, script and style sheet (package data), inlined into index.html."""
FIELDS = ["latent", "class", "density", "mean_activation", "max_activation", *[f"s_{p}" for p in TURNS],
          *[f"partner_{p}" for p in TURNS], *[f"partner_cos_{p}" for p in TURNS], "rotated_partner",
          "rotated_partner_p", "rotated_partner_cos", "rotated_partner_gain", "has_rotated_partner", "concept",
          "concept_group", "concept_f1", *[f"orbit_corr_{p}" for p in TURNS], "orbit_corr", "orbit_corr_unturned",
          "iso_invariant", "iso_sign", "iso_rotation", "order_residual"]  # fmt: skip
"""The atlas columns a feature's row carries to the page."""


def palette() -> np.ndarray:
    """(256, 3) uint8: matplotlib's RdBu_r in 0..127 (the report's signed images), grey in 128..255."""
    from matplotlib import colormaps

    signed = colormaps["RdBu_r"](np.linspace(0, 1, LEVELS))[:, :3]
    grey = np.repeat(np.linspace(0, 1, LEVELS)[:, None], 3, axis=1)
    return (np.concatenate([signed, grey]) * 255).round().astype(np.uint8)


def colorbar_css(stops: int = 9) -> str:
    """The signed half of the palette as a CSS gradient, bottom (-lim) to top (+lim): the page's colour bar."""
    colors = palette()[np.linspace(0, LEVELS - 1, stops).round().astype(int)]
    return "linear-gradient(to top, " + ", ".join(f"rgb({r},{g},{b})" for r, g, b in colors) + ")"


def signed_levels(images: np.ndarray, lim: float) -> np.ndarray:
    """Palette indices 0..127 of signed images on the shared scale [-lim, lim] (white at 0)."""
    scaled = (np.asarray(images, np.float64) / max(lim, 1e-12) + 1) / 2 * (LEVELS - 1)
    return np.clip(scaled.round(), 0, LEVELS - 1).astype(np.uint8)


def grey_levels(images: np.ndarray) -> np.ndarray:
    """Palette indices 128..255 of grey images, 0..255 or 0..1 as the report draws them."""
    top = 255.0 if images.size and images.max() > 1.5 else 1.0
    return (LEVELS + np.clip(np.asarray(images, np.float64) / top, 0, 1) * (LEVELS - 1)).round().astype(np.uint8)


def sheet(through_m: np.ndarray, shown: np.ndarray) -> tuple[np.ndarray, float]:
    """One latent's PNG as palette indices: row 0 its decoded M^p d (p = 0..|G|-1) on one colour scale, +-lim
    (returned, the page's colour bar; black cells where the source has no decoder: `through_m` NaN), then the
    images it shows (top, bands, random; packed in that order), |G| per row (black cells where fewer fired).
    rot90^p of the p = 0 image is that cell turned by the page (exact for quarter turns): not stored twice."""
    lim = float(max(np.nan_to_num(np.abs(through_m)).max(), 1e-12))
    side = through_m.shape[-1]
    n_rows = SHEET_ROWS
    cells = np.full((n_rows * ORDER, side, side), LEVELS, np.uint8)
    cells[:ORDER] = signed_levels(through_m, lim) if np.isfinite(through_m).all() else LEVELS  # NaN: undrawn
    cells[ORDER : ORDER + len(shown)] = grey_levels(shown)
    grid = cells.reshape(n_rows, ORDER, side, side).transpose(0, 2, 1, 3).reshape(n_rows * side, ORDER * side)
    return grid, lim


def write_png(path: str | Path, levels: np.ndarray) -> None:
    """A palette PNG of `levels` (uint8 indices into palette())."""
    from PIL import Image

    image = Image.fromarray(levels, mode="P")
    image.putpalette(palette().ravel().tolist())
    atomic_write(path, lambda tmp: image.save(tmp, format="PNG", optimize=True))


def _value(x: Any) -> Any:
    """A JSON value: 4 significant digits for floats, None for NaN, plain ints and bools."""
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return None if not np.isfinite(x) else float(f"{x:.4g}")
    return x


def feature_rows(table: pd.DataFrame) -> list[dict[str, Any]]:
    """The live latents' atlas rows as the page reads them (FIELDS present in `table`), by latent id."""
    live = table[~table["dead"].astype(bool)].sort_values("latent")
    fields = [f for f in FIELDS if f in live.columns]
    return [{f: _value(v) for f, v in zip(fields, row)} for row in live[fields].itertuples(index=False)]


def census(table: pd.DataFrame) -> dict[str, int]:
    """Latents, live latents, and live latents per class (the page's census) and with a turned copy."""
    live = table[~table["dead"].astype(bool)]
    counts = {name: int((live["class"] == name).sum()) for name in CLASSES}
    return {"n_latents": len(table), "n_live": len(live), **counts,
            "turned_copy": int(live["has_rotated_partner"].astype(bool).sum())}  # fmt: skip


def histogram(column: np.ndarray, bins: int = N_BINS) -> dict[str, Any]:
    """Counts of a latent's non-zero activations in `bins` equal bins from their min to their max."""
    active = column[column != 0]
    if not len(active):
        return {"lo": 0.0, "hi": 0.0, "counts": [0] * bins}
    lo, hi = float(active.min()), float(active.max())
    counts, _ = np.histogram(active, bins=bins, range=(lo, hi if hi > lo else lo + 1e-6))
    return {"lo": _value(lo), "hi": _value(hi), "counts": counts.tolist()}


def ranked_rows(column: np.ndarray) -> np.ndarray:
    """Each firing image once, at its most activating rotation (an invariant latent would otherwise show one
    image |G| times), highest activation first: the rows the examples are drawn from."""
    active = np.flatnonzero(column != 0)
    ranked = active[np.argsort(-column[active], kind="stable")]
    _, first = np.unique(ranked // ORDER, return_index=True)
    return ranked[np.sort(first)]


def band_edges(values: np.ndarray, n_bands: int = N_BANDS) -> np.ndarray:
    """n_bands + 1 quantiles of the firing images' activations, their min to their max: every firing image lies
    in a band, and each band holds about as many of them."""
    return np.quantile(values, np.linspace(0, 1, n_bands + 1)) if len(values) else np.zeros(n_bands + 1)


def example_rng(seed: int, latent: int) -> np.random.Generator:
    """The band and random draws of one latent: the same on every rebuild of the run's seed."""
    return np.random.default_rng([seed, latent])


def select_examples(column: np.ndarray, rng: np.random.Generator, n_top: int = N_TOP, n_bands: int = N_BANDS,
                    per_band: int = N_PER_BAND, n_random: int = N_RANDOM) -> dict[str, Any]:  # fmt: skip
    """Rows to show for a latent (ranked_rows, each image once): its top n_top; then, highest band first,
    per_band drawn from each activation-quantile band (lo, hi, how many images it holds) of those not shown;
    then n_random drawn from the firing images still not shown. Fewer where fewer fire; never a row twice."""
    ranked = ranked_rows(column)
    values = column[ranked]
    edges = band_edges(values, n_bands)
    band = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, n_bands - 1)
    shown = np.arange(len(ranked)) < n_top
    bands = []
    for b in reversed(range(n_bands)):
        pick = draw(np.flatnonzero((band == b) & ~shown), per_band, rng)
        shown[pick] = True
        bands.append({"lo": edges[b], "hi": edges[b + 1], "n": int((band == b).sum()), "rows": ranked[pick]})
    return {"top": ranked[:n_top], "bands": bands, "random": ranked[draw(np.flatnonzero(~shown), n_random, rng)]}


def draw(pool: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Up to n of pool without replacement, in pool's order (by rank: highest activation first)."""
    return np.sort(rng.choice(pool, min(n, len(pool)), replace=False)) if len(pool) else pool


def example(column: np.ndarray, row: int) -> list[Any]:
    """A shown image as the page reads it, [image id, the group element g^p it fires most at, its activation]: a
    list, not named fields, as a latent shows up to N_EXAMPLES of them within its size budget."""
    return [int(row // ORDER), int(row % ORDER), _value(column[row])]


def latent_examples(column: np.ndarray, rng: np.random.Generator) -> tuple[dict[str, Any], np.ndarray]:
    """A latent's examples for the page (select_examples; the top ones with their rotation response, the
    activation at g^q x of that row for q = 0..|G|-1) and their rows in the order its sheet packs them."""
    chosen = select_examples(column, rng)
    top = with_response(column, chosen["top"])
    bands = [{"lo": _value(b["lo"]), "hi": _value(b["hi"]), "n": b["n"],
              "examples": [example(column, r) for r in b["rows"]]} for b in chosen["bands"]]  # fmt: skip
    rows = np.concatenate([chosen["top"], *(b["rows"] for b in chosen["bands"]), chosen["random"]]).astype(int)
    return {"top": top, "bands": bands, "random": [example(column, r) for r in chosen["random"]]}, rows


def top_examples(column: np.ndarray, n_top: int = N_TOP) -> list[list[Any]]:
    """The latent's top probing images (each image once, at its most activating rotation): [image id, the group
    element g^p it fires most at, its activation there, its activation at g^q x of that row for q = 0..|G|-1
    (the rotation response)]."""
    return with_response(column, ranked_rows(column)[:n_top])


def with_response(column: np.ndarray, rows: np.ndarray) -> list[list[Any]]:
    """Shown images with the latent's activation at g^q x of each row, q = 0..|G|-1: does it follow the turn?"""
    response = rotation_response(column, rows)
    return [[*example(column, r), [_value(a) for a in resp]] for r, resp in zip(rows, response)]


def activation_matrix(view: ProbingView, d_latent: int):
    """(rows, d_latent) sparse CSC matrix of the SAE's TopK activations on the probing rows: a latent's
    column without a pass over every row per latent (the wide SAE has 8,192)."""
    from scipy import sparse

    n, k = view.indices.shape
    active = view.values != 0
    rows = np.repeat(np.arange(n), k).reshape(n, k)
    return sparse.csc_matrix((view.values[active].astype(np.float64), (rows[active], view.indices[active])),
                             shape=(n, d_latent))  # fmt: skip


def dense_column(matrix, latent: int) -> np.ndarray:
    """One latent's activation on every probing row (0 where it is not among the TopK)."""
    out = np.zeros(matrix.shape[0])
    start, stop = matrix.indptr[latent], matrix.indptr[latent + 1]
    out[matrix.indices[start:stop]] = matrix.data[start:stop]
    return out


KEYS = ("base_model", "sae_training", "variant", "k", "seed")
"""What names an SAE in the page's picker."""


def sae_folder(keys: dict[str, Any]) -> str:
    """An SAE's folder under explorer/, as the atlas lays out its tables: seed<s>/<practice>/<model>/<variant>_k<K>."""
    return f"seed{keys['seed']}/{keys['sae_training']}/{keys['base_model']}/{keys['variant']}_k{keys['k']}"


def js_assign(target: str, data: Any) -> str:
    """A script that assigns `data` to a global: how a page opened from file:// reads its data."""
    return f"{target} = {json.dumps(data, separators=(',', ':'), allow_nan=False)};\n"


def write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def latent_views(view: ProbingView, table: pd.DataFrame, dictionary: np.ndarray, m: np.ndarray,
                 ids: np.ndarray, seed: int, chunk: int = 256):  # fmt: skip
    """Per live latent, in chunks: (latent, sheet indices, lim, examples, histogram). The orbit strip is the
    atlas cards' (atlas.orbit_strip at the latent's mean activation); the examples' draws are seeded by the
    run's seed and the latent (example_rng)."""
    acts = activation_matrix(view, len(dictionary))
    alpha_all = table["mean_activation"].to_numpy()
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        if view.decode is None:  # nothing to draw with: the sheet's first row stays black, the page says why
            side = view.images.shape[-1]
            through_m = np.full((len(part), ORDER, side, side), np.nan)
        else:
            through_m, _ = orbit_strip(view.decode, view.a_bar, dictionary[part], m, alpha_all[part])
        for i, latent in enumerate(part):
            column = dense_column(acts, int(latent))
            shown, rows = latent_examples(column, example_rng(seed, int(latent)))
            levels, lim = sheet(through_m[i], view.row_images(rows))
            yield int(latent), levels, lim, shown, histogram(column)


def write_sae_explorer(folder: str | Path, view: ProbingView, table: pd.DataFrame, dictionary: np.ndarray,
                       m: np.ndarray, keys: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """One SAE's part of the page into `folder`: latent<id>.png per live latent, data.js (its features, read
    by the page when picked) and entry.json (its keys and census, for the run's index). Returns the entry."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sae_id = sae_folder(keys)
    features = feature_rows(table)
    by_id = {f["latent"]: f for f in features}
    ids = np.array(list(by_id), int)
    for latent, levels, lim, shown, hist in latent_views(view, table, dictionary, m, ids, int(keys["seed"])):
        write_png(folder / f"latent{latent:05d}.png", levels)
        by_id[latent] |= {"png": f"latent{latent:05d}.png", "lim": _value(lim), **shown, "hist": hist}
    side = int(view.images.shape[-1])
    data = {"id": sae_id, **keys, "side": side, "sheet_rows": SHEET_ROWS, "decoded": view.decode is not None,
            "features": features}  # fmt: skip
    write_text(folder / "data.js", js_assign(f"EQSAE_SAE[{json.dumps(sae_id)}]", data))
    entry = {"id": sae_id, **keys, "census": census(table)}
    write_text(folder / "entry.json", json.dumps(entry, indent=1) + "\n")
    return entry


def page_html(data_version: str = "") -> str:
    """index.html: the template with the style sheet and script inlined (one file besides the data)."""
    html = (PAGE / "index.html").read_text(encoding="utf-8")
    return (html.replace("/*STYLE*/", (PAGE / "explorer.css").read_text(encoding="utf-8"))
            .replace("/*SCRIPT*/", (PAGE / "explorer.js").read_text(encoding="utf-8"))
            .replace("DATA_VERSION", data_version))  # fmt: skip


def run_index(run: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The run's data.js: its SAEs with their census, the classes, and the colour bar. SAEs are ordered key by
    key as `entries` first name each value (the workflow passes them in its config's order: regular first),
    K and seed by number."""
    rank = {k: sorted({e[k] for e in entries}) if k in ("k", "seed") else list(dict.fromkeys(e[k] for e in entries))
            for k in KEYS}  # fmt: skip
    order = sorted(entries, key=lambda e: tuple(rank[k].index(e[k]) for k in KEYS))
    return {"run": run, "keys": list(KEYS), "classes": list(CLASSES), "turns": ORDER, "n_top": N_TOP,
            "colorbar": colorbar_css(), "saes": order}  # fmt: skip


def write_index(folder: str | Path, run: str, entries: list[dict[str, Any]]) -> None:
    """The run's index.html and data.js into `folder`, beside the SAEs' folders."""
    folder = Path(folder)
    index = run_index(run, entries)
    data = js_assign("EQSAE_RUN", index)
    write_text(folder / "data.js", data)
    write_text(folder / "index.html", page_html(hashlib.sha256(data.encode()).hexdigest()[:8]))


def link_parts(folder: str | Path, parts: list[str | Path], entries: list[dict[str, Any]]) -> None:
    """Each SAE's part (write_sae_explorer) into folder/<its id>/ beside the page: the page folder is then one
    output, which the report's zip carries whole, while an edit of the page re-runs none of the SAEs' jobs. Hard
    links where the file system allows (no second copy of the PNGs), else copies; entry.json and Snakemake's
    hidden marker stay behind."""
    for part, entry in zip(parts, entries):
        dest = Path(folder) / entry["id"]
        dest.mkdir(parents=True, exist_ok=True)
        for path in sorted(Path(part).glob("*")):
            if path.name == "data.js" or path.suffix == ".png":
                link_or_copy(path, dest / path.name)


def link_or_copy(source: Path, dest: Path) -> None:
    """A hard link of source at dest, or a copy across file systems."""
    try:
        os.link(source, dest)
    except OSError:
        shutil.copy2(source, dest)


def read_entries(folders: list[str | Path]) -> list[dict[str, Any]]:
    """The entry.json of each SAE's folder (write_sae_explorer), for the run's index."""
    return [json.loads((Path(f) / "entry.json").read_text(encoding="utf-8")) for f in folders]
