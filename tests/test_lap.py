"""linear_sum_assignment and hungarian against scipy and brute force, on hypothesis-generated problems.

Every solved problem is also checked for: a valid matching of size min(n, m), sorted int64 row_ind, the same
objective as the reference (exact for integer dtypes), feasible and tight duals, and a passing certificate.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from _reference import (
    assert_same_objective,
    brute_force_lap,
    exact_objective,
    is_integer_valued,
    objective_tolerance,
    scipy_error,
    scipy_objective,
)
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment as scipy_lsa
from strategies import FAMILIES, INTEGER_FAMILIES, forbidden_value, problems, shapes, tiny_problems

import linassign
from linassign._certificate import duality_gap
from linassign._config import CONFIG
from linassign._numba._common import lap_totals

SOLVERS = {
    "linear_sum_assignment": lambda cost, maximize: linassign.linear_sum_assignment(cost, maximize=maximize),
    "hungarian": lambda cost, maximize: linassign.hungarian(cost, maximize=maximize)[:2],
}


# ----------------------------------------------------------------------------------------------------------
# Checks shared by the tests
# ----------------------------------------------------------------------------------------------------------


def check_matching(cost: np.ndarray, row_ind, col_ind, maximize: bool) -> None:
    """A valid assignment of size min(n, m): int64 numpy arrays, row_ind sorted, no pair used twice, no
    forbidden pair."""
    n, m = cost.shape
    k = min(n, m)
    for name, a in (("row_ind", row_ind), ("col_ind", col_ind)):
        assert type(a) is np.ndarray, f"{name} is {type(a).__name__}, expected numpy.ndarray"
        assert a.dtype == np.int64, f"{name} has dtype {a.dtype}, expected int64"
        assert a.shape == (k,), f"{name} has shape {a.shape}, expected ({k},)"
    assert np.all(np.diff(row_ind) > 0), f"row_ind not strictly increasing: {row_ind}"
    assert np.unique(col_ind).size == k, f"a column is used twice: {col_ind}"
    if k:
        assert 0 <= row_ind.min() and row_ind.max() < n
        assert 0 <= col_ind.min() and col_ind.max() < m
        assert not np.any(cost[row_ind, col_ind] == forbidden_value(maximize)), "a forbidden pair is used"


def dual_tolerance(cost: np.ndarray, res) -> float:
    scale = max(
        float(np.abs(np.asarray(cost, dtype=np.float64)[np.isfinite(cost)]).max(initial=0.0)),
        float(np.abs(res.u).max(initial=0.0)),
        float(np.abs(res.v).max(initial=0.0)),
    )
    k = max(min(cost.shape), 1)
    return 64 * np.finfo(np.float64).eps * scale * k + np.finfo(np.float64).tiny


def check_certificate(cost: np.ndarray, res, maximize: bool) -> None:
    """The duals certify the answer, checked here without linassign.verify: dual feasible on allowed pairs,
    tight on assigned pairs, longer side <= 0 (minimize orientation) and 0 where unassigned, and
    sum(u) + sum(v) equal to the objective; then linassign.verify agrees, with a gap ~ 0."""
    n, m = cost.shape
    sign = -1.0 if maximize else 1.0
    c = sign * np.asarray(cost, dtype=np.float64)
    u, v = sign * np.asarray(res.u), sign * np.asarray(res.v)
    assert u.shape == (n,) and v.shape == (m,)
    assert u.dtype == np.float64 and v.dtype == np.float64
    assert np.isfinite(u).all() and np.isfinite(v).all(), f"non-finite duals u={u} v={v}"
    tol = dual_tolerance(cost, res)
    allowed = np.isfinite(c)
    slack = np.where(allowed, c - u[:, None] - v[None, :], 0.0)
    assert slack.min(initial=0.0) >= -tol, f"dual infeasible by {-slack.min():.3g} (tol {tol:.3g})"
    r, k = res.row_ind, res.col_ind
    if r.size:
        assert np.abs(slack[r, k]).max() <= tol, "complementary slackness fails on an assigned pair"
    if n != m:
        longer, assigned = (v, k) if m > n else (u, r)
        assert longer.max() <= tol, "a dual of the longer side is positive: the bound is not valid"
        free = np.setdiff1d(np.arange(longer.size), assigned)
        assert np.all(longer[free] == 0.0), "an unassigned entry of the longer side has a nonzero dual"
    dual_objective = np.sum(u, dtype=np.float64) + np.sum(v, dtype=np.float64)
    assert abs(sign * dual_objective - res.objective) <= tol * max(n + m, 1)
    gap = linassign.verify(cost, res)
    assert 0.0 <= gap <= tol * max(n + m, 1), f"verify gap {gap:.3g}"
    assert 0.0 <= res.gap <= tol * max(n + m, 1), f"reported gap {res.gap:.3g}"


def check_result_fields(cost: np.ndarray, res, maximize: bool) -> None:
    """AssignmentResult as API.md describes it, for one 2-D problem."""
    assert isinstance(res, linassign.AssignmentResult)
    assert type(res.objective) is float
    assert type(res.gap) is float and res.gap >= 0.0
    assert res.converged is True
    assert type(res.n_iter) is int and 0 <= res.n_iter <= min(cost.shape)  # one augmentation per pair at most
    assert res.maximize is maximize
    assert res.objective == exact_objective(cost, res.row_ind, res.col_ind) or abs(
        res.objective - exact_objective(cost, res.row_ind, res.col_ind)
    ) <= objective_tolerance(cost)


def solve_and_check(cost: np.ndarray, maximize: bool):
    """hungarian and linear_sum_assignment on a problem scipy solves; both checked; returns the result."""
    res = linassign.hungarian(cost, maximize=maximize)
    check_matching(cost, res.row_ind, res.col_ind, maximize)
    check_result_fields(cost, res, maximize)
    check_certificate(cost, res, maximize)
    r, c = linassign.linear_sum_assignment(cost, maximize=maximize)
    check_matching(cost, r, c, maximize)
    assert_same_objective(exact_objective(cost, r, c), exact_objective(cost, res.row_ind, res.col_ind), cost)
    return res


def objective_of(cost, maximize: bool):
    """linassign's optimal objective, from its assignment (exact for integer dtypes)."""
    r, c = linassign.linear_sum_assignment(cost, maximize=maximize)
    return exact_objective(cost, r, c)


