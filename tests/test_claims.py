"""The claims table's verdict rules on hand-made per-seed tables, where the right answer is known."""

import numpy as np
import pandas as pd
import pytest

from eqsae.claims import CLAIMS, BEGIN, END, ceiling_rows, claims_table, findings, label_code_r2, splice
from eqsae.io import NonFiniteError
from eqsae.shapes import generate

GROUPS = ["S", "SO", "SP", "SPO"]
SEEDS = (0, 1, 2)
TASKS = 3  # per task group


def jitter(seed: int, task: int) -> float:
    """Seed-to-seed noise whose mean over the three seeds is exactly zero, for every task."""
    return 0.01 * ((seed + task) % 3 - 1)


def scores(recon: dict, latents: dict, ks=(8, 16, 32), noisy=("equivariant",)) -> pd.DataFrame:
    """probe_scores rows for practice `paper`, model cnn, T = 32: F1 per task group in GROUPS order (the same
    at every K unless the value is a dict {k: [...]}), TASKS tasks per group, three probes (the best scores
    the value), three seeds; the SAEs in `noisy` get zero-mean seed noise."""
    rows = []
    for representation, table in (("reconstructions", recon), ("latents", latents)):
        for sae, f1s in table.items():
            for k, seed in ((k, s) for k in ks for s in SEEDS):
                values = f1s[k] if isinstance(f1s, dict) else f1s
                for group, f1 in zip(GROUPS, values):
                    for task in range(TASKS):
                        value = f1 + (jitter(seed, task) if sae in noisy else 0.0)
                        for probe, less in (("knn", 0.1), ("logreg", 0.0), ("xgboost", 0.2)):
                            rows.append(dict(seed=seed, base_model="cnn", sae_training="paper", sae=sae, k=k,
                                             truncation=32, representation=representation, task=f"{group}{task}",
                                             task_group=group, probe=probe, f1=value - less, n_pos=5, n_test=20))
    for seed in SEEDS:
        rows += [dict(seed=seed, base_model="cnn", sae_training=None, sae="base", k=np.nan, truncation=np.nan,
                      representation="activations", task="S0", task_group="S", probe="knn", f1=0.99, n_pos=5,
                      n_test=20)]  # fmt: skip
    return pd.DataFrame(rows)


PAPER_LIKE_LATENTS = {"regular": [0.90, 0.9, 0.9, 0.9], "twolayer": [0.91, 0.9, 0.9, 0.9],
                      "invariant": [0.96, 0.5, 0.5, 0.5], "equivariant": [0.96, 0.5, 0.5, 0.5]}  # fmt: skip


