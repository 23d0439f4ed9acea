"""linassign.auction against scipy and brute force, on hypothesis-generated problems.

Exact runs (eps=None) must give scipy's optimal objective (exactly for integer dtypes) with a certificate that
checks: dual feasibility, tight duals on assigned pairs, the rectangular sign conditions, and linassign.verify.
eps-given runs must report a true gap (recomputed here) of at most min(n, m) * eps.
"""

from __future__ import annotations

import numpy as np
import pytest
from _reference import (
    assert_same_objective,
    brute_force_lap,
    exact_objective,
    objective_tolerance,
    scipy_error,
    scipy_objective,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import INTEGER_FAMILIES, forbidden_value, problems, tiny_problems

import linassign
from linassign._config import CONFIG

# ----------------------------------------------------------------------------------------------------------
# Checks
# ----------------------------------------------------------------------------------------------------------


def check_matching(cost, res, maximize):
    n, m = cost.shape
    k = min(n, m)
    r, c = res.row_ind, res.col_ind
    assert type(r) is np.ndarray and r.dtype == np.int64 and r.shape == (k,)
    assert type(c) is np.ndarray and c.dtype == np.int64 and c.shape == (k,)
    assert np.all(np.diff(r) > 0) and np.unique(c).size == k
    if k:
        assert not np.any(cost[r, c] == forbidden_value(maximize)), "a forbidden pair is used"
    assert isinstance(res, linassign.AssignmentResult) and res.maximize is maximize
    assert res.converged is True and type(res.n_iter) is int and res.n_iter >= 0
    assert type(res.objective) is float and type(res.gap) is float
    assert abs(res.objective - exact_objective(cost, r, c)) <= objective_tolerance(cost)


def duals_tolerance(cost, res):
    scale = max(
        float(np.abs(np.asarray(cost, dtype=np.float64)[np.isfinite(cost)]).max(initial=0.0)),
        float(np.abs(res.u).max(initial=0.0)),
        float(np.abs(res.v).max(initial=0.0)),
    )
    return 64 * np.finfo(np.float64).eps * scale * max(min(cost.shape), 1) + np.finfo(np.float64).tiny


def slack_of(cost, res, maximize):
    """Reduced costs in the minimize orientation (0 on forbidden pairs), and that orientation's duals."""
    sign = -1.0 if maximize else 1.0
    h = sign * np.asarray(cost, dtype=np.float64)
    u, v = sign * np.asarray(res.u), sign * np.asarray(res.v)
    with np.errstate(invalid="ignore"):
        slack = np.where(np.isfinite(h), h - u[:, None] - v[None, :], 0.0)
    return slack, u, v


def check_feasible_duals(cost, res, maximize):
    """Dual feasible, longer side <= 0; the reported gap is the true one and verify agrees."""
    n, m = cost.shape
    slack, u, v = slack_of(cost, res, maximize)
    tol = duals_tolerance(cost, res)
    assert np.isfinite(u).all() and np.isfinite(v).all()
    assert slack.min(initial=0.0) >= -tol, f"dual infeasible by {-slack.min():.3g}"
    if n != m:
        longer = v if m > n else u
        assert longer.max() <= tol, "a dual of the longer side is positive: the bound would not be valid"
    gap = linassign.verify(cost, res)
    assert res.gap == pytest.approx(gap, rel=1e-6, abs=tol * (n + m))
    return gap, tol


def check_exact(cost, res, maximize):
    """An optimal answer's certificate: feasible, tight on assigned pairs, 0 on unassigned longer-side duals."""
    check_matching(cost, res, maximize)
    gap, tol = check_feasible_duals(cost, res, maximize)
    n, m = cost.shape
    slack, u, v = slack_of(cost, res, maximize)
    if res.row_ind.size:
        assert np.abs(slack[res.row_ind, res.col_ind]).max() <= tol, "an assigned pair is not tight"
    if n != m:
        longer, assigned = (v, res.col_ind) if m > n else (u, res.row_ind)
        free = np.setdiff1d(np.arange(longer.size), assigned)
        assert np.all(longer[free] == 0.0)
    assert gap <= tol * (n + m) and res.gap <= tol * (n + m)


# ----------------------------------------------------------------------------------------------------------
# Exact (eps=None) against scipy and brute force
# ----------------------------------------------------------------------------------------------------------


@given(p=problems(max_side=30, forbidden=None))
def test_matches_scipy(p):
    err = scipy_error(p.cost, p.maximize)
    if err is not None:
        with pytest.raises(type(err)) as info:
            linassign.auction(p.cost, maximize=p.maximize)
        assert str(info.value) == str(err)
        return
    res = linassign.auction(p.cost, maximize=p.maximize)
    check_exact(p.cost, res, p.maximize)
    got = exact_objective(p.cost, res.row_ind, res.col_ind)
    assert_same_objective(got, scipy_objective(p.cost, p.maximize), p.cost)


@given(p=problems(max_side=8, forbidden=True))
def test_forbidden_pairs_and_infeasible_like_scipy(p):
    err = scipy_error(p.cost, p.maximize)
    if err is not None:
        assert str(err) == "cost matrix is infeasible"
        with pytest.raises(ValueError, match="^cost matrix is infeasible$"):
            linassign.auction(p.cost, maximize=p.maximize)
        return
    res = linassign.auction(p.cost, maximize=p.maximize)
    check_exact(p.cost, res, p.maximize)
    got = exact_objective(p.cost, res.row_ind, res.col_ind)
    assert_same_objective(got, scipy_objective(p.cost, p.maximize), p.cost)


@given(p=tiny_problems(forbidden=None))
def test_matches_brute_force(p):
    best = brute_force_lap(p.cost, p.maximize)
    if best is None:
        with pytest.raises(ValueError, match="^cost matrix is infeasible$"):
            linassign.auction(p.cost, maximize=p.maximize)
        return
    res = linassign.auction(p.cost, maximize=p.maximize)
    check_exact(p.cost, res, p.maximize)
    assert_same_objective(exact_objective(p.cost, res.row_ind, res.col_ind), best, p.cost)


@given(p=problems(max_side=40, families=INTEGER_FAMILIES, forbidden=None))
def test_integer_costs_exact(p):
    """Integer dtypes: the objective is exactly scipy's, as a Python int (final eps < 1/n)."""
    err = scipy_error(p.cost, p.maximize)
    if err is not None:
        return
    res = linassign.auction(p.cost, maximize=p.maximize)
    assert exact_objective(p.cost, res.row_ind, res.col_ind) == scipy_objective(p.cost, p.maximize)


@settings(max_examples=10)
@given(n=st.sampled_from([50, 120]), seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["int", "float"]))
def test_larger_square_problems(n, seed, kind):
    """Sizes where epsilon scaling runs many phases and the exact finish matters."""
    rng = np.random.default_rng(seed)
    cost = rng.integers(0, n, (n, n)) if kind == "int" else rng.random((n, n))
    res = linassign.auction(cost)
    check_exact(cost, res, False)
    assert_same_objective(exact_objective(cost, res.row_ind, res.col_ind), scipy_objective(cost), cost)