# ----------------------------------------------------------------------------------------------------------
# Against scipy and brute force
# ----------------------------------------------------------------------------------------------------------


@given(p=problems(max_side=40, forbidden=None))
def test_matches_scipy(p):
    err = scipy_error(p.cost, p.maximize)
    if err is not None:
        for name, solve in SOLVERS.items():
            with pytest.raises(type(err)) as info:
                solve(p.cost, p.maximize)
            assert str(info.value) == str(err), f"{name}: {info.value!s} vs scipy's {err!s}"
        return
    res = solve_and_check(p.cost, p.maximize)
    assert_same_objective(
        exact_objective(p.cost, res.row_ind, res.col_ind), scipy_objective(p.cost, p.maximize), p.cost
    )


@given(p=problems(max_side=8, forbidden=True))
def test_forbidden_pairs_match_scipy_including_infeasible(p):
    err = scipy_error(p.cost, p.maximize)
    if err is None:
        res = solve_and_check(p.cost, p.maximize)
        assert_same_objective(
            exact_objective(p.cost, res.row_ind, res.col_ind), scipy_objective(p.cost, p.maximize), p.cost
        )
        return
    assert type(err) is ValueError and str(err) == "cost matrix is infeasible"
    for name, solve in SOLVERS.items():
        with pytest.raises(ValueError) as info:
            solve(p.cost, p.maximize)
        assert str(info.value) == str(err), f"{name}: {info.value!s} vs scipy's {err!s}"


@contextlib.contextmanager
def config(**settings):
    """Temporarily change solver tunables (they change speed, never the answer)."""
    old = {key: CONFIG[key] for key in settings}
    CONFIG.update(settings)
    try:
        yield
    finally:
        CONFIG.update(old)


# The row reduction capped to almost nothing (most rows then go through the shortest paths), or long.
REDUCTION_CAPS = {
    "short reduction": {"hungarian_arr_steps_per_row": 0, "hungarian_arr_steps_per_row_small": 0},
    "long reduction": {"hungarian_arr_steps_per_row": 8, "hungarian_arr_steps_per_row_small": 8},
}