def sae_metrics(l1: dict[str, float], spliced: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame([dict(seed=s, base_model="cnn", sae_training="paper", variant=v, k=16, l1=l1[v] + 3 * (s - 1),
                              spliced_loss=spliced[v] + 0.001 * (s - 1)) for v in l1 for s in SEEDS])  # fmt: skip


def result1(learned=(0.999, 0.986)) -> pd.DataFrame:
    return pd.DataFrame([dict(seed=s, base_model=m, element="mean", r2_learned=r + 0.001 * (s - 1), r2_identity=-1.4)
                         for m, r in zip(("cnn", "mlp"), learned) for s in SEEDS])  # fmt: skip


def atlas(redundancy: dict[str, float]) -> pd.DataFrame:
    """The atlas census per seed: redundancy per variant at K = 16, with seed noise of mean zero."""
    return pd.DataFrame([dict(seed=s, base_model="cnn", sae_training="paper", variant=v, k=16,
                              redundancy=r + 0.01 * (s - 1)) for v, r in redundancy.items() for s in SEEDS])  # fmt: skip


def verdicts(tables, practice="paper") -> dict[str, str]:
    table = claims_table(tables, [practice])
    return dict(zip(table[table.setting == "all"].claim, table[table.setting == "all"].verdict))


def paper_like_tables(equivariant_recon=0.98) -> dict[str, pd.DataFrame]:
    recon = {"regular": [0.9] * 4, "twolayer": {8: [0.9] * 4, 16: [0.92] * 4, 32: [equivariant_recon] * 4},
             "equivariant": [equivariant_recon] * 4}  # fmt: skip
    return dict(result1=result1(), probes=scores(recon, PAPER_LIKE_LATENTS),
                sae=sae_metrics({"regular": 100, "invariant": 150, "equivariant": 150},
                                {"regular": 0.01, "invariant": 0.15, "equivariant": 0.03}),
                atlas=atlas({"regular": 0.7, "equivariant": 0.01}))  # fmt: skip


def test_claims_hold_on_a_table_shaped_like_the_paper():
    tables = paper_like_tables()
    # The two-layer SAE matching at K = 32 leaves "best in every group" within noise there, and only there.
    expected = {claim.id: "holds" for claim in CLAIMS} | {"equivariant_reconstructions_best": "within noise"}
    assert verdicts(tables) == expected
    table = claims_table(tables, ["paper"])
    best = table[(table.claim == "equivariant_reconstructions_best") & (table.setting != "all")]
    assert set(best[best.verdict == "within noise"].setting.str.split().str[1]) == {"K=32"}
    assert (best[best.verdict != "within noise"].verdict == "holds").all()
    tables["probes"] = tables["probes"][tables["probes"].k != 32]
    assert verdicts(tables) == {claim.id: "holds" for claim in CLAIMS} | {"twolayer_matches_at_32": "not run"}


def test_claims_fail_where_the_numbers_say_otherwise():
    recon = {"regular": [0.995] * 4, "twolayer": [0.90] * 4, "equivariant": [0.98] * 4}  # regular beats it
    latents = {**PAPER_LIKE_LATENTS, "equivariant": [0.85, 0.8, 0.8, 0.8], "invariant": [0.85] + [0.8] * 3}
    tables = dict(result1=result1((0.999, 0.93)), probes=scores(recon, latents),
                  sae=sae_metrics({"regular": 200, "invariant": 150, "equivariant": 150},
                                  {"regular": 0.01, "invariant": 0.03, "equivariant": 0.15}),
                  atlas=atlas({"regular": 0.1, "equivariant": 0.5}))  # fmt: skip
    assert verdicts(tables) == {claim.id: "fails" for claim in CLAIMS}


@pytest.mark.parametrize("planted, verdict", [(0.08, "holds"), (0.0, "within noise"), (-0.08, "fails")])
def test_a_planted_difference_holds_a_zero_one_is_within_noise_a_reversed_one_fails(planted, verdict):
    recon = {"regular": [0.9] * 4, "wide": [0.85] * 4, "equivariant": [0.9 + planted] * 4}
    tables = {**paper_like_tables(), "probes": scores(recon, PAPER_LIKE_LATENTS)}
    table = claims_table(tables, ["paper"])
    rows = table[table.claim == "equivariant_reconstructions_best"].set_index("setting")
    assert rows.loc["all", "verdict"] == verdict
    settings = rows.drop(index="all")
    assert len(settings) == 3 * 5 and (settings.verdict == verdict).all()  # 3 K x (4 groups and all)
    s = settings.loc["cnn K=16 T=32 S"]
    assert s.n == len(SEEDS) * TASKS  # paired by seed and task
    assert s.difference == pytest.approx(planted, abs=1e-12)
    d = [jitter(seed, task) for seed in SEEDS for task in range(TASKS)]  # the noise is all in the difference
    assert s.se == pytest.approx(np.std(d, ddof=1) / np.sqrt(len(d)))
    assert "vs regular" in s.numbers  # the strongest other SAE, not the weaker wide one


def test_the_two_layer_match_at_32_needs_a_difference_within_noise():
    assert verdicts(paper_like_tables())["twolayer_matches_at_32"] == "holds"
    tables = paper_like_tables()
    recon = {"regular": [0.9] * 4, "twolayer": {8: [0.9] * 4, 16: [0.92] * 4, 32: [0.90] * 4},
             "equivariant": [0.98] * 4}  # fmt: skip
    tables["probes"] = scores(recon, PAPER_LIKE_LATENTS)
    assert verdicts(tables)["twolayer_matches_at_32"] == "fails"  # beyond noise at K = 32: no match


def test_one_seed_leaves_seed_paired_claims_undecided():
    tables = {name: table[table.seed == 0] for name, table in paper_like_tables().items()}
    by_seed = {"M", "equivariant_latents_drop", "regular_sparser", "equivariant_reconstructs_better"}
    decided = verdicts(tables)
    assert {decided[c] for c in by_seed} == {"one seed: no error bar"}
    table = claims_table(tables, ["paper"])
    by_task = table[(table.claim == "equivariant_latents_lead_on_S") & (table.setting != "all")]
    assert (by_task.n == TASKS).all() and by_task.se.notna().all()  # one seed's tasks still pair


def test_missing_settings_are_not_run():
    recon = {"twolayer": [0.9] * 4, "equivariant": [0.98] * 4}
    tables = dict(result1=result1(), probes=scores(recon, PAPER_LIKE_LATENTS, ks=(16,)),
                  sae=sae_metrics({"regular": 100, "invariant": 150}, {"regular": 0.01, "invariant": 0.1}))
    table = claims_table(tables, ["paper", "standard"]).set_index(["claim", "sae_training"])
    assert table.loc[("twolayer_matches_at_32", "paper"), "verdict"] == "not run"
    assert table.loc[("equivariant_reconstructs_better", "paper"), "verdict"] == "not run"
    standard = table.xs("standard", level="sae_training").drop(index="M")  # M is fitted once for both
    assert (standard.verdict == "not run").all()


def test_ceiling_rows_and_an_exact_label_code():
    data = generate(300, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    table = rng.normal(size=(4, 8, 4, 16))  # (position, shape, orientation) -> an additive code
    acts = sum(table[q, data.shapes[..., q], data.orientations[..., q]] for q in range(4))
    assert label_code_r2(acts, data.shapes, data.orientations) == pytest.approx(1.0, abs=1e-9)
    noisy = acts + rng.normal(size=acts.shape) * acts.std()
    assert label_code_r2(noisy, data.shapes, data.orientations) < 0.6
    rows = ceiling_rows(scores({}, {}), pd.DataFrame(dict(seed=[0, 1], base_model="cnn", r2=[1.0, 1.0])))
    assert list(rows.claim) == ["ceiling_base_probe", "ceiling_label_code"]
    assert "cnn: 0.99" in rows.numbers[0]


@pytest.mark.parametrize("table, column, bad", [("result1", "r2_learned", np.nan), ("result1", "r2_identity", -np.inf),
                                                ("sae", "l1", np.nan), ("sae", "spliced_loss", np.inf),
                                                ("probes", "f1", np.nan), ("probes", "k", np.inf)])  # fmt: skip
def test_claims_refuse_non_finite_numbers(table, column, bad):
    tables = paper_like_tables()
    claims_table(tables, ["paper"])  # the base rows' missing k and truncation are fine
    broken = tables[table].copy()
    broken.loc[broken.index[-1], column] = bad
    with pytest.raises(NonFiniteError, match=rf"^{table}: column '{column}' has 1 non-finite value"):
        claims_table({**tables, table: broken}, ["paper", "standard"])


def test_ceiling_rows_refuse_non_finite_numbers():
    probes = scores({}, {})
    with pytest.raises(NonFiniteError, match="probes: column 'f1'"):
        ceiling_rows(probes.assign(f1=np.nan), pd.DataFrame(dict(seed=[0], base_model="cnn", r2=[1.0])))
    with pytest.raises(NonFiniteError, match="code_r2: the label code R\\^2 is nan for mlp"):
        ceiling_rows(probes, pd.DataFrame(dict(seed=[0, 0], base_model=["cnn", "mlp"], r2=[1.0, np.nan])))


def test_the_readme_section_is_generated_from_the_table():
    table = claims_table(paper_like_tables(), ["paper"])
    section = findings(table)
    assert section.count("\n") == 2 + len(CLAIMS) and "| holds |" in section
    readme = f"# x\n\n## What we found\n{BEGIN}\nold hand-written text\n{END}\n\n## Next\n"
    spliced = splice(readme, section)
    assert "old hand-written" not in spliced and section in spliced and spliced.endswith(f"{END}\n\n## Next\n")
    assert splice(spliced, section) == spliced
    with pytest.raises(ValueError, match="findings:end"):
        splice("# no markers\n", section)


def test_the_readmes_findings_are_the_generated_table():
    """Between the markers goes only what `python -m eqsae.claims` writes (empty until the paper run has
    made claims.csv); nothing hand-written."""
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert readme.count(BEGIN) == 1 and readme.count(END) == 1
    section = readme.split(BEGIN)[1].split(END)[0].strip().splitlines()
    if section:
        header = findings(claims_table(paper_like_tables(), ["paper"])).splitlines()[:2]
        assert section[:2] == header, "regenerate: python -m eqsae.claims README.md results/paper/tables/claims.csv"
        assert len(section) >= 2 + len(CLAIMS) and all(line.count(" | ") == 4 for line in section[2:])


def test_the_command_rewrites_the_readme_from_claims_csv(tmp_path):
    from eqsae.claims import main
    from eqsae.io import write_table

    table = claims_table(paper_like_tables(), ["paper"])
    write_table(tmp_path / "claims.csv", table, allow_missing=("difference", "se", "n"))
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{BEGIN}\n{END}\nrest\n")
    main([str(readme), str(tmp_path / "claims.csv")])
    text = readme.read_text()
    assert text.startswith(f"intro\n{BEGIN}\n| claim |") and text.endswith(f"{END}\nrest\n")
    assert text.count("| paper | holds |") == len(CLAIMS) - 1  # all but "best in every group" (see above)