@pytest.mark.parametrize("shape", [(3, 200), (200, 3), (60, 90), (90, 60), (1, 50), (50, 1)])
@pytest.mark.parametrize("maximize", [False, True])
def test_rectangular(shape, maximize):
    cost = np.random.default_rng(sum(shape)).random(shape)
    res = linassign.auction(cost, maximize=maximize)
    check_exact(cost, res, maximize)
    assert_same_objective(exact_objective(cost, res.row_ind, res.col_ind), scipy_objective(cost, maximize), cost)


# ----------------------------------------------------------------------------------------------------------
# eps given: an eps-optimal answer with a true gap <= n * eps
# ----------------------------------------------------------------------------------------------------------


@given(p=problems(max_side=30, forbidden=None), rel=st.sampled_from([1e-1, 1e-3, 1e-6]))
def test_eps_given_gap_is_true_and_at_most_n_eps(p, rel):
    if scipy_error(p.cost, p.maximize) is not None:
        return
    c = np.asarray(p.cost, dtype=np.float64)
    finite = c[np.isfinite(c)]
    eps = rel * max(float(np.ptp(finite)) if finite.size else 0.0, 1e-300)
    res = linassign.auction(p.cost, maximize=p.maximize, eps=eps)
    check_matching(p.cost, res, p.maximize)
    gap, tol = check_feasible_duals(p.cost, res, p.maximize)
    k = min(p.cost.shape)
    assert gap <= k * eps + tol * (sum(p.cost.shape) + 1)
    # The gap bounds the distance to the optimum.
    got = exact_objective(p.cost, res.row_ind, res.col_ind)
    opt = scipy_objective(p.cost, p.maximize)
    assert abs(float(got) - float(opt)) <= gap + objective_tolerance(p.cost)


