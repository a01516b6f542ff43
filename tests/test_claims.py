"""The claims table's verdict rules on hand-made tables, where the right answer is known."""

import numpy as np
import pandas as pd
import pytest

from eqsae.claims import CLAIMS, ceiling_rows, claims_table, label_code_r2
from eqsae.io import NonFiniteError
from eqsae.shapes import generate

GROUPS = ["S", "SO", "SP", "SPO", "all"]


def summary(recon: dict[str, list[float]], latents: dict[str, list[float]], ks=(8, 16, 32)) -> pd.DataFrame:
    """probe_summary rows for practice `paper`, model cnn, T = 32; F1 per group in GROUPS order, same at
    every K unless a value is a dict {k: [...]}."""
    rows = []
    for representation, table in (("reconstructions", recon), ("latents", latents)):
        for sae, f1s in table.items():
            for k in ks:
                values = f1s[k] if isinstance(f1s, dict) else f1s
                for group, f1 in zip(GROUPS, values):
                    rows.append(dict(base_model="cnn", sae_training="paper", sae=sae, k=k, truncation=32,
                                     representation=representation, task_group=group, f1_best=f1,
                                     f1_xgboost=f1, n_tasks=1))  # fmt: skip
    rows.append(dict(base_model="cnn", sae_training=np.nan, sae="base", k=np.nan, truncation=np.nan,
                     representation="activations", task_group="all", f1_best=0.99, f1_xgboost=0.99, n_tasks=180))
    return pd.DataFrame(rows)


PAPER_LIKE_LATENTS = {"regular": [0.90, 0.9, 0.9, 0.9, 0.9], "twolayer": [0.91, 0.9, 0.9, 0.9, 0.9],
                      "invariant": [0.96, 0.5, 0.5, 0.5, 0.6], "equivariant": [0.96, 0.5, 0.5, 0.5, 0.6]}


def verdicts(tables, practices=("paper",)) -> dict[str, str]:
    table = claims_table(tables, list(practices))
    return dict(zip(table.claim, table.holds_paper))


def sae_metrics(l1: dict[str, float], spliced: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame([dict(base_model="cnn", sae_training="paper", variant=v, k=16, l1=l1[v],
                              spliced_loss=spliced[v]) for v in l1])  # fmt: skip


RESULT1 = pd.DataFrame({"base_model": ["cnn", "mlp"], "rotation": ["mean", "mean"], "r2_learned": [0.999, 0.986],
                        "r2_identity": [-1.5, -1.3]})  # fmt: skip


def test_claims_hold_on_a_table_shaped_like_the_paper():
    recon = {"regular": [0.9] * 5, "twolayer": {8: [0.9] * 5, 16: [0.92] * 5, 32: [0.975] * 5},
             "equivariant": [0.98] * 5}  # fmt: skip
    tables = dict(result1=RESULT1, probes=summary(recon, PAPER_LIKE_LATENTS),
                  sae=sae_metrics({"regular": 100, "invariant": 150, "equivariant": 150},
                                  {"regular": 0.01, "invariant": 0.15, "equivariant": 0.03}))  # fmt: skip
    assert verdicts(tables) == {claim.id: "true" for claim in CLAIMS}


def test_claims_fail_where_the_numbers_say_otherwise():
    recon = {"regular": [0.995] * 5, "twolayer": [0.90] * 5, "equivariant": [0.98] * 5}  # regular beats it
    latents = {**PAPER_LIKE_LATENTS, "equivariant": [0.85, 0.8, 0.8, 0.8, 0.8], "invariant": [0.85] + [0.8] * 4}
    result1 = RESULT1.assign(r2_learned=[0.999, 0.93])
    tables = dict(result1=result1, probes=summary(recon, latents),
                  sae=sae_metrics({"regular": 200, "invariant": 150, "equivariant": 150},
                                  {"regular": 0.01, "invariant": 0.03, "equivariant": 0.15}))  # fmt: skip
    assert verdicts(tables) == {claim.id: "false" for claim in CLAIMS}


def test_missing_settings_are_not_run_rather_than_false():
    recon = {"twolayer": [0.9] * 5, "equivariant": [0.98] * 5}
    tables = dict(result1=RESULT1, probes=summary(recon, PAPER_LIKE_LATENTS, ks=(16,)),
                  sae=sae_metrics({"regular": 100, "invariant": 150}, {"regular": 0.01, "invariant": 0.1}))
    table = claims_table(tables, ["paper"]).set_index("claim")
    assert table.loc["twolayer_matches_at_32", "holds_paper"] == "not run"
    assert table.loc["equivariant_reconstructs_better", "holds_paper"] == "not run"
    assert (table["holds_standard"] == "not run").all()


def test_ceiling_rows_and_an_exact_label_code():
    data = generate(300, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    table = rng.normal(size=(4, 8, 4, 16))  # (position, shape, orientation) -> an additive code
    acts = sum(table[q, data.shapes[..., q], data.orientations[..., q]] for q in range(4))
    assert label_code_r2(acts, data.shapes, data.orientations) == pytest.approx(1.0, abs=1e-9)
    noisy = acts + rng.normal(size=acts.shape) * acts.std()
    assert label_code_r2(noisy, data.shapes, data.orientations) < 0.6
    rows = ceiling_rows(summary({}, {}), {"cnn": 1.0})
    assert list(rows.claim) == ["ceiling_base_probe", "ceiling_label_code"]
    assert "cnn: 0.99" in rows.numbers_paper[0]


def paper_like_tables() -> dict[str, pd.DataFrame]:
    recon = {"regular": [0.9] * 5, "twolayer": [0.9] * 5, "equivariant": [0.98] * 5}
    return dict(result1=RESULT1, probes=summary(recon, PAPER_LIKE_LATENTS),
                sae=sae_metrics({"regular": 100, "invariant": 150, "equivariant": 150},
                                {"regular": 0.01, "invariant": 0.15, "equivariant": 0.03}))  # fmt: skip


@pytest.mark.parametrize("table, column, bad", [("result1", "r2_learned", np.nan), ("result1", "r2_identity", -np.inf),
                                                ("sae", "l1", np.nan), ("sae", "spliced_loss", np.inf),
                                                ("probes", "f1_best", np.nan), ("probes", "k", np.inf)])  # fmt: skip
def test_claims_refuse_non_finite_numbers(table, column, bad):
    tables = paper_like_tables()
    claims_table(tables, ["paper"])  # the base rows' missing k and truncation are fine
    broken = tables[table].copy()
    broken.loc[broken.index[-1], column] = bad
    with pytest.raises(NonFiniteError, match=rf"^{table}: column '{column}' has 1 non-finite value"):
        claims_table({**tables, table: broken}, ["paper", "standard"])


def test_ceiling_rows_refuse_non_finite_numbers():
    probes = summary({}, {})
    with pytest.raises(NonFiniteError, match="probes: column 'f1_best'"):
        ceiling_rows(probes.assign(f1_best=np.nan), {"cnn": 1.0})
    with pytest.raises(NonFiniteError, match="code_r2: the label code R\\^2 of mlp is nan"):
        ceiling_rows(probes, {"cnn": 1.0, "mlp": float("nan")})