@pytest.mark.parametrize("variant", list(REDUCTION_CAPS))
@given(p=st.one_of(problems(max_side=40, forbidden=None), problems(max_side=10, forbidden=True, batch=(1, 3))))
def test_shortest_paths_and_row_reduction_match_scipy(variant, p):
    with config(**REDUCTION_CAPS[variant]):
        items = [p.cost] if p.cost.ndim == 2 else list(p.cost)
        errors = [scipy_error(c, p.maximize) for c in items]
        if any(e is not None for e in errors):
            with pytest.raises(ValueError, match="^cost matrix is infeasible"):
                linassign.hungarian(p.cost, maximize=p.maximize)
            return
        if p.cost.ndim == 2:
            res = solve_and_check(p.cost, p.maximize)
            results = [(res.row_ind, res.col_ind)]
        else:
            res = linassign.hungarian(p.cost, maximize=p.maximize)
            results = list(zip(res.row_ind, res.col_ind, strict=True))
            gaps = linassign.verify(p.cost, res)
            assert all(g <= objective_tolerance(c) * sum(c.shape) for g, c in zip(gaps, items, strict=True))
        for c, (r, k) in zip(items, results, strict=True):
            check_matching(c, r, k, p.maximize)
            assert_same_objective(exact_objective(c, r, k), scipy_objective(c, p.maximize), c)


@given(p=tiny_problems(forbidden=None))
def test_matches_brute_force(p):
    best = brute_force_lap(p.cost, p.maximize)
    if best is None:
        for solve in SOLVERS.values():
            with pytest.raises(ValueError, match="^cost matrix is infeasible$"):
                solve(p.cost, p.maximize)
        return
    res = solve_and_check(p.cost, p.maximize)
    assert_same_objective(exact_objective(p.cost, res.row_ind, res.col_ind), best, p.cost)


@given(p=tiny_problems(families=INTEGER_FAMILIES, forbidden=False))
def test_integer_costs_exact_against_brute_force(p):
    """Integer costs (up to 2**53): the objective is exactly the brute-force optimum, as a Python int."""
    r, c = linassign.linear_sum_assignment(p.cost, maximize=p.maximize)
    assert exact_objective(p.cost, r, c) == brute_force_lap(p.cost, p.maximize)
    res = linassign.hungarian(p.cost, maximize=p.maximize)
    # The float objective sums k float64 values; past 2**53 every addition may round, so the error is at most
    # (k - 1) half-ulps of the running sums, bounded by (k - 1) * eps / 2 * sum(|picked|).
    picked = np.abs(np.asarray(p.cost, dtype=np.float64)[res.row_ind, res.col_ind])
    bound = max(picked.size - 1, 0) * np.finfo(np.float64).eps / 2 * float(picked.sum())
    assert abs(res.objective - brute_force_lap(p.cost, p.maximize)) <= bound


@given(
    shape=st.one_of(
        shapes(kind="square", max_side=12), shapes(kind="tall", max_side=12), shapes(kind="wide", max_side=12)
    ),
    value=st.one_of(st.integers(-5, 5), st.floats(-1e15, 1e15), st.sampled_from([0.0, -0.0, 1e-12])),
    maximize=st.booleans(),
)
def test_constant_matrix_gives_identity(shape, value, maximize):
    cost = np.full(shape, value)
    k = min(shape)
    for solve in SOLVERS.values():
        r, c = solve(cost, maximize)
        np.testing.assert_array_equal(r, np.arange(k))
        np.testing.assert_array_equal(c, np.arange(k))
    sr, sc = scipy_lsa(cost, maximize=maximize)
    np.testing.assert_array_equal(sc, np.arange(k))  # scipy agrees, so this is the drop-in answer


@pytest.mark.parametrize("shape", [(1, 1), (7, 7), (100, 100), (9, 4), (4, 9), (60, 3), (3, 60)])
def test_constant_matrix_gives_identity_fixed_shapes(shape):
    for cost in (np.zeros(shape), np.ones(shape, dtype=np.int32), np.full(shape, 1e15)):
        r, c = linassign.linear_sum_assignment(cost)
        k = min(shape)
        np.testing.assert_array_equal(r, np.arange(k))
        np.testing.assert_array_equal(c, np.arange(k))


