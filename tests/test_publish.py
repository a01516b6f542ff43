"""published/: the per-seed tables behind the README, each small, each with what made it."""

from pathlib import Path

import pandas as pd
import pytest

from eqsae.pipeline.publish import MAX_BYTES, PAPER, publish

ROOT = Path(__file__).parents[1]


def test_publish_copies_the_tables_and_says_what_made_them(tmp_path):
    tables = tmp_path / "tables"
    tables.mkdir()
    for name in PAPER:
        frame = pd.DataFrame(dict(seed=[0, 1], x=[1.0, 2.0]))
        frame.to_parquet(tables / name) if name.endswith(".parquet") else frame.to_csv(tables / name, index=False)
    out = tmp_path / "published" / "paper"
    copied = publish(tables, out, "abc123", "snakemake --cores 2 all")
    assert sorted(p.name for p in copied) == sorted(PAPER)
    text = (out / "README.md").read_text()
    assert "`abc123`" in text and "snakemake --cores 2 all" in text and "| `claims.csv` | 2 | 0, 1 |" in text
    (tables / "claims.csv").unlink()
    with pytest.raises(FileNotFoundError, match="claims.csv"):
        publish(tables, out, "abc123", "x")


@pytest.mark.parametrize("folder", sorted(p for p in (ROOT / "published").glob("*") if p.is_dir()))
def test_every_published_folder_is_small_and_says_its_commit(folder):
    readme = (folder / "README.md").read_text()
    assert "Made by commit `" in readme
    for path in folder.iterdir():
        assert path.stat().st_size < MAX_BYTES, path


def test_the_docs_quote_the_published_toy_orbits_scores():
    """The planted-feature numbers in docs/your-model.md and the README are those of published/toy_orbits/."""

    scores = pd.read_csv(ROOT / "published/toy_orbits/toy_scores.csv").set_index("variant")
    doc = " ".join((ROOT / "docs/your-model.md").read_text().split())
    front = " ".join((ROOT / "README.md").read_text().split())
    for variant in ("invariant", "regular", "wide"):
        row = scores.loc[variant]
        recovery, detection = f"{row.feature_recovery_mean:.2f}", f"{row.detection_top1_mean:.2f}"
        assert f"{recovery} +- {row.feature_recovery_se:.2f}" in doc and f"{detection} +- " in doc, variant
        assert recovery in front and detection in front, variant
