"""Balanced assignment: one test per error message, and certificates that catch corrupted results."""

from __future__ import annotations

import numpy as np
import pytest

import linassign
from linassign._certificate_balanced import verify_balanced

S = np.arange(12, dtype=np.float64).reshape(6, 2) % 5


def solve(scores=S, capacity=None, **kw):
    return linassign.balanced_assignment(scores, capacity, **kw)


# ----------------------------------------------------------------------------------------------------------
# Input errors
# ----------------------------------------------------------------------------------------------------------


def test_scores_must_be_2d_or_3d():
    with pytest.raises(ValueError, match=r"scores must be a matrix \(n, E\) .* got a 1-D array of shape \(4,\)"):
        solve(np.ones(4))


METHODS = ("auction", "hungarian", "sinkhorn")
BATCHED = (False, True)


def _place(batched: bool, s: np.ndarray) -> np.ndarray:
    """s itself, or a batch of three problems with s the last (the others valid)."""
    return np.stack([S, S, s]) if batched else s


@pytest.mark.parametrize("batched", BATCHED)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nan_scores_are_rejected(method, batched, dtype):
    """numpy input to auction and hungarian is checked by the kernels' first pass, the rest by the
    validation; the message is the same either way, the input untouched."""
    s = S.copy()
    s[2, 1] = np.nan
    x = _place(batched, s).astype(dtype)
    before = x.copy()
    with pytest.raises(ValueError, match="scores contain NaN"):
        solve(x, method=method)
    assert np.array_equal(x, before, equal_nan=True)


@pytest.mark.parametrize("batched", BATCHED)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("maximize, bad", [(True, np.inf), (False, -np.inf)])
def test_an_infinity_of_the_wrong_sign_is_rejected(maximize, bad, method, batched):
    s = S.copy()
    s[0, 0] = bad
    with pytest.raises(ValueError, match=rf"scores contain [+-]inf, which is not allowed when maximize={maximize}"):
        solve(_place(batched, s), maximize=maximize, method=method)


@pytest.mark.parametrize("method", ["auction", "hungarian"])
@pytest.mark.parametrize("row", [0, 1, 511])
@pytest.mark.parametrize("bad, message", [(np.nan, "scores contain NaN"), (np.inf, r"scores contain \+inf")])
def test_invalid_entries_are_found_on_the_subsample_path(method, row, bad, message):
    """A problem far from balanced first reads every 8th row (rows 0, 8, ...) to decide whether to start
    from a subsample's prices: an invalid entry in one of those rows (0) stops that, and one elsewhere (1,
    511) is found by the full pass after the subsample was solved; the error is the same."""
    rng = np.random.default_rng(5)
    s = rng.standard_normal((512, 4)) + np.array([3.0, 0.0, 0.5, -1.0])
    s[row, 2] = bad
    with pytest.raises(ValueError, match=message):
        solve(s, method=method)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("maximize", [True, False])