def test_eps_given_is_faster_work_than_exact():
    cost = np.random.default_rng(10).random((150, 150))
    exact = linassign.auction(cost)
    rough = linassign.auction(cost, eps=1e-2)
    assert rough.n_iter < exact.n_iter
    assert 0 < rough.gap <= 150 * 1e-2


# ----------------------------------------------------------------------------------------------------------
# Properties, batches, inputs
# ----------------------------------------------------------------------------------------------------------


@given(p=problems(max_side=20, forbidden=None, maximize=False))
def test_maximize_equals_minimize_of_negated(p):
    if scipy_error(p.cost, False) is not None or p.cost.dtype == np.bool_:
        return
    lo = linassign.auction(p.cost)
    hi = linassign.auction(-p.cost, maximize=True)
    assert_same_objective(-hi.objective, lo.objective, p.cost)


@given(p=st.one_of(problems(batch=(0, 5), max_side=8, forbidden=None), problems(batch=(1, 3), max_side=20)))
def test_batched_equals_one_by_one(p):
    bsz, n, m = p.cost.shape
    bad = [k for k in range(bsz) if scipy_error(p.cost[k], p.maximize) is not None]
    if bad:
        with pytest.raises(ValueError, match=r"^cost matrix is infeasible \(batch items \[") as info:
            linassign.auction(p.cost, maximize=p.maximize)
        assert str(bad[0]) in str(info.value)
        return
    res = linassign.auction(p.cost, maximize=p.maximize)
    k = min(n, m)
    assert res.row_ind.shape == res.col_ind.shape == (bsz, k)
    assert res.u.shape == (bsz, n) and res.v.shape == (bsz, m)
    assert res.objective.shape == res.gap.shape == res.n_iter.shape == res.converged.shape == (bsz,)
    gaps = linassign.verify(p.cost, res)
    for b in range(bsz):
        one = linassign.auction(p.cost[b], maximize=p.maximize)
        np.testing.assert_array_equal(res.row_ind[b], one.row_ind)
        np.testing.assert_array_equal(res.col_ind[b], one.col_ind)
        np.testing.assert_array_equal(res.v[b], one.v)
        assert res.objective[b] == one.objective and res.n_iter[b] == one.n_iter
        assert gaps[b] == pytest.approx(one.gap, abs=duals_tolerance(p.cost[b], one) * (n + m))


def test_batched_eps_given():
    cost = np.random.default_rng(11).random((4, 30, 40))
    res = linassign.auction(cost, eps=1e-3)
    assert np.all(res.gap <= 30 * 1e-3 + 1e-12)
    assert np.all(linassign.verify(cost, res) <= 30 * 1e-3 + 1e-12)


@pytest.mark.parametrize("eps", [None, 0.01])
def test_inputs_are_not_modified_read_only_included(eps):
    cost = np.random.default_rng(12).random((7, 9))
    cost[2, 3] = np.inf
    for arr in (cost, cost.T, np.stack([cost, cost])):
        arr = np.array(arr)
        copy = arr.copy()
        arr.setflags(write=False)
        linassign.auction(arr, eps=eps)
        linassign.auction(-arr, maximize=True, eps=eps)
        np.testing.assert_array_equal(arr, copy)


def test_known_answer_and_list_input():
    res = linassign.auction([[4, 1, 3], [2, 0, 5], [3, 2, 2]])
    assert res.col_ind.tolist() == [1, 0, 2] and res.objective == 5.0 and res.gap == 0.0


def test_empty_and_one_by_one():
    for shape in ((0, 0), (0, 3), (3, 0)):
        res = linassign.auction(np.zeros(shape))
        assert res.row_ind.shape == (0,) and res.objective == 0.0
    res = linassign.auction(np.array([[7.5]]))
    assert res.col_ind.tolist() == [0] and res.objective == 7.5 and res.gap <= 1e-15  # 0 up to rounding


