"""The feature explorer: its data from a small synthetic atlas (an exactly equivariant pixel 'model'), and
the page itself in a real browser (Debian's chromium and chromium-driver; skipped without them)."""

import dataclasses
import io
import json
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from eqsae.atlas.explorer import (
    LEVELS,
    N_BANDS,
    N_EXAMPLES,
    N_PER_BAND,
    N_RANDOM,
    N_TOP,
    SHEET_ROWS,
    census,
    example_rng,
    feature_rows,
    grey_levels,
    histogram,
    link_parts,
    page_html,
    ranked_rows,
    run_index,
    sae_folder,
    select_examples,
    sheet,
    signed_levels,
    top_examples,
    write_index,
    write_sae_explorer,  # fmt: skip
)
from eqsae.atlas.features import AtlasConfig, ProbingView, latent_table
from eqsae.group import ORDER, rotate
from eqsae.probing.tasks import Task

SIDE = 8  # images SIDE x SIDE; the toy model's activation is the image's pixels


def pixel_turn() -> np.ndarray:
    basis = np.eye(SIDE * SIDE).reshape(-1, SIDE, SIDE)
    return np.stack([rotate(b, 1).ravel() for b in basis], axis=1)  # column i = M e_i


def synthetic_sae(n_images: int = 12, seed: int = 0):
    """(view, table, dictionary, M) of a toy SAE read by the real atlas: atoms 0..3 one orbit (each the turned
    copy of the last), atom 4 invariant, atom 5 never in the TopK (dead), atom 6 a lone random atom."""
    rng = np.random.default_rng(seed)
    m = pixel_turn()
    blob = rng.normal(size=(SIDE, SIDE))
    square = sum(rotate(blob, p) for p in range(ORDER))
    dictionary = np.stack([*(rotate(blob, p).ravel() for p in range(ORDER)), square.ravel(),
                           rng.normal(size=SIDE * SIDE), rng.normal(size=SIDE * SIDE)])  # fmt: skip
    dictionary /= np.linalg.norm(dictionary, axis=1, keepdims=True)
    images = rng.integers(0, 256, size=(n_images, SIDE, SIDE)).astype(np.uint8)
    psi = np.stack([rotate(im, p).ravel() / 255 for im in images for p in range(ORDER)])
    scores = np.abs(psi @ dictionary.T)
    scores[:, 5] = -1  # never among the TopK: dead
    indices = np.argsort(-scores, axis=1)[:, :2]
    values = np.take_along_axis(psi @ dictionary.T, indices, 1)
    labels = rng.random((len(psi), 2)) < 0.5
    tasks = [Task("S", 0), Task("SO", 1, orientation=0)]
    decode = lambda x: np.asarray(x).reshape(len(x), SIDE, SIDE)  # noqa: E731
    view = ProbingView(values, indices, labels, tasks, psi.mean(0), decode, images)
    table = latent_table(dictionary, m, values, indices, labels, tasks, decode, psi.mean(0), AtlasConfig())
    return view, table, dictionary, m


KEYS = {"base_model": "cnn", "sae_training": "paper", "variant": "regular", "k": 2, "seed": 0}
KEYS_ID = "seed0/paper/cnn/regular_k2"


def build_page(folder: Path, variants=("regular", "wide"), decoded: bool = True) -> list[dict]:
    """A run's explorer from synthetic SAEs, as the workflow's two rules write it: each SAE's part apart, then
    the page folder with the parts linked in. `decoded` False: a source without a decoder (a user's table)."""
    entries, parts = [], []
    for i, variant in enumerate(variants):
        view, table, dictionary, m = synthetic_sae(n_images=40, seed=i)  # enough for random examples
        view = view if decoded else dataclasses.replace(view, decode=None)
        keys = {**KEYS, "variant": variant}
        parts.append(folder / "parts" / sae_folder(keys))
        entries.append(write_sae_explorer(parts[-1], view, table, dictionary, m, keys))
        (parts[-1] / ".snakemake_timestamp").touch()  # as Snakemake marks a folder it made
    link_parts(folder, parts, entries)
    write_index(folder, "synthetic", entries)
    return entries