def test_one_by_one():
    for solve in SOLVERS.values():
        r, c = solve(np.array([[5.0]]), False)
        assert r.tolist() == [0] and c.tolist() == [0]
    res = linassign.hungarian([[5]])
    assert res.objective == 5.0 and res.u[0] + res.v[0] == 5.0 and res.gap == 0.0  # any split of 5 is a valid dual


@pytest.mark.parametrize("shape", [(0, 0), (0, 3), (3, 0)])
@pytest.mark.parametrize("maximize", [False, True])
def test_empty_shapes_give_empty_results(shape, maximize):
    cost = np.zeros(shape)
    sr, sc = scipy_lsa(cost, maximize=maximize)
    for solve in SOLVERS.values():
        r, c = solve(cost, maximize)
        for a, b in ((r, sr), (c, sc)):
            assert type(a) is np.ndarray and a.dtype == np.int64 and a.shape == b.shape == (0,)
    res = linassign.hungarian(cost, maximize=maximize)
    assert res.objective == 0.0 and res.gap == 0.0 and res.converged is True
    assert res.u.shape == (shape[0],) and res.v.shape == (shape[1],)
    assert linassign.verify(cost, res) == 0.0


def test_known_answer():
    cost = np.array([[4, 1, 3], [2, 0, 5], [3, 2, 2]])
    res = linassign.hungarian(cost)
    assert res.row_ind.tolist() == [0, 1, 2] and res.col_ind.tolist() == [1, 0, 2]
    assert res.objective == 5.0
    res = linassign.hungarian(cost, maximize=True)
    assert res.objective == 11.0  # 4 + 5 + 2


# ----------------------------------------------------------------------------------------------------------
# Properties (SciPy's shared assertions; STYLE.md section 7)
# ----------------------------------------------------------------------------------------------------------


@given(p=problems(max_side=25, forbidden=None, maximize=True, families=tuple(f for f in FAMILIES if f != "bool")))
def test_maximize_equals_minimize_of_negated(p):
    negated = -p.cost
    if scipy_error(p.cost, True) is not None:
        with pytest.raises(ValueError, match="^cost matrix is infeasible$"):
            linassign.linear_sum_assignment(p.cost, maximize=True)
        with pytest.raises(ValueError, match="^cost matrix is infeasible$"):
            linassign.linear_sum_assignment(negated)
        return
    best_max = objective_of(p.cost, True)
    best_min = objective_of(negated, False)
    assert_same_objective(best_max, -best_min, p.cost)
    res_max = linassign.hungarian(p.cost, maximize=True)
    res_min = linassign.hungarian(negated)
    tol = dual_tolerance(p.cost, res_max) * max(sum(p.cost.shape), 1)
    assert abs(res_max.objective + res_min.objective) <= tol


@given(p=problems(max_side=25, forbidden=None))
def test_transpose_gives_the_same_objective(p):
    if scipy_error(p.cost, p.maximize) is not None:
        with pytest.raises(ValueError, match="^cost matrix is infeasible$"):
            linassign.linear_sum_assignment(p.cost.T, maximize=p.maximize)
        return
    r, c = linassign.linear_sum_assignment(p.cost.T, maximize=p.maximize)  # a non-contiguous view
    check_matching(p.cost.T, r, c, p.maximize)
    assert_same_objective(exact_objective(p.cost.T, r, c), objective_of(p.cost, p.maximize), p.cost)


@given(p=problems(max_side=25, forbidden=None), data=st.data())
def test_permuting_rows_and_columns_keeps_the_objective(p, data):
    assume(scipy_error(p.cost, p.maximize) is None)
    n, m = p.cost.shape
    rows = np.array(data.draw(st.permutations(range(n))), dtype=np.int64)
    cols = np.array(data.draw(st.permutations(range(m))), dtype=np.int64)
    permuted = p.cost[rows][:, cols]
    assert_same_objective(objective_of(permuted, p.maximize), objective_of(p.cost, p.maximize), p.cost)


