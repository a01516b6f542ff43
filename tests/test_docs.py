"""The documentation: README.md stays a short front door whose links resolve and whose code runs, docs/ builds as
a site offline (mkdocs --strict, the API reference from the docstrings), and no page points outside the
repository."""

import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from conftest import ROOT
from torch import nn

README = ROOT / "README.md"
PAGES = sorted((ROOT / "docs").glob("*.md"))
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
MAX_README_LINES = 220


def _documents():
    return [README, *PAGES]


def test_the_readme_is_a_front_door():
    text = README.read_text()
    assert len(text.splitlines()) <= MAX_README_LINES, "README.md is the front door: move detail into docs/"
    for heading in ("## Findings", "## Quickstart", "## Use it on your model", "## Documentation"):
        assert heading in text, heading
    assert text.index("## Findings") < text.index("## Quickstart"), "the findings come first"


@pytest.mark.parametrize("document", _documents(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(document):
    """Every relative link of README.md and docs/*.md names a file that exists (anchors aside); web links are not
    followed."""
    for target in LINK.findall(document.read_text()):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = (document.parent / target.split("#")[0]).resolve()
        assert path.exists(), f"{document.relative_to(ROOT)} links to {target}, which does not exist"


@pytest.mark.parametrize("document", _documents(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_page_points_outside_the_repository(document):
    text = document.read_text()
    for pattern in (r"SPEC\.md", r"\.\./shared", r"\bissue\s*#?\s*\d+", r"\bissue #"):
        assert not re.search(pattern, text, re.IGNORECASE), f"{document.relative_to(ROOT)} mentions {pattern}"


def test_every_page_is_in_the_sites_navigation():
    import yaml

    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())

    def pages(nav):
        for item in nav:
            for value in item.values() if isinstance(item, dict) else [item]:
                yield from pages(value) if isinstance(value, list) else [value]

    assert sorted(pages(config["nav"])) == sorted(p.name for p in PAGES)


@pytest.mark.slow
def test_the_site_builds_offline_with_the_api_reference(tmp_path):
    """`mkdocs build --strict`: any warning (a broken link, a module mkdocstrings cannot read) fails it; the theme
    fetches no font and no plugin reaches the network."""
    if shutil.which("mkdocs") is None and not _has_module("mkdocs"):
        pytest.skip("mkdocs is not installed (pip install -e '.[docs]'; the test extra has it)")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", PYTHONPATH=str(ROOT / "src"))
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert run.returncode == 0, run.stderr[-4000:]
    assert "WARNING" not in run.stderr, run.stderr[-4000:]
    api = (tmp_path / "site" / "api" / "index.html").read_text()
    for name in ("TopKSAE", "orbit_activations", "fit_orbit_generators", "DictionaryAdam", "ProbeConfig"):
        assert name in api, name
    assert "fonts.googleapis.com" not in (tmp_path / "site" / "index.html").read_text()
    print(f"site built in {time.perf_counter() - start:.1f} s")


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


class _SmallCNN(nn.Module):
    """Someone's model: an encoder whose layer "encoder.4" the README reads (64 units on 8x8 digits), a decoder."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2, padding=1),
                                     nn.ReLU(), nn.Flatten())  # fmt: skip
        self.decoder = nn.Linear(64, 64)

    def forward(self, x):
        return self.decoder(self.encoder(x))


SNIPPET = "<!-- docs:your-model -->"
EPOCHS = "m_fit, sae_fit = MFitConfig(), SAETrainConfig()"


@pytest.mark.slow
def test_the_readmes_use_it_on_your_model_runs():
    """The README's code, as written, on a small CNN and 120 of scikit-learn's bundled digits; the one line that
    sets the epoch budgets (the paper's 150 for M, 500 for the SAE) is given 10 and 20 epochs so that it runs in
    seconds."""
    text = README.read_text()
    assert text.count(SNIPPET) == 1
    block = text.split(SNIPPET)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert len([line for line in block.splitlines() if line.strip() and not line.startswith("#")]) <= 15
    assert block.count(EPOCHS) == 1, "the test shortens the epoch budgets on this line"
    code = block.replace(EPOCHS, "m_fit, sae_fit = MFitConfig(epochs=10), SAETrainConfig(epochs=20)")

    from sklearn.datasets import load_digits

    torch.set_num_threads(1)
    digits = load_digits()
    model = _SmallCNN()
    images = digits.images[:120].astype(np.float32) / 16
    labels = {"even": np.repeat(digits.target[:120, None] % 2 == 0, 4, axis=1)}  # the same along an orbit
    scope = dict(model=model, images=images, labels=labels)
    exec(compile(code, "README.md: Use it on your model", "exec"), scope)
    assert scope["acts"].shape == (120, 4, 64)
    r2 = scope["r2"].set_index("element")
    assert r2.loc["mean", "r2_learned"] > r2.loc["mean", "r2_identity"]
    scores = scope["scores"]
    assert {"latents", "reconstructions"} <= set(scores.representation) and scores.f1.notna().any()
    assert len(scope["atlas"]) == scope["sae"].cfg.d_latent