def test_feature_rows_are_the_live_latents_with_json_values():
    _, table, _, _ = synthetic_sae()
    rows = feature_rows(table)
    assert [r["latent"] for r in rows] == [0, 1, 2, 3, 4, 6] == list(table.latent[~table.dead])
    assert all(isinstance(r["has_rotated_partner"], bool) and isinstance(r["latent"], int) for r in rows)
    json.dumps(rows, allow_nan=False)  # NaN became None
    assert rows[0]["class"] == "period 4" and rows[4]["class"] == "invariant"
    assert rows[0]["has_rotated_partner"] and rows[0]["rotated_partner"] in {1, 2, 3}


def test_census_counts_live_latents_per_class():
    _, table, _, _ = synthetic_sae()
    c = census(table)
    assert c["n_latents"] == 7 and c["n_live"] == 6 and c["invariant"] == 1 and c["period 4"] >= 4
    assert sum(c[name] for name in ("invariant", "period 2", "period 4", "mixed")) == 6
    assert c["turned_copy"] == int(table.has_rotated_partner.sum())


def test_histogram_and_top_examples_read_the_latents_column():
    column = np.zeros(12)  # 3 images x 4 rotations
    column[[1, 2, 6, 11]] = [5.0, 4.0, 3.0, 1.0]
    hist = histogram(column, bins=4)
    assert hist["lo"] == 1 and hist["hi"] == 5 and sum(hist["counts"]) == 4
    tops = top_examples(column, 3)
    # image 0 once, at g^1 (its most activating rotation); its response runs over rows 1, 2, 3, 0
    assert [t[:3] for t in tops] == [[0, 1, 5.0], [1, 2, 3.0], [2, 3, 1.0]]
    assert tops[0][3] == [5.0, 4.0, 0.0, 0.0]
    assert histogram(np.zeros(4))["counts"] == [0] * 16


def firing_column(n_images: int, n_firing: int, seed: int = 0) -> np.ndarray:
    """A latent's activations on n_images x |G| rows, firing on n_firing images (some at two rotations)."""
    rng = np.random.default_rng(seed)
    column = np.zeros(n_images * ORDER)
    images = rng.choice(n_images, n_firing, replace=False)
    column[images * ORDER + rng.integers(0, ORDER, n_firing)] = rng.random(n_firing) + 0.1
    column[images[::3] * ORDER] += 0.05  # a second rotation of some images fires too (the larger counts)
    return column


def shown_rows(chosen: dict) -> list[int]:
    return [*chosen["top"], *(r for b in chosen["bands"] for r in b["rows"]), *chosen["random"]]