_SHIFT_FAMILIES = tuple(f for f in FAMILIES if f not in ("large_int", "bool"))  # keep cost + delta exact


@given(
    p=problems(min_side=1, max_side=20, forbidden=None, families=_SHIFT_FAMILIES),
    data=st.data(),
)
def test_adding_a_constant_to_a_row_or_column_shifts_the_optimum(p, data):
    """When every row (n <= m) or every column (m <= n) is assigned, adding delta to one of them shifts the
    optimum by exactly delta, and the old assignment stays optimal."""
    assume(scipy_error(p.cost, p.maximize) is None)
    n, m = p.cost.shape
    axes = [a for a, ok in ((0, n <= m), (1, m <= n)) if ok]
    axis = data.draw(st.sampled_from(axes), label="axis")
    index = data.draw(st.integers(0, p.cost.shape[axis] - 1), label="index")
    integer = is_integer_valued(p.cost)
    delta = data.draw(st.integers(-1000, 1000) if integer else st.floats(-1e3, 1e3), label="delta")
    # float32 + delta would round in float32, far above float64 rounding: shift in float64.
    shifted = p.cost.copy() if integer else p.cost.astype(np.float64)
    if axis == 0:
        shifted[index, :] += delta
    else:
        shifted[:, index] += delta
    r, c = linassign.linear_sum_assignment(p.cost, maximize=p.maximize)
    before = exact_objective(p.cost, r, c)
    after = objective_of(shifted, p.maximize)
    old_on_shifted = exact_objective(shifted, r, c)
    if integer:
        assert after == before + delta
        assert old_on_shifted == after
    else:
        tol = objective_tolerance(shifted) + objective_tolerance(p.cost) + 4 * np.finfo(float).eps * abs(delta)
        assert abs(after - (before + delta)) <= tol
        assert abs(old_on_shifted - after) <= tol


# ----------------------------------------------------------------------------------------------------------
# Batched (B, n, m)
# ----------------------------------------------------------------------------------------------------------


@given(p=st.one_of(problems(batch=(0, 6), max_side=8, forbidden=None), problems(batch=(1, 3), max_side=20)))
def test_batched_equals_one_by_one(p):
    bsz, n, m = p.cost.shape
    k = min(n, m)
    infeasible = [b for b in range(bsz) if scipy_error(p.cost[b], p.maximize) is not None]
    if infeasible:
        with pytest.raises(ValueError, match="^cost matrix is infeasible") as info:
            linassign.linear_sum_assignment(p.cost, maximize=p.maximize)
        assert str(infeasible[0]) in str(info.value), f"the message should name batch item {infeasible[0]}"
        return
    r, c = linassign.linear_sum_assignment(p.cost, maximize=p.maximize)
    for a in (r, c):
        assert type(a) is np.ndarray and a.dtype == np.int64 and a.shape == (bsz, k)
    res = linassign.hungarian(p.cost, maximize=p.maximize)
    np.testing.assert_array_equal(res.row_ind, r)
    np.testing.assert_array_equal(res.col_ind, c)
    assert res.objective.shape == (bsz,) and res.objective.dtype == np.float64
    assert res.u.shape == (bsz, n) and res.v.shape == (bsz, m)
    assert res.gap.shape == (bsz,) and np.all(res.gap >= 0)
    assert res.converged.shape == (bsz,) and res.converged.dtype == np.bool_ and res.converged.all()
    assert res.n_iter.shape == (bsz,) and res.n_iter.dtype == np.int64
    assert np.all((res.n_iter >= 0) & (res.n_iter <= k))
    gaps = linassign.verify(p.cost, res)
    assert np.shape(gaps) == (bsz,)
    for b in range(bsz):
        item = p.cost[b]
        check_matching(item, r[b], c[b], p.maximize)
        one = linassign.hungarian(item, maximize=p.maximize)
        assert_same_objective(exact_objective(item, r[b], c[b]), exact_objective(item, one.row_ind, one.col_ind), item)
        assert_same_objective(exact_objective(item, r[b], c[b]), scipy_objective(item, p.maximize), item)
        assert_same_objective(res.objective[b], one.objective, item.astype(np.float64))
        tol = (
            64
            * np.finfo(float).eps
            * max(1, k)
            * (n + m)
            * max(
                np.abs(item[np.isfinite(item)]).max(initial=0.0),
                np.abs(res.u[b]).max(initial=0.0),
                np.abs(res.v[b]).max(initial=0.0),
            )
            + np.finfo(float).tiny
        )
        assert 0 <= gaps[b] <= tol and res.gap[b] <= tol


