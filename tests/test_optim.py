import pytest
import torch

from eqsae.training.optim import DictionaryAdam


def row_sparse(grad: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """The gradient as TopKSAE's fast path hands it over: only `rows`, as a sparse row tensor."""
    return torch.sparse_coo_tensor(rows.unsqueeze(0), grad[rows], grad.shape, check_invariants=True)


def test_matches_dense_adam_through_idle_and_returning_latents():
    # Latents 0-3 fire, fall idle for longer than `quiet` steps, and fire again; latents 4-7 fire throughout
    # but skip some steps; latents 8-39 never fire. Dense Adam keeps moving idle rows: that must be reproduced.
    torch.manual_seed(0)
    w0, b0 = torch.randn(40, 5, dtype=torch.float64), torch.randn(3, dtype=torch.float64)
    ref = [w0.clone().requires_grad_(), b0.clone().requires_grad_()]
    ours = [w0.clone().requires_grad_(), b0.clone().requires_grad_()]
    adam = torch.optim.Adam(ref, lr=1e-2)
    dict_adam = DictionaryAdam(ours, rows=[ours[0]], lr=1e-2)
    assert dict_adam.quiet == 264
    for step in range(700):
        rows = [r for r in range(4, 8) if step % (r - 2)] + (list(range(4)) if step < 50 or step >= 450 else [])
        rows = torch.tensor(rows, dtype=torch.long)
        g_w = torch.zeros(40, 5, dtype=torch.float64)
        g_w[rows] = torch.randn(len(rows), 5, dtype=torch.float64)
        g_b = torch.randn(3, dtype=torch.float64)
        ref[0].grad, ref[1].grad = g_w, g_b
        ours[0].grad, ours[1].grad = row_sparse(g_w, rows), g_b.clone()
        adam.step()
        dict_adam.step()
        if step in (49, 320, 449, 460, 699):
            torch.testing.assert_close(ours[0], ref[0], rtol=0, atol=1e-12, msg=f"step {step}")
            torch.testing.assert_close(ours[1], ref[1], rtol=0, atol=1e-12)
    live = dict_adam.live
    assert sorted(live.tolist()) == list(range(8))
    # moments too, after the closed-form catch-up of the rows that were left alone
    for state in ("exp_avg", "exp_avg_sq"):
        torch.testing.assert_close(dict_adam.state[ours[0]][state][dict_adam.slot], adam.state[ref[0]][state], rtol=1e-9, atol=1e-15)


def test_matches_dense_adam_in_place_while_most_latents_live():
    # 30 of 40 latents fire (in place), then only 4 for long enough that the rest fall quiet (back to the live
    # block), then 36 again (in place, the quiet ones caught up); the rows stay unit-norm as the SAE's decoder.
    torch.manual_seed(0)
    w0 = torch.randn(40, 5, dtype=torch.float64)
    w0 /= w0.norm(dim=-1, keepdim=True)
    ref, ours = w0.clone().requires_grad_(), w0.clone().requires_grad_()
    adam, dict_adam = torch.optim.Adam([ref], lr=1e-2), DictionaryAdam([ours], rows=[ours], lr=1e-2, unit_rows=[ours])
    for step in range(700):
        rows = torch.arange(30 if step < 100 else 4 if step < 500 else 36)
        g_w = torch.zeros(40, 5, dtype=torch.float64)
        g_w[rows] = torch.randn(len(rows), 5, dtype=torch.float64)
        ref.grad, ours.grad = g_w, row_sparse(g_w, rows)
        adam.step()
        dict_adam.step()
        with torch.no_grad():
            ref /= ref.norm(dim=-1, keepdim=True)
        if step in (99, 499, 699):
            assert dict_adam.in_place == (step != 499), f"step {step}"
            torch.testing.assert_close(ours, ref, rtol=0, atol=1e-12, msg=f"step {step}")
    for state in ("exp_avg", "exp_avg_sq"):
        moment = dict_adam.state[ours][state][dict_adam.slot]
        torch.testing.assert_close(moment, adam.state[ref][state], rtol=1e-9, atol=1e-15)


def test_leaves_quiet_latents_alone():
    w = torch.zeros(100, 4, requires_grad=True)
    opt = DictionaryAdam([w], rows=[w])
    for _ in range(opt.quiet + 5):
        w.grad = row_sparse(torch.ones(100, 4), torch.tensor([3, 7]))
        opt.step()
    assert sorted(opt.live.tolist()) == [3, 7]
    assert (w[[3, 7]] < 0).all() and (w[torch.arange(100) % 4 != 3] == 0).all()  # untouched rows never moved


def test_dense_gradients_take_the_fused_dense_path():
    w = torch.randn(6, 3, requires_grad=True)
    ref = w.detach().clone().requires_grad_()
    opt, adam = DictionaryAdam([w], rows=[w]), torch.optim.Adam([ref])
    for _ in range(3):
        w.grad = ref.grad = torch.randn(6, 3)
        opt.step()
        adam.step()
    assert len(opt.live) == 6
    torch.testing.assert_close(w, ref)


@pytest.mark.parametrize("rows", ["none", "other", "mismatch"])
def test_rows_must_be_latent_tables_among_the_params(rows):
    w, b, other = torch.zeros(4, 2, requires_grad=True), torch.zeros(3, requires_grad=True), torch.zeros(4, 2)
    rows = {"none": [], "other": [other], "mismatch": [w, b]}[rows]
    with pytest.raises(ValueError, match="rows"):
        DictionaryAdam([w, b], rows=rows)


def test_latent_tables_step_together():
    w, b = torch.zeros(4, 2, requires_grad=True), torch.zeros(4, requires_grad=True)
    opt = DictionaryAdam([w, b], rows=[w, b])
    w.grad = torch.ones(4, 2)
    with pytest.raises(RuntimeError, match="every table"):
        opt.step()