def test_a_row_whose_sum_overflows_is_valid(method, maximize):
    """The first pass checks a row by its sum (NaN or +inf only if an entry is) and scans the entries only
    when the sum is not finite; a valid row whose sum overflows must pass that scan and be solved."""
    big = 1.5e308 if maximize else -1.5e308
    s = np.array([[big, big], [1.0, 2.0], [3.0, 1.0], [0.0, 5.0]])
    res = solve(s, capacity=2, maximize=maximize, method=method)
    pick = max if maximize else min
    want = pick(
        s[[r for r in range(4) if r in rows], 0].sum() + s[[r for r in range(4) if r not in rows], 1].sum()
        for rows in [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    )
    assert res.objective == want
    assert verify_balanced(s, res, np.asarray, capacity=2) <= 1e-9 * abs(want)


@pytest.mark.parametrize("method", METHODS)
def test_a_wrong_sign_infinity_beside_a_forbidden_pair_is_rejected(method):
    """+inf and -inf in one row make its sum NaN: the row is scanned and the +inf reported."""
    s = S.copy()
    s[3] = [-np.inf, np.inf]
    with pytest.raises(ValueError, match=r"scores contain \+inf"):
        solve(s, method=method)


@pytest.mark.parametrize("batched", BATCHED)
@pytest.mark.parametrize("method", METHODS)
def test_invalid_entries_are_reported_before_infeasibility_and_nan_before_infinity(method, batched):
    """The order of the validation's checks: NaN, then a wrong-sign infinity, then infeasibility, wherever
    they sit in the matrix (a forbidden row first, the invalid entries in the last rows)."""
    s = S.copy()
    s[0, :] = -np.inf  # row 0 has no allowed column: infeasible
    s[4, 0] = np.inf
    with pytest.raises(ValueError, match=r"scores contain \+inf"):
        solve(_place(batched, s), method=method)
    s[5, 1] = np.nan
    with pytest.raises(ValueError, match="scores contain NaN"):
        solve(_place(batched, s), method=method)


def test_invalid_entries_in_a_torch_tensor_are_rejected():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    s = torch.tensor(S)
    s[1, 1] = float("nan")
    with pytest.raises(ValueError, match="scores contain NaN"):
        solve(s)


def test_complex_scores_are_a_type_error():
    with pytest.raises(TypeError, match="Cannot cast array data"):
        solve(S.astype(complex))


def test_maximize_must_be_a_bool():
    with pytest.raises(TypeError, match="maximize must be True or False"):
        solve(maximize="yes")


def test_capacity_none_needs_n_divisible_by_e():
    with pytest.raises(ValueError, match=r"capacity=None needs the 7 rows .* pass capacity=4"):
        solve(np.ones((7, 2)))


def test_rows_without_columns():
    with pytest.raises(ValueError, match="there are 3 rows but no columns"):
        solve(np.ones((3, 0)))


def test_capacity_must_be_integral():
    with pytest.raises(TypeError, match="capacity must be an integer or an array of 2 integers, got True"):
        solve(capacity=True)
    with pytest.raises(TypeError, match="capacity must be an integer or an array of 2 integers, got dtype"):
        solve(capacity=np.array(["a", "b"]))


def test_capacity_shape():
    with pytest.raises(ValueError, match=r"capacity must be an integer or an array of shape \(2,\), got shape \(3,\)"):
        solve(capacity=[1, 2, 3])


def test_capacity_whole_numbers():
    with pytest.raises(ValueError, match="capacity must hold whole numbers"):
        solve(capacity=[1.5, 4])


def test_capacity_non_negative():
    with pytest.raises(ValueError, match="capacity must be >= 0"):
        solve(capacity=[-1, 7])


def test_unknown_method():
    with pytest.raises(ValueError, match="method must be one of"):
        solve(method="simplex")


def test_tol_type():
    with pytest.raises(TypeError, match="tol must be None or a number >= 0"):
        solve(tol="small")


def test_tol_value():
    with pytest.raises(ValueError, match="tol must be None or a finite number >= 0"):
        solve(tol=-1.0)


def test_prices_dtype():
    with pytest.raises(TypeError, match="prices must be a real array"):
        solve(prices=np.array(["a", "b"]))


def test_prices_shape():
    with pytest.raises(ValueError, match=r"prices must have shape \(2,\) \(one per column\), got \(3,\)"):
        solve(prices=np.zeros(3))


def test_prices_finite():
    with pytest.raises(ValueError, match="prices must be finite"):
        solve(prices=[0.0, np.nan])


def test_infeasible():
    s = np.array([[-np.inf, 1.0], [-np.inf, 2.0]])
    with pytest.raises(linassign.InfeasibleError, match="no assignment respects the capacities") as info:
        solve(s)
    assert isinstance(info.value, ValueError)


def test_infeasible_batch_items_are_named():
    s = np.stack([S, S, S])
    s[1, :, 0] = -np.inf
    with pytest.raises(linassign.InfeasibleError, match=r"\(batch items \[1\]\)"):
        solve(s)


def test_gpu_without_cupy():
    from linassign._cupy import is_available

    if is_available():
        pytest.skip("cupy and a GPU are present: the GPU side has no balanced kernel to refuse")
    with pytest.raises(linassign.BackendUnavailableError, match="GPU"):
        solve(backend="gpu")


def test_unknown_backend():
    with pytest.raises(ValueError, match="backend must be one of"):
        solve(backend="tpu")


# ----------------------------------------------------------------------------------------------------------
# Certificates catch corrupted results
# ----------------------------------------------------------------------------------------------------------

SCORES = np.random.default_rng(0).standard_normal((12, 3))


def good(capacity=None, scores=SCORES):
    return linassign.balanced_assignment(scores, capacity)


def test_a_correct_result_passes():
    res = good()
    assert linassign.verify(SCORES, res) == pytest.approx(0.0, abs=1e-12)
    assert verify_balanced(SCORES, res, np.asarray, capacity=4) == pytest.approx(0.0, abs=1e-12)


def test_shapes():
    res = good()
    with pytest.raises(linassign.CertificateError, match="expected assignment"):
        linassign.verify(SCORES, res._replace(prices=res.prices[:2]))


def test_column_out_of_range():
    res = good()
    a = res.assignment.copy()
    a[0] = 3
    with pytest.raises(linassign.CertificateError, match="out of range"):
        linassign.verify(SCORES, res._replace(assignment=a))


def test_counts_must_match():
    res = good()
    with pytest.raises(linassign.CertificateError, match="counts do not match"):
        linassign.verify(SCORES, res._replace(counts=res.counts + [1, -1, 0]))


def test_order_must_be_a_permutation():
    res = good()
    with pytest.raises(linassign.CertificateError, match="not a permutation"):
        linassign.verify(SCORES, res._replace(order=np.zeros(12, np.int64)))


def test_order_must_group_by_column():
    res = good()
    with pytest.raises(linassign.CertificateError, match="does not group the rows"):
        linassign.verify(SCORES, res._replace(order=res.order[::-1].copy()))


def test_prices_must_be_finite():
    res = good()
    with pytest.raises(linassign.CertificateError, match="prices must be finite"):
        linassign.verify(SCORES, res._replace(prices=np.array([0.0, np.inf, 0.0])))


def test_forbidden_pairs_are_caught():
    res = good()
    s = SCORES.copy()
    s[0, res.assignment[0]] = -np.inf
    with pytest.raises(linassign.CertificateError, match="uses a forbidden pair"):
        linassign.verify(s, res)


def test_objective_must_match():
    res = good()
    with pytest.raises(linassign.CertificateError, match="differs from the total"):
        linassign.verify(SCORES, res._replace(objective=res.objective + 1.0))


def test_capacity_overflow():
    res = good()
    with pytest.raises(linassign.CertificateError, match="more than its capacity"):
        verify_balanced(SCORES, res, np.asarray, capacity=[3, 4, 5])


def test_number_assigned():
    res = good(capacity=[4, 4, 3])  # 11 slots: one row is dropped
    assert verify_balanced(SCORES, res, np.asarray, capacity=[4, 4, 3]) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(linassign.CertificateError, match="rows are assigned, expected"):
        verify_balanced(SCORES, res, np.asarray, capacity=[4, 4, 4])


def test_negative_prices_with_free_slots():
    res = good(capacity=5)
    with pytest.raises(linassign.CertificateError, match="a price is negative"):
        verify_balanced(SCORES, res._replace(prices=res.prices - 1.0), np.asarray, capacity=5)


def test_a_suboptimal_assignment_has_a_positive_gap():
    res = good()
    a = res.assignment.copy()
    i, j = np.flatnonzero(a == 0)[0], np.flatnonzero(a == 1)[0]
    a[i], a[j] = 1, 0  # a swap keeps the counts
    obj = SCORES[np.arange(12), a].sum()
    order = np.argsort(a, kind="stable")
    bad = res._replace(assignment=a, order=order, objective=obj)
    gap = linassign.verify(SCORES, bad)
    assert gap > 0 and gap >= res.objective - obj - 1e-12


def test_a_free_slot_with_a_price_widens_the_gap():
    res = good(capacity=5)
    p = res.prices.copy()
    free = np.flatnonzero(res.counts < 5)
    p[free] += 0.5
    gap = verify_balanced(SCORES, res._replace(prices=p), np.asarray, capacity=5)
    assert gap >= 0.5 * (5 - res.counts[free]).sum() - 1e-12


def test_a_dropped_row_that_wants_a_slot_widens_the_gap():
    s = np.array([[3.0], [-1.0], [2.0], [5.0]])
    res = linassign.balanced_assignment(s, capacity=2)
    assert verify_balanced(s, res, np.asarray, capacity=2) == 0.0
    gap = verify_balanced(s, res._replace(prices=np.array([0.0])), np.asarray, capacity=2)
    assert gap == pytest.approx(2.0)  # rows 0 and 3 priced at 0: the dropped row 2 would gain 2


def test_batched_certificates():
    s = np.stack([SCORES, -SCORES])
    res = linassign.balanced_assignment(s)
    gaps = linassign.verify(s, res)
    assert gaps.shape == (2,) and (gaps <= 1e-12).all()