@pytest.mark.parametrize("shape", [(0, 4, 4), (3, 0, 4), (3, 4, 0), (2, 0, 0)])
def test_batched_empty_shapes(shape):
    cost = np.zeros(shape)
    k = min(shape[1:])
    r, c = linassign.linear_sum_assignment(cost)
    assert r.shape == c.shape == (shape[0], k) and r.dtype == c.dtype == np.int64
    res = linassign.hungarian(cost)
    assert res.objective.shape == (shape[0],) and np.all(res.objective == 0.0)


def test_batched_constant_gives_identity():
    cost = np.full((4, 5, 7), 3.0)
    r, c = linassign.linear_sum_assignment(cost)
    np.testing.assert_array_equal(r, np.broadcast_to(np.arange(5), (4, 5)))
    np.testing.assert_array_equal(c, np.broadcast_to(np.arange(5), (4, 5)))


def test_batched_infeasible_names_the_items():
    cost = np.zeros((4, 3, 3))
    cost[1, :, 0] = np.inf
    cost[3, 2, :] = np.inf
    with pytest.raises(ValueError, match=r"^cost matrix is infeasible") as info:
        linassign.linear_sum_assignment(cost)
    assert "1" in str(info.value) and "3" in str(info.value)


# ----------------------------------------------------------------------------------------------------------
# Hard cases
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [50, 200])
def test_huge_magnitude_near_ties_terminate_and_match_scipy(n):
    """Near-ties at 1e15 made the classic augmenting row reduction ping-pong; the answer must be exact."""
    rng = np.random.default_rng(n)
    cost = 1e15 + rng.integers(0, 3, (n, n)).astype(np.float64)
    res = solve_and_check(cost, False)
    assert exact_objective(cost, res.row_ind, res.col_ind) == scipy_objective(cost)


NEAR_FLOAT_MAX = {
    # Finite entries whose sum (and whose reduced costs c - v) overflow float64. scipy still returns the
    # assignment (its objective is then +-inf); a drop-in must too, neither crash nor call it infeasible.
    "opposite signs": (np.array([[1e308, -1e308], [-1e308, 1e308]]), False),
    "opposite signs, maximize": (np.array([[1e308, -1e308], [-1e308, 1e308]]), True),
    "3x3": (np.array([[1.7e308, 0, 1], [0, 1.7e308, 2], [-1.7e308, 3, 1.7e308]]), False),
    "only one feasible matching": (np.array([[1.7e308, np.inf], [-1.7e308, 1.7e308]]), False),
    "wide with forbidden pairs": (np.array([[-1.7e308, np.inf, 0.0], [1.7e308, -1.7e308, np.inf]]), False),
}


@pytest.mark.parametrize("case", list(NEAR_FLOAT_MAX))
def test_entries_near_float_max_match_scipy(case):
    cost, maximize = NEAR_FLOAT_MAX[case]
    sr, sc = scipy_lsa(cost, maximize=maximize)
    r, c = linassign.linear_sum_assignment(cost, maximize=maximize)
    check_matching(cost, r, c, maximize)
    # Compare the assignments' costs without overflowing: sort the picked entries.
    assert sorted(cost[r, c].tolist()) == sorted(cost[sr, sc].tolist())


