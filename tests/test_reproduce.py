"""eqsae.pipeline.reproduce: a faithful rerun passes, a planted number beyond its seeds' spread is named."""

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eqsae.pipeline.reproduce import compare_folders, judge, main, split_columns

TOY = Path(__file__).resolve().parents[1] / "published" / "toy"


def scores(seeds=(0, 1, 2)) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = [{"model": m, "k": k, "seed": s, "r2": 0.9 + 0.01 * rng.normal(), "n_alive": int(rng.integers(50, 90)),
             "constant": 4.0, "seconds": rng.uniform(1, 9)}
            for m in ("mlp", "cnn") for k in (8, 16) for s in seeds]  # fmt: skip
    return pd.DataFrame(rows)


def folder(tmp_path: Path, name: str, table: pd.DataFrame) -> Path:
    (tmp_path / name).mkdir()
    table.to_csv(tmp_path / name / "scores.csv", index=False)
    return tmp_path / name


def test_rows_are_named_by_text_seed_and_the_integers_they_need():
    keys, values = split_columns(scores())
    assert keys == ["model", "k", "seed"]  # k names a row; n_alive, a count that moves with the seed, does not
    assert values == ["r2", "n_alive", "constant"]  # the timing is the machine's, not the result's


def test_the_published_toy_reproduces_itself(capsys):
    assert main([str(TOY), str(TOY)]) == 0
    assert "toy_scores.csv" in capsys.readouterr().out


def test_a_planted_number_beyond_its_seeds_is_named_and_rounding_is_not(tmp_path, capsys):
    published = scores()
    run = published.copy()
    sd = published[(published.model == "cnn") & (published.k == 16)].r2.std()
    run.loc[(run.model == "cnn") & (run.k == 16) & (run.seed == 1), "r2"] += 10 * sd
    run.loc[run.model == "mlp", "constant"] *= 1 + 1e-7  # float32 rounding of a number no seed moves
    run["seconds"] *= 3  # another machine's speed
    numbers, _ = compare_folders(folder(tmp_path, "pub", published), folder(tmp_path, "run", run))
    bad = numbers[numbers.status != "within"]
    assert len(bad) == 1 and bad.key.iloc[0] == "model=cnn k=16 seed=1" and bad.column.iloc[0] == "r2"
    assert bad.in_seed_sds.iloc[0] == pytest.approx(10, rel=1e-6)
    assert main([str(tmp_path / "pub"), str(tmp_path / "run")]) == 1
    assert "model=cnn k=16 seed=1" in capsys.readouterr().out


def test_the_tolerance_is_wider_the_more_numbers_are_compared():
    rows = pd.DataFrame({"published": [1.0] * 10, "run": [1.0] * 10, "seed_sd": [0.1] * 10})
    assert judge(rows).k.iloc[0] < judge(pd.concat([rows] * 100)).k.iloc[0]
    assert judge(rows.head(1)).k.iloc[0] == pytest.approx(np.sqrt(2) * 1.959964, rel=1e-5)


def test_a_run_of_fewer_seeds_is_compared_on_its_seeds_and_a_missing_row_is_named(tmp_path):
    published, run = scores(), scores()
    run = run[(run.seed == 0) & ~((run.model == "mlp") & (run.k == 8))]
    numbers, verdicts = compare_folders(folder(tmp_path, "pub", published), folder(tmp_path, "run", run))
    assert set(numbers.key.str.extract(r"seed=(\d)")[0]) == {"0"}
    assert (numbers.status == "missing").sum() == 3 and numbers.key[numbers.status == "missing"].str.startswith(
        "model=mlp k=8").all()


def test_a_changed_verdict_is_named_and_fewer_seeds_compare_none(tmp_path):
    pub, run = tmp_path / "pub", tmp_path / "run"
    shutil.copytree(TOY, pub)
    shutil.copytree(TOY, run)
    claims = pd.read_csv(run / "toy_claims.csv")
    claims.loc[0, "verdict"] = "fails" if claims.verdict[0] != "fails" else "holds"
    claims.to_csv(run / "toy_claims.csv", index=False)
    _, verdicts = compare_folders(pub, run)
    assert (verdicts.status == "changed").sum() == 1 and (verdicts.status == "same").sum() == len(claims) - 1
    assert main([str(pub), str(run)]) == 1
    table = pd.read_csv(run / "toy_scores.csv")
    table[table.seed < 3].to_csv(run / "toy_scores.csv", index=False)
    numbers, verdicts = compare_folders(pub, run)
    assert verdicts.empty and (numbers.status == "within").all()


def test_a_table_the_run_lacks_is_named(tmp_path):
    (tmp_path / "run").mkdir()
    with pytest.raises(FileNotFoundError, match="toy_scores.csv"):
        compare_folders(TOY, tmp_path / "run")


def test_the_docs_quote_the_published_code_path_study():
    """The documentation's code-path numbers and its RESULT 1 verdicts (docs/reproducibility.md; README.md quotes
    the five seeds' verdict) are those of published/code_paths/r2.csv."""
    from eqsae.paper.stats import greater

    root = TOY.parents[1]
    readme = (root / "docs/reproducibility.md").read_text()
    r2 = pd.read_csv(root / "published/code_paths/r2.csv")
    mean = r2[r2.element == "mean"].set_index(["code_path", "stage", "seed"]).r2_learned
    whole = "whole seed"
    for path in ("default", "mkl", "aten", "both"):
        assert f"**{mean[path, whole, 0]:.3f}** |" in readme, path
    seeds = [mean["default", whole, s] for s in range(5)]
    assert " / ".join(f"{v:.3f}" for v in seeds) in readme
    assert f"{np.std(seeds, ddof=1):.4f}" in readme
    five = greater(seeds, 0.98)
    assert five.verdict == "holds" and f"mean {np.mean(seeds):.3f}" in readme
    front = " ".join((root / "README.md").read_text().split())  # the README's quote, wherever its lines break
    assert f"{np.mean(seeds):.3f} over five seeds (95% interval {five.low:.3f}-{five.high:.3f}," in front
    swapped = greater([mean["aten", whole, 0], *seeds[1:]], 0.98)
    assert swapped.verdict == "not established" and f"({swapped.low:.3f}-{swapped.high:.3f})" in readme
    # the same seeds on the Xeon, pinned to AVX2 (seeds 3 and 4 ran as `xeon`): the verdict the machine moves
    xeon = pd.read_csv(root / "published/code_paths/xeon/r2.csv")
    xeon = xeon[xeon.element == "mean"].set_index(["code_path", "seed"]).r2_learned
    pinned = [xeon["default", s] for s in range(3)] + [xeon["xeon", s] for s in (3, 4)]
    there = greater(pinned, 0.98)
    assert there.verdict == "not established"
    assert f"{np.mean(pinned):.3f} ({there.low:.3f}-{there.high:.3f}): **not established** there" in front
    assert f"| 0 | {seeds[0]:.3f} | {pinned[0]:.3f} | **{xeon['native', 0]:.3f}** |" in readme
    assert set(pd.read_csv(root / "published/code_paths/xeon/r2.csv").cpu.dropna()) == {
        "Intel(R) Xeon(R) Processor (avx512f)"}