# ----------------------------------------------------------------------------------------------------------
# Termination: degenerate inputs, infeasibility, the give-up path
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [30, 120])
def test_huge_magnitude_near_ties(n):
    """1e15 + small integers: bids below the prices' resolution; the exact finish takes over."""
    cost = 1e15 + np.random.default_rng(n).integers(0, 3, (n, n)).astype(np.float64)
    res = linassign.auction(cost)
    check_exact(cost, res, False)
    assert exact_objective(cost, res.row_ind, res.col_ind) == scipy_objective(cost)


def test_entries_near_float_max():
    cost = np.array([[1.7e308, 0, 1], [0, 1.7e308, 2], [-1.7e308, 3, 1.7e308]])
    res = linassign.auction(cost)
    assert sorted(cost[res.row_ind, res.col_ind].tolist()) == sorted(
        cost[[0, 1, 2], [1, 0, 2]].tolist()
    ) or np.isfinite(res.gap)


@pytest.mark.parametrize(
    "cost",
    [
        np.array([[0.0, np.inf, np.inf], [1.0, np.inf, np.inf], [2.0, 3.0, 4.0]]),  # two rows, one column
        np.array([[np.inf, 1.0], [np.inf, 2.0]]),  # a column nobody may take
        np.full((4, 6), np.inf),
        np.array([[1.0, np.inf], [2.0, np.inf], [3.0, np.inf]]),  # tall: every column must still be taken
    ],
)
def test_infeasible_raises_like_scipy(cost):
    assert str(scipy_error(cost)) == "cost matrix is infeasible"
    with pytest.raises(ValueError, match="^cost matrix is infeasible$"):
        linassign.auction(cost)


def test_hall_violation_deep_in_a_large_matrix_terminates():
    """Three rows share two allowed columns: prices grow without bound until the bound hands over."""
    n = 60
    cost = np.random.default_rng(13).random((n, n))
    cost[:3, :] = np.inf
    cost[:3, :2] = 1.0
    with pytest.raises(ValueError, match="^cost matrix is infeasible$"):
        linassign.auction(cost)


def test_give_up_path_is_still_exact(monkeypatch):
    """A bid cap of 0 makes every phase give up at once: the exact finish from scratch answers alone."""
    monkeypatch.setitem(CONFIG, "auction_max_bids_per_row", 0)
    monkeypatch.setitem(CONFIG, "auction_eps_factor", 5.0)
    rng = np.random.default_rng(14)
    for shape in ((40, 40), (30, 50), (50, 30)):
        cost = rng.random(shape)
        res = linassign.auction(cost)
        check_exact(cost, res, False)
        assert_same_objective(exact_objective(cost, res.row_ind, res.col_ind), scipy_objective(cost), cost)


@pytest.mark.parametrize("n_cand", [1, 2, 1000])
@settings(max_examples=25)
@given(p=problems(max_side=25, forbidden=None))
def test_candidate_cache_sizes_stay_exact(n_cand, p):
    """The per-row candidate cache (1 = almost always rescan, 1000 = the whole row) never changes the answer."""
    if scipy_error(p.cost, p.maximize) is not None:
        return
    saved = CONFIG["auction_candidates"]
    CONFIG["auction_candidates"] = n_cand
    try:
        res = linassign.auction(p.cost, maximize=p.maximize)
    finally:
        CONFIG["auction_candidates"] = saved
    check_exact(p.cost, res, p.maximize)
    got = exact_objective(p.cost, res.row_ind, res.col_ind)
    assert_same_objective(got, scipy_objective(p.cost, p.maximize), p.cost)


def test_invalid_eps():
    for eps in (0, -1.0, np.inf, np.nan, "1", True):
        with pytest.raises(ValueError, match="^eps must be None \\(exact\\) or a positive finite number, got"):
            linassign.auction(np.ones((2, 2)), eps=eps)


def test_invalid_entries_like_scipy():
    with pytest.raises(ValueError, match="^matrix contains invalid numeric entries$"):
        linassign.auction([[0.0, np.nan], [1.0, 2.0]])
    with pytest.raises(ValueError, match="^matrix contains invalid numeric entries$"):
        linassign.auction([[0.0, np.inf], [1.0, 2.0]], maximize=True)
    with pytest.raises(TypeError, match="Cannot cast array data"):
        linassign.auction(np.ones((2, 2), complex))