@pytest.mark.parametrize("maximize", [False, True])
@pytest.mark.parametrize("shape", [(7, 6, 6), (7, 5, 8), (7, 8, 5)], ids=lambda s: "x".join(map(str, s)))
def test_batch_rescales_only_the_problems_with_huge_entries(shape, maximize):
    """The kernel asks for a rescale after its first pass; the host rescales those problems alone (each by its
    own power of two) and solves them again. Every problem must still match scipy, with valid certificates."""
    rng = np.random.default_rng(sum(shape) + maximize)
    cost = rng.integers(-50, 50, shape) / 64.0  # many ties; entries below 1 so that no objective overflows
    cost[1] *= 1e306  # over the limit
    cost[3] *= 2.0**1000  # over the limit, another scale
    cost[4] *= 1e290  # just under the limit: solved without rescaling
    cost[5, 0, 1] = -np.inf if maximize else np.inf  # a forbidden pair in an ordinary problem
    cost[3, 1, 0] = -np.inf if maximize else np.inf  # and in a rescaled one
    res = linassign.hungarian(cost, maximize=maximize)
    r, c = linassign.linear_sum_assignment(cost, maximize=maximize)
    np.testing.assert_array_equal(r, res.row_ind)
    np.testing.assert_array_equal(c, res.col_ind)
    for b in range(shape[0]):
        check_matching(cost[b], r[b], c[b], maximize)
        assert_same_objective(exact_objective(cost[b], r[b], c[b]), scipy_objective(cost[b], maximize), cost[b])
        one = linassign.hungarian(cost[b], maximize=maximize)
        np.testing.assert_array_equal(one.col_ind, res.col_ind[b])
        np.testing.assert_array_equal(one.u, res.u[b])
        np.testing.assert_array_equal(one.v, res.v[b])
        assert res.gap[b] == one.gap
    gaps = linassign.verify(cost, res)
    assert np.all(gaps <= np.array([objective_tolerance(cost[b]) * sum(shape[1:]) for b in range(shape[0])]))
    assert np.all(np.isfinite(res.u)) and np.all(np.isfinite(res.v))


@pytest.mark.parametrize("maximize", [False, True])
@pytest.mark.parametrize("shape", [(5, 6, 6), (5, 4, 9), (5, 9, 4)], ids=lambda s: "x".join(map(str, s)))
def test_batch_objective_and_gap_match_the_numpy_certificate(shape, maximize):
    """The batch wrapper computes objective and gap in one compiled pass; they must equal the numpy
    computation (picked sum and _certificate.duality_gap), unassigned duals of the longer side included."""
    cost = np.random.default_rng(sum(shape)).random(shape).astype(np.float32)
    res = linassign.hungarian(cost, maximize=maximize)
    sign = -1.0 if maximize else 1.0
    picked = cost[np.arange(shape[0])[:, None], res.row_ind, res.col_ind].astype(np.float64)
    np.testing.assert_allclose(res.objective, picked.sum(axis=1), rtol=1e-14)
    # Shift the duals (still a valid certificate input, no longer tight) so that the gap is far from 0.
    u, v = sign * res.u + 0.25, sign * res.v - 0.125
    gap = np.empty(shape[0])
    obj = np.empty(shape[0])
    lap_totals(cost, sign, res.row_ind, res.col_ind, u, v, obj, gap)
    np.testing.assert_allclose(gap, duality_gap(sign * picked, u, v, res.row_ind, res.col_ind), rtol=1e-12)
    assert np.all(gap > 0.1)


def test_batch_rescale_and_infeasible_items_together():
    cost = np.random.default_rng(2).random((4, 3, 3))
    cost[0] *= 1e307
    cost[2, :, 1] = np.inf  # infeasible, beside a problem that needs a rescale
    cost[3] *= 1e307
    cost[3, 0, :] = np.inf  # infeasible and huge
    with pytest.raises(ValueError, match=r"^cost matrix is infeasible \(batch items \[2, 3\]\)"):
        linassign.linear_sum_assignment(cost)


def test_deterministic():
    cost = np.random.default_rng(1).integers(0, 3, (30, 30))
    first = linassign.linear_sum_assignment(cost)
    for _ in range(3):
        again = linassign.linear_sum_assignment(cost)
        np.testing.assert_array_equal(first[0], again[0])
        np.testing.assert_array_equal(first[1], again[1])


def test_is_integer_valued_helper_sees_all_integer_dtypes():
    # Guards the reference: an integer family must be compared exactly.
    for dtype in (np.bool_, np.int8, np.uint16, np.int64):
        assert is_integer_valued(np.zeros((1, 1), dtype=dtype))
    assert not is_integer_valued(np.zeros((1, 1), dtype=np.float32))