def test_band_and_random_examples_cover_the_firing_range_once_each():
    column = firing_column(100, 60)
    ranked = ranked_rows(column)
    assert len(ranked) == 60 and len(set(ranked // ORDER)) == 60  # each firing image once, at its best rotation
    assert all(column[r] == column[(r // ORDER) * ORDER : (r // ORDER + 1) * ORDER].max() for r in ranked)
    chosen = select_examples(column, example_rng(0, 7))
    assert list(chosen["top"]) == list(ranked[:N_TOP])
    bands = chosen["bands"]
    assert len(bands) == N_BANDS and all(len(b["rows"]) == N_PER_BAND for b in bands)
    assert bands[-1]["lo"] == column[ranked].min() and bands[0]["hi"] == column[ranked].max()  # the whole range
    assert all(a["lo"] == b["hi"] for a, b in zip(bands, bands[1:]))  # highest band first, no gap between bands
    assert sum(b["n"] for b in bands) == len(ranked) and all(b["n"] >= len(ranked) // N_BANDS - 1 for b in bands)
    assert all(b["lo"] <= column[r] <= b["hi"] for b in bands for r in b["rows"])
    assert len(chosen["random"]) == N_RANDOM and set(column[chosen["random"]] != 0) == {True}
    rows = shown_rows(chosen)
    assert len(rows) == len(set(rows)) == N_EXAMPLES and len({r // ORDER for r in rows}) == N_EXAMPLES


def test_examples_are_drawn_the_same_on_every_rebuild_and_differ_between_latents():
    column = firing_column(100, 60)
    again = [shown_rows(select_examples(column, example_rng(0, 7))) for _ in range(2)]
    assert again[0] == again[1]
    others = [shown_rows(select_examples(column, example_rng(seed, latent))) for seed, latent in ((0, 8), (1, 7))]
    assert all(o[:N_TOP] == again[0][:N_TOP] and o[N_TOP:] != again[0][N_TOP:] for o in others)


def test_fewer_firing_images_than_requested_show_each_once():
    column = firing_column(30, N_TOP + 3)
    chosen = select_examples(column, example_rng(0, 0))
    rows = shown_rows(chosen)
    assert sorted(rows) == sorted(ranked_rows(column)) and len(rows) == N_TOP + 3  # all of them, none twice
    assert sum(b["n"] for b in chosen["bands"]) == N_TOP + 3 and len(chosen["random"]) < 3  # a band may hold 3
    one = select_examples(firing_column(5, 1), example_rng(0, 0))
    assert len(one["top"]) == 1 and shown_rows(one) == list(one["top"]) and all(b["n"] <= 1 for b in one["bands"])
    none = select_examples(np.zeros(8), example_rng(0, 0))
    assert shown_rows(none) == [] and [b["n"] for b in none["bands"]] == [0] * N_BANDS


def test_a_sheet_holds_the_orbit_strip_on_one_scale_and_the_top_images():
    rng = np.random.default_rng(0)
    through_m = rng.normal(size=(ORDER, SIDE, SIDE))
    tops = rng.integers(0, 256, size=(3, SIDE, SIDE))
    levels, lim = sheet(through_m, tops)
    assert SHEET_ROWS == 1 + -(-N_EXAMPLES // ORDER)
    assert levels.shape == (SHEET_ROWS * SIDE, ORDER * SIDE) and lim == np.abs(through_m).max()
    assert (levels[:SIDE] < LEVELS).all() and (levels[SIDE:] >= LEVELS).all()  # signed, then grey
    assert np.array_equal(levels[:SIDE, SIDE : 2 * SIDE], signed_levels(through_m[1], lim))
    assert np.array_equal(levels[SIDE : 2 * SIDE, :SIDE], grey_levels(tops[0]))
    assert (levels[2 * SIDE :] == LEVELS).all()  # fewer than N_EXAMPLES images: black cells
    assert signed_levels(np.array([-2.0, 0.0, 2.0]), 2).tolist() == [0, 64, 127]


def test_a_source_without_a_decoder_shows_its_inputs_and_no_drawn_atom(tmp_path):
    """A user's orbit table with images but no decoder: the sheet's strip row stays black, the data say so."""
    view, table, dictionary, m = synthetic_sae(n_images=40)
    entry = write_sae_explorer(tmp_path, dataclasses.replace(view, decode=None), table, dictionary, m, KEYS)
    data = sae_data(tmp_path / "data.js")
    assert data["decoded"] is False and entry["census"]["n_live"] == len(data["features"]) == 6
    levels = np.asarray(Image.open(tmp_path / data["features"][0]["png"]))
    assert (levels[:SIDE] == LEVELS).all() and (levels[SIDE : 2 * SIDE] >= LEVELS).all()  # black strip, grey inputs
    assert not (levels[SIDE : 2 * SIDE] == LEVELS).all()  # its top inputs are there
    build_page(tmp_path / "drawn", variants=("regular",))
    assert sae_data(tmp_path / "drawn" / KEYS_ID / "data.js")["decoded"] is True


def test_report_cards_draw_the_atom_where_a_decoder_exists_and_say_so_where_none(tmp_path):
    """The report's cards and gallery for a source without a decoder: the same top latents and inputs, no atom."""
    from eqsae.atlas.features import top_features
    from eqsae.atlas.plots import write_atlas_cards

    view, table, dictionary, m = synthetic_sae(n_images=40)
    pixels = {}
    for name, v in {"drawn": view, "undrawn": dataclasses.replace(view, decode=None)}.items():
        names = write_atlas_cards(tmp_path / name, tmp_path / f"{name}.png", v, table, dictionary, m, 3, name)
        assert names == [f"feature{i:05d}.png" for i in top_features(table, 3)]
        assert (tmp_path / f"{name}.png").stat().st_size > 5_000
        pixels[name] = np.asarray(Image.open(tmp_path / name / names[0]).convert("L"), float)
    assert pixels["drawn"].shape == pixels["undrawn"].shape
    top = slice(0, pixels["drawn"].shape[0] // 4)  # the header and the atom's rows: drawn in one card only
    assert np.abs(pixels["drawn"][top] - pixels["undrawn"][top]).mean() > 5


def sae_data(path: Path) -> dict:
    """An SAE's data.js as the page reads it (EQSAE_SAE[<id>] = {...})."""
    return json.loads(path.read_text().split(" = ", 1)[1].rstrip().rstrip(";"))


def test_the_page_data_name_every_live_latent_with_its_png(tmp_path):
    entries = build_page(tmp_path)
    assert [e["id"] for e in entries] == ["seed0/paper/cnn/regular_k2", "seed0/paper/cnn/wide_k2"]
    text = (tmp_path / "seed0/paper/cnn/regular_k2/data.js").read_text()
    prefix = 'EQSAE_SAE["seed0/paper/cnn/regular_k2"] = '
    assert text.startswith(prefix)
    data = json.loads(text[len(prefix) :].rstrip().rstrip(";"))
    assert [f["latent"] for f in data["features"]] == [0, 1, 2, 3, 4, 6] and data["side"] == SIDE
    for f in data["features"]:
        assert (tmp_path / "seed0/paper/cnn/regular_k2" / f["png"]).stat().st_size > 50
        assert 1 <= len(f["top"]) <= N_TOP and f["lim"] > 0 and sum(f["hist"]["counts"]) > 0
        assert len(f["bands"]) == N_BANDS and all(b["lo"] <= e[2] <= b["hi"] for b in f["bands"] for e in b["examples"])
    assert not (tmp_path / "seed0/paper/cnn/regular_k2/latent00005.png").exists()  # dead: no view
    part = tmp_path / "parts/seed0/paper/cnn/regular_k2"  # the page folder holds each SAE's part but its entry
    linked = sorted(p.name for p in (tmp_path / "seed0/paper/cnn/regular_k2").iterdir())
    assert linked == sorted(p.name for p in part.iterdir() if p.name not in ("entry.json", ".snakemake_timestamp"))
    assert "data.js" in linked and len(linked) == 1 + len(data["features"])
    assert (tmp_path / "seed0/paper/cnn/regular_k2/data.js").read_bytes() == (part / "data.js").read_bytes()
    index = (tmp_path / "data.js").read_text()
    assert index.startswith("EQSAE_RUN = ") and '"n_live":6' in index
    html = (tmp_path / "index.html").read_text()
    assert "/*SCRIPT*/" not in html and "/*STYLE*/" not in html and 'src="data.js?v=' in html


def test_the_index_orders_saes_for_the_picker():
    entries = [{"id": f"{v}{k}", **KEYS, "variant": v, "k": k, "census": {}} for k in (32, 8) for v in ("wide", "eq")]
    saes = run_index("r", entries)["saes"]
    assert [(e["variant"], e["k"]) for e in saes] == [("wide", 8), ("wide", 32), ("eq", 8), ("eq", 32)]  # as given
    assert "linear-gradient(to top, rgb(" in run_index("r", entries)["colorbar"]
    html = page_html()
    assert html.count("<script") == 3 and html.count("</script>") == 3  # nothing inlined closes a script early


def chrome():
    """A headless Chromium driven by selenium, its console log kept; skips where either is missing."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (browser and driver):
        pytest.skip("not installed: chromium and chromium-driver (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1600,1100"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver))


def wait_for(driver, script: str, timeout: float = 10):
    """Poll a JavaScript expression until it is truthy; returns its value."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if value := driver.execute_script(f"return {script}"):
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for: {script}")


def errors(driver) -> list[str]:
    """The page's JavaScript errors: the browser's console at SEVERE, and what the page's own handler caught."""
    logged = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    return logged + driver.execute_script("return window.EQSAE_ERRORS || ['the page never ran']")


@pytest.fixture(scope="module")
def browser():
    driver = chrome()
    yield driver
    driver.quit()


def test_the_page_from_file_lists_every_live_latent_and_opens_orbit_strips_and_partners(tmp_path, browser):
    entries = build_page(tmp_path)
    start = time.monotonic()
    browser.get((tmp_path / "index.html").as_uri())
    live = [int(j) for j in re.findall(r'"latent":(\d+)', (tmp_path / entries[0]["id"] / "data.js").read_text())]
    wait_for(browser, f"document.querySelectorAll('#feature-table tbody tr').length === {len(live)}")
    print(f"explorer: table of {len(live)} latents shown {time.monotonic() - start:.2f} s after loading")
    rows = browser.find_elements("css selector", "#feature-table tbody tr")
    assert sorted(int(r.get_attribute("data-latent")) for r in rows) == sorted(set(live)) == [0, 1, 2, 3, 4, 6]
    assert browser.find_element("id", "pick-variant").get_attribute("value") == "regular"
    assert len(browser.find_elements("css selector", "#scatter circle")) == len(rows)
    browser.find_element("css selector", "#feature-table tbody tr[data-latent='0']").click()
    assert wait_for(browser, "document.getElementById('detail').dataset.loaded") == "latent00000.png"
    assert len(browser.find_elements("css selector", "#detail .orbit .cell")) == 2 * ORDER
    # the toy model is exactly equivariant: the page's turned p = 0 cell (rot90^p) shows what Dec(M^p d) does
    strips = [browser.find_elements("css selector", f"#detail .orbit .strip:nth-child({r}) .cell") for r in (1, 2)]
    shot = lambda cell: np.asarray(Image.open(io.BytesIO(cell.screenshot_as_png)).convert("L"), float)  # noqa: E731
    shots = [[shot(c) for c in row] for row in strips]
    diff = lambda p, q: np.abs(shots[0][p] - shots[1][q]).mean()  # noqa: E731 (Dec M^p d against rot90^q)
    assert all(diff(p, p) < 2 for p in range(ORDER)) and diff(1, 3) > 2 and diff(3, 1) > 2  # turned the right way
    tops = browser.find_elements("css selector", "#detail .tops figure.top")
    assert tops and all(re.search(r"at g\^\d", t.text) for t in tops)
    style = tops[0].find_element("css selector", ".cell").get_attribute("style")
    assert "seed0/paper/cnn/regular_k2/latent00000.png" in style
    data = sae_data(tmp_path / entries[0]["id"] / "data.js")["features"][0]
    bands = browser.find_elements("css selector", "#detail .band figure.band-example")
    random = browser.find_elements("css selector", "#detail figure.random-example")
    assert len(tops) == len(data["top"]) and len(random) == len(data["random"]) > 0
    assert len(bands) == sum(len(b["examples"]) for b in data["bands"]) > 0
    assert len(browser.find_elements("css selector", "#detail .band")) == len(data["bands"])
    first = bands[0].find_element("css selector", ".cell").get_attribute("style")  # packed after the top images
    k = len(data["top"])
    at = re.search(r"background-position: -?(\d+)px -?(\d+)px", first).groups()
    assert tuple(map(int, at)) == (k % ORDER * 64, (1 + k // ORDER) * 64), first
    link = browser.find_element("css selector", "#detail a.partner")
    partner = link.get_attribute("data-latent")
    link.click()
    wait_for(browser, f"document.querySelector('#detail h2').textContent.startsWith('latent {partner} ')")
    assert f"latent={partner}" in browser.current_url
    assert wait_for(browser, "document.getElementById('detail').dataset.loaded") == f"latent{int(partner):05d}.png"
    shot = tmp_path / "explorer.png"
    browser.save_screenshot(str(shot))
    print(f"explorer screenshot: {shot}")
    assert errors(browser) == []


def test_a_page_without_a_decoder_says_so_and_shows_the_inputs(tmp_path, browser):
    build_page(tmp_path, variants=("regular",), decoded=False)
    browser.get((tmp_path / "index.html").as_uri())
    wait_for(browser, "document.querySelectorAll('#feature-table tbody tr').length > 0")
    browser.find_element("css selector", "#feature-table tbody tr[data-latent='0']").click()
    assert wait_for(browser, "document.getElementById('detail').dataset.loaded") == "latent00000.png"
    assert "no decoder" in browser.find_element("id", "undrawn").text
    assert not browser.find_elements("css selector", "#detail .orbit") and browser.find_elements("css selector", "#detail figure.top")
    assert errors(browser) == []


def test_the_picker_and_the_filters_change_what_the_table_lists(tmp_path, browser):
    build_page(tmp_path)
    browser.get((tmp_path / "index.html").as_uri())
    wait_for(browser, "document.querySelectorAll('#feature-table tbody tr').length > 0")
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element("id", "pick-variant")).select_by_value("wide")
    wait_for(browser, "location.hash.includes('wide_k2') && document.getElementById('status').textContent === ''")
    Select(browser.find_element("id", "f-class")).select_by_value("invariant")
    shown = browser.find_elements("css selector", "#feature-table tbody tr")
    assert [r.get_attribute("data-latent") for r in shown] == ["4"]
    concept = browser.find_element("id", "f-concept")
    Select(browser.find_element("id", "f-class")).select_by_value("")
    concept.send_keys("no such concept")
    assert browser.find_elements("css selector", "#feature-table tbody tr") == []
    assert errors(browser) == []


def shared_concept(folder: Path, entries: list[dict]) -> tuple[str, dict[str, list[int]]]:
    """The concept that is best for latents of the most SAEs of the page, and those latents per SAE."""
    best = {}
    for e in entries:
        for f in sae_data(folder / e["id"] / "data.js")["features"]:
            best.setdefault(f["concept"], {}).setdefault(e["id"], []).append(f["latent"])
    concept = max(sorted(best, key=str), key=lambda c: len(best[c]))
    return concept, best[concept]


def open_concept_view(browser, page: Path, sae: str, concept: str) -> dict[str, list[int]]:
    """Open a concept's bookmarkable view; returns the latents it lists per SAE."""
    from urllib.parse import urlencode

    browser.get(page.as_uri() + "#" + urlencode({"sae": sae, "concept": concept}))
    assert wait_for(browser, "document.getElementById('detail').dataset.concept", timeout=30) == concept
    listed = {}
    for link in browser.find_elements("css selector", "#concept-table a.concept-latent"):
        listed.setdefault(link.get_attribute("data-sae"), []).append(int(link.get_attribute("data-latent")))
    return listed


def click_concept_latent(browser, sae: str, latent: int) -> None:
    """Click a latent of the concept view and wait for that latent's own view."""
    browser.find_element("css selector", f"#concept-table a[data-sae='{sae}'][data-latent='{latent}']").click()
    wait_for(browser, f"document.querySelector('#detail h2').textContent.startsWith('latent {latent} ')")
    assert f"latent={latent}" in browser.current_url and sae.replace("/", "%2F") in browser.current_url
    assert wait_for(browser, "document.getElementById('detail').dataset.loaded") == f"latent{latent:05d}.png"


def test_a_concept_view_lists_its_latents_in_every_sae_and_opens_them(tmp_path, browser):
    entries = build_page(tmp_path)
    concept, expected = shared_concept(tmp_path, entries)
    assert len(expected) == 2  # both synthetic SAEs hold a latent of it
    listed = open_concept_view(browser, tmp_path / "index.html", entries[0]["id"], concept)
    assert {sae: sorted(latents) for sae, latents in listed.items()} == {s: sorted(v) for s, v in expected.items()}
    f1 = [float(td.text) for td in browser.find_elements("css selector", "#concept-table tbody tr td:nth-child(4)")]
    assert len(f1) == sum(map(len, expected.values()))
    thumbs = browser.find_elements("css selector", "#concept-table .cell")
    assert len(thumbs) == len(f1) and entries[1]["id"] in thumbs[-1].get_attribute("style")
    other = entries[1]["id"]
    click_concept_latent(browser, other, expected[other][0])
    assert browser.find_element("id", "pick-variant").get_attribute("value") == "wide"
    # back to it from the latent's view, and from the concept search
    browser.find_element("css selector", "#detail a.concept-link").click()
    wait_for(browser, "document.getElementById('detail').dataset.concept")
    assert browser.find_element("css selector", "#detail h2").text.startswith("concept ")
    browser.get((tmp_path / "index.html").as_uri())
    wait_for(browser, "document.querySelectorAll('#feature-table tbody tr').length > 0")
    across = browser.find_element("id", "concept-across")
    assert not across.is_displayed()
    browser.find_element("id", "f-concept").send_keys(concept)
    assert across.is_displayed()
    across.click()
    assert wait_for(browser, "document.getElementById('detail').dataset.concept") == concept
    assert errors(browser) == []
