"""Balanced (capacitated) assignment: every method against scipy on the expanded problem, and its certificate.

The reference expands column e into ``capacity[e]`` identical slots (``np.repeat(scores, capacity, axis=1)``)
and solves that rectangular assignment problem with scipy: with more rows than slots scipy leaves rows
unassigned exactly as ``balanced_assignment`` drops them, with more slots than rows it leaves slots free.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment as scipy_lsa

import linassign
from linassign._certificate_balanced import verify_balanced
from linassign._cli import drifting_scores

METHODS = ("auction", "hungarian", "sinkhorn")


class Case(NamedTuple):
    scores: np.ndarray
    capacity: object  # None, int or (E,) array, as passed to balanced_assignment
    cap: np.ndarray  # the (E,) capacities it means
    maximize: bool


def expanded_optimum(scores: np.ndarray, cap: np.ndarray, maximize: bool) -> float | None:
    """Optimal objective of the expanded problem (scipy), or None if it is infeasible."""
    ex = np.repeat(scores.astype(np.float64), cap, axis=1)
    if ex.size == 0:
        return 0.0
    try:
        r, c = scipy_lsa(ex, maximize=maximize)
    except ValueError as exc:
        assert "infeasible" in str(exc)
        return None
    return math.fsum(ex[r, c].tolist())


def check_result(case: Case, res, want: float) -> None:
    """Feasible, optimal and certified, with every field consistent."""
    n, n_cols = case.scores.shape
    a = np.asarray(res.assignment)
    assert a.dtype == np.int64 and a.shape == (n,)
    counts = np.bincount(a[a >= 0], minlength=n_cols)
    assert np.array_equal(np.asarray(res.counts), counts)
    assert (counts <= case.cap).all()
    assert (a >= 0).sum() == min(n, int(case.cap.sum()))
    if case.capacity is None:
        assert (counts == case.cap).all()
    picked = case.scores[np.flatnonzero(a >= 0), a[a >= 0]].astype(np.float64)
    assert np.isfinite(picked).all()
    scale = max(1.0, float(np.abs(picked).max(initial=0.0)))
    assert math.isclose(res.objective, math.fsum(picked.tolist()), rel_tol=1e-12, abs_tol=1e-12 * scale * n)
    assert math.isclose(res.objective, want, rel_tol=1e-9, abs_tol=1e-9 * scale * max(n, 1))
    assert res.gap <= 1e-9 * scale * max(n, 1)
    assert math.isclose(res.gap, abs(res.bound - res.objective), rel_tol=1e-6, abs_tol=1e-9 * scale * max(n, 1))
    assert res.converged is True and isinstance(res.n_iter, int)
    # The bound, recomputed from the prices: every row's best value (clipped at 0 where rows may be dropped)
    # plus the capacities at their prices. The solvers skip the scan of rows whose best column provably
    # stayed the same; this catches a row duals shortcut that is wrong.
    sign = 1.0 if case.maximize else -1.0
    s = sign * case.scores.astype(np.float64)
    p = sign * np.asarray(res.prices, dtype=np.float64)
    u = (s - p[None, :]).max(axis=1) if n_cols else np.full(n, -np.inf)
    if case.cap.sum() < n:
        u = np.maximum(u, 0.0)
    if n:
        bound = sign * math.fsum(np.concatenate([u, case.cap * p]).tolist())
        tol = 1e-9 * max(scale, float(np.abs(p).max(initial=0.0))) * max(n, 1)
        assert math.isclose(res.bound, bound, rel_tol=1e-9, abs_tol=tol)
    # The certificate, recomputed from the input, with and without the capacities.
    assert verify_balanced(case.scores, res, np.asarray, capacity=case.cap) <= 1e-9 * scale * max(n, 1)
    assert linassign.verify(case.scores, res) <= 1e-9 * scale * max(n, 1)


def check_with_config(case: Case, method: str, prices=None, **config) -> None:
    """Solve ``case`` (from ``prices`` if given) with ``CONFIG`` updated by ``config`` for the call:
    ``InfeasibleError`` exactly when scipy finds the expanded problem infeasible, else ``check_result`` against
    scipy's optimum."""
    from linassign._config import CONFIG

    want = expanded_optimum(case.scores, case.cap, case.maximize)
    saved = dict(CONFIG)
    CONFIG.update(config)
    kwargs = {"maximize": case.maximize, "method": method, "prices": prices}
    try:
        if want is None:
            with pytest.raises(linassign.InfeasibleError, match="no assignment respects the capacities"):
                linassign.balanced_assignment(case.scores, case.capacity, **kwargs)
            return
        res = linassign.balanced_assignment(case.scores, case.capacity, **kwargs)
    finally:
        CONFIG.clear()
        CONFIG.update(saved)
    check_result(case, res, want)


@st.composite
def balanced_problems(draw, max_rows=9, max_cols=5, max_cap=4):
    n_cols = draw(st.integers(1, max_cols))
    n = draw(st.integers(0, max_rows))
    maximize = draw(st.booleans())
    kind = draw(st.sampled_from(["float", "int", "equal", "skewed", "huge", "tiny"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "float":
        s = rng.standard_normal((n, n_cols))
    elif kind == "int":  # many ties
        s = rng.integers(-2, 3, (n, n_cols)).astype(np.float64)
    elif kind == "equal":
        s = np.full((n, n_cols), float(rng.integers(-3, 4)))
    elif kind == "skewed":  # popular columns: plain argmax overloads a few of them
        s = rng.standard_normal((n, n_cols)) + 4.0 * rng.standard_normal(n_cols)
    elif kind == "huge":
        s = rng.standard_normal((n, n_cols)) * 1e12
    else:
        s = rng.standard_normal((n, n_cols)) * 1e-12
    if draw(st.booleans()):
        s[rng.random((n, n_cols)) < 0.25] = -np.inf if maximize else np.inf
    mode = draw(st.sampled_from(["none", "int", "array", "array0", "drop"]))
    if mode == "none" and n % n_cols == 0:
        capacity, cap = None, np.full(n_cols, n // n_cols)
    elif mode == "int":
        k = draw(st.integers(0, max_cap))
        capacity, cap = k, np.full(n_cols, k)
    elif mode == "drop":  # fewer slots than rows
        cap = rng.integers(0, max(1, n // n_cols) + 1, n_cols)
        capacity = cap
    else:
        cap = rng.integers(0 if mode == "array0" else 1, max_cap + 1, n_cols)
        capacity = cap
    if draw(st.booleans()):
        s = s.astype(np.float32)
    return Case(s, capacity, np.asarray(cap, dtype=np.int64), maximize)


@given(case=balanced_problems(), method=st.sampled_from(METHODS), warm=st.booleans())
def test_every_method_matches_scipy_on_the_expanded_problem(case, method, warm):
    want = expanded_optimum(case.scores, case.cap, case.maximize)
    prices = None
    if warm:
        prices = np.random.default_rng(case.scores.size).standard_normal(case.scores.shape[1])
    before = case.scores.copy()
    if want is None:
        with pytest.raises(linassign.InfeasibleError, match="no assignment respects the capacities"):
            linassign.balanced_assignment(
                case.scores, case.capacity, maximize=case.maximize, method=method, prices=prices
            )
        return
    res = linassign.balanced_assignment(
        case.scores, case.capacity, maximize=case.maximize, method=method, prices=prices
    )
    assert np.array_equal(case.scores, before, equal_nan=True)
    check_result(case, res, want)


@given(case=balanced_problems(), method=st.sampled_from(METHODS))
def test_warm_start_from_the_optimal_prices_reaches_the_same_optimum(case, method):
    try:
        res = linassign.balanced_assignment(case.scores, case.capacity, maximize=case.maximize, method=method)
    except linassign.InfeasibleError:
        return
    again = linassign.balanced_assignment(
        case.scores, case.capacity, maximize=case.maximize, method=method, prices=res.prices
    )
    check_result(case, again, res.objective)


@given(
    case=balanced_problems(),
    method=st.sampled_from(METHODS),
    share=st.sampled_from([0.01, 0.125, 0.3]),
    noise=st.sampled_from([0.0, 0.01, 1.0]),
)
def test_a_warm_start_on_the_rows_near_a_change_of_column_matches_scipy(case, method, share, noise):
    """``near_exact`` (forced on these small problems): from the optimal prices moved by ``noise`` (relative
    to the scores' spread), the exact phase on a share of the rows, then the check that the others stay, or
    the whole problem when that fails; the answer must be scipy's either way."""
    try:
        res = linassign.balanced_assignment(case.scores, case.capacity, maximize=case.maximize)
    except linassign.InfeasibleError:
        return
    finite = case.scores[np.isfinite(case.scores)].astype(np.float64)
    spread = float(finite.std()) if finite.size else 1.0
    rng = np.random.default_rng(case.scores.size)
    prices = np.asarray(res.prices) + noise * spread * rng.standard_normal(case.scores.shape[1])
    check_with_config(case, method, prices, balanced_warm_near_rows=share, balanced_warm_near_min_size=0)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_cols=st.integers(2, 8),
    k=st.integers(4, 25),
    kind=st.sampled_from(["float", "int", "skewed", "huge"]),
    forbid=st.booleans(),
    share=st.sampled_from([0.02, 0.125, 0.3]),
    drift=st.sampled_from([0.001, 0.05, 0.5]),
)
def test_warm_starts_on_the_rows_near_a_change_of_column_match_scipy_on_larger_problems(
    seed, n_cols, k, kind, forbid, share, drift
):
    """``near_exact`` forced on problems of up to 200 rows (every column k rows), from the optimum of scores
    that then drift: the first share tried fits or fails the check, the escalations, the fallback to the
    whole problem; ties, forbidden pairs, popular columns and huge scores; both senses."""
    rng = np.random.default_rng(seed)
    maximize = bool(seed % 2)
    s = _scores_of_kind(rng, kind, k * n_cols, n_cols, forbid, maximize)
    try:
        prices = linassign.balanced_assignment(s, maximize=maximize).prices
    except linassign.InfeasibleError:
        return
    spread = float(s[np.isfinite(s)].std())  # drift relative to the scores' spread ("huge" too)
    moved = s + drift * spread * np.where(np.isfinite(s), rng.standard_normal(s.shape), 0.0)
    case = Case(moved, None, np.full(n_cols, k), maximize)
    check_with_config(case, "hungarian", prices, balanced_warm_near_rows=share, balanced_warm_near_min_size=0)


def _scores_of_kind(rng, kind, n, n_cols, forbid, maximize):
    """(n, n_cols) scores of a kind ("float", "int": ties, "skewed": popular columns, "huge"), a quarter of
    them forbidden if ``forbid`` (-inf when maximizing, +inf when minimizing)."""
    s = {
        "float": lambda: rng.standard_normal((n, n_cols)),
        "int": lambda: rng.integers(-2, 3, (n, n_cols)).astype(np.float64),
        "skewed": lambda: rng.standard_normal((n, n_cols)) + 4.0 * rng.standard_normal(n_cols),
        "huge": lambda: rng.standard_normal((n, n_cols)) * 1e12,
    }[kind]()
    if forbid:
        s[rng.random((n, n_cols)) < 0.25] = -np.inf if maximize else np.inf
    return s


def _near_exact_from(s, prices, share):
    """``near_exact`` on the greedy start at ``prices``: (done, phases, p, col, cnt, own) and the start's
    (p, col, own)."""
    from linassign._numba._balanced_common import best_and_margin, greedy_status
    from linassign._numba._balanced_ssp import near_exact

    n, E = s.shape
    p = np.asarray(prices, dtype=np.float64).copy()
    col, cnt, own, margin = np.empty(n, np.int64), np.zeros(E, np.int64), np.empty(n), np.empty(n)
    best_and_margin(s, 1.0, p, E, False, col, margin, own)
    assert greedy_status(col, cnt) == 0
    start = (p.copy(), col.copy(), own.copy(), margin.copy())
    done, phases = near_exact(s, 1.0, p, E, np.full(E, n // E, np.int64), col, cnt, own, margin, share)
    return (done, phases, p, col, cnt, own, margin), start


@pytest.mark.parametrize("share", [0.125, 0.004])
def test_the_exact_phase_on_the_rows_near_a_change_of_column_is_optimal(share):
    """On drifting problems from the previous step's prices, ``near_exact`` ends optimal: every column full,
    every row in a column of maximal value under its prices (a zero gap), ``own`` each row's score there. With
    a share too small (0.004: a few rows) the check that the other rows stay must fail and the share grow."""
    seq = drifting_scores(2048, 16, 6, 0.01)
    prices = linassign.balanced_assignment(seq[0]).prices
    for s in seq[1:]:
        (done, phases, p, col, cnt, own, margin), (p0, col0, _, margin0) = _near_exact_from(s, prices, share)
        assert done and phases > 0 and (col != col0).any()
        # The rows that moved lose their margin (``finalize`` must scan them); the others keep it.
        moved = col != col0
        assert (margin[moved] == -np.inf).all()
        np.testing.assert_array_equal(margin[~moved], margin0[~moved])
        assert np.array_equal(cnt, np.full(16, 128)) and np.array_equal(np.bincount(col, minlength=16), cnt)
        np.testing.assert_array_equal(own, s[np.arange(2048), col])
        gap = (s - p).max(axis=1) - (own - p[col])  # every row in a best column (up to rounding): optimal
        assert (gap >= 0).all() and gap.max() <= 1e-12, gap.max()
        want = linassign.balanced_assignment(s, method="hungarian").objective
        assert math.isclose(math.fsum(own), want, rel_tol=1e-12)
        prices = linassign.balanced_assignment(s, prices=prices).prices


def test_a_warm_start_whose_method_runs_the_auction_keeps_an_honest_certificate():
    """Given prices at a size where the smaller problem's path applies (2^20 entries), ``sinkhorn`` with a
    ``tol`` runs the auction instead (its rounding): the certificate must then use the pass's columns as they
    were before the auction moved rows (the path of the smaller problem alone leaves them to ``col``), so that
    its bound is the one recomputed from the input."""
    seq = drifting_scores(8192, 128, 2, 0.01)
    prices = linassign.balanced_assignment(seq[0]).prices
    s = seq[1]
    res = linassign.balanced_assignment(s, prices=prices, method="sinkhorn", tol=1e-3)
    assert np.array_equal(res.counts, np.full(128, 64))
    bound = (s - res.prices).max(axis=1).sum() + 64 * res.prices.sum()
    assert math.isclose(res.bound, bound, rel_tol=1e-12)
    assert res.gap <= 1e-3 and verify_balanced(s, res, np.asarray, capacity=64) <= 1e-3


@pytest.mark.parametrize("share", [0.125, 0.004, 0.0])
def test_warm_starts_of_a_large_problem_on_the_threads_reach_the_optimum(share):
    """8192 x 128 drifting problems (2^20 entries: the smaller problem's path, on the threads, as the benchmark
    runs it) from the previous step's prices: the optimum of a cold solve, certified; with a share too small
    (escalations) and with the path off (0)."""
    from linassign._config import CONFIG

    seq = drifting_scores(8192, 128, 3, 0.01)
    saved = dict(CONFIG)
    CONFIG.update(balanced_warm_near_rows=share)
    try:
        prices = None
        for s in seq:
            res = linassign.balanced_assignment(s, prices=prices)
            want = linassign.balanced_assignment(s, method="hungarian").objective
            assert math.isclose(res.objective, want, rel_tol=1e-12)
            assert np.array_equal(res.counts, np.full(128, 64))
            assert verify_balanced(s, res, np.asarray, capacity=64) <= 1e-9 * abs(want)
            prices = res.prices
    finally:
        CONFIG.clear()
        CONFIG.update(saved)


def test_the_exact_phase_on_the_rows_near_a_change_restores_the_state_when_its_check_fails():
    """From prices of scores that drifted too far (0.2 per step) the smaller problems are solved (phases > 0)
    but rows outside them should move at every share tried: ``near_exact`` gives up with the prices, the
    columns and the kept scores as they were, although its exact phases moved rows and raised prices."""
    seq = drifting_scores(2048, 16, 2, 0.2)
    prices = linassign.balanced_assignment(seq[0]).prices
    (done, phases, p, col, cnt, own, margin), (p0, col0, own0, margin0) = _near_exact_from(seq[1], prices, 0.125)
    assert not done and phases > 0
    np.testing.assert_array_equal(margin, margin0)
    np.testing.assert_array_equal(p, p0)
    np.testing.assert_array_equal(col, col0)
    np.testing.assert_array_equal(own, own0)
    assert np.array_equal(cnt, np.bincount(col0, minlength=16))


@pytest.mark.parametrize("padded", [False, True])
def test_the_smaller_problem_solved_over_its_listed_rows_is_the_one_solved_over_all_rows(padded):
    """``near_exact``'s smaller problem lists its rows (``_select_near``), and ``ssp`` (its member slots, its
    search for a block of identical rows) visits those alone: the same phases, moves and prices as ``ssp``
    over every row with ``col`` -1 outside the problem. With a third of the rows one repeated row (padding
    tokens, crowding one column) the block is found among the listed rows."""
    from linassign._numba._balanced_common import best_and_margin, greedy_status, member_slots
    from linassign._numba._balanced_ssp import _margin_quantile, _select_near, arc_minima, find_block, ssp

    seq = drifting_scores(2048, 16, 2, 0.01)
    prices = linassign.balanced_assignment(seq[0]).prices
    s = seq[1].copy()
    n, E = s.shape
    if padded:
        s[::3] = s[0]
    p = np.asarray(prices, dtype=np.float64).copy()
    col, cnt, own, margin = np.empty(n, np.int64), np.zeros(E, np.int64), np.empty(n), np.empty(n)
    best_and_margin(s, 1.0, p, E, False, col, margin, own)
    assert greedy_status(col, cnt) == 0
    # Every row with a margin up to the quarter-quantile (the repeated row's among them when padded).
    theta = max(_margin_quantile(margin, 0.25), margin[0] if padded else -np.inf)
    col_near, rows, cnt_near = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(E, np.int64)
    m = _select_near(col, margin, theta, E, col_near, rows, cnt_near)
    rows = rows[:m]
    np.testing.assert_array_equal(rows, np.flatnonzero(margin <= theta))
    np.testing.assert_array_equal(col_near, np.where(margin <= theta, col, -1))
    np.testing.assert_array_equal(cnt_near, np.bincount(col[rows], minlength=E))
    cap_near = np.full(E, n // E) - (cnt - cnt_near)
    assert (cap_near >= 0).all()
    every = np.empty(0, np.int64)
    a, r, k = find_block(s, E, cap_near, col_near, cnt_near, rows)
    assert (a, r, k) == find_block(s, E, cap_near, col_near, cnt_near, every)
    assert (r >= 0) == padded
    out = []
    for listed in (rows, every):
        mem, lo, hi, _, _ = member_slots(col_near, cnt_near, cnt_near, False, listed)
        M, W, M2, W2 = np.empty((E, E)), np.empty((E, E), np.int64), np.empty((E, E)), np.empty((E, E), np.int64)
        o, pp, c, cn = own.copy(), p.copy(), col_near.copy(), cnt_near.copy()
        arc_minima(s, 1.0, E, E, mem, lo, hi, o, M, W, M2, W2)
        status, phases = ssp(
            s, 1.0, pp, E, cap_near, c, cn, np.zeros(E, np.int64), m + 1, M, W, M2, W2, o, True, True, listed
        )
        assert status == 0 and phases > 0
        out.append((phases, pp, c, cn, o))
    assert out[0][0] == out[1][0]
    for x, y in zip(out[0][1:], out[1][1:], strict=True):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(out[0][3], cap_near)


def test_the_exact_phase_on_the_rows_near_a_change_gives_up_with_the_state_as_it_was():
    """From prices far from optimal (zero, popular columns) the rows far from a change of column alone
    over-fill the popular columns at every share tried: ``near_exact`` must give up and leave the prices, the
    columns and the kept scores as they were, for the exact phase on the whole problem."""
    from linassign._cli import make_scores

    s = make_scores("skewed", 2048, 16)
    (done, _, p, col, cnt, own, margin), (p0, col0, own0, margin0) = _near_exact_from(s, np.zeros(16), 0.125)
    assert not done
    np.testing.assert_array_equal(margin, margin0)
    np.testing.assert_array_equal(p, p0)
    np.testing.assert_array_equal(col, col0)
    np.testing.assert_array_equal(own, own0)
    assert np.array_equal(cnt, np.bincount(col0, minlength=16))


@given(case=balanced_problems())
def test_minimizing_a_cost_is_maximizing_its_negation(case):
    want = expanded_optimum(case.scores, case.cap, case.maximize)
    if want is None:
        return
    res = linassign.balanced_assignment(-case.scores, case.capacity, maximize=not case.maximize)
    assert math.isclose(res.objective, -want, rel_tol=1e-9, abs_tol=1e-9 * max(1.0, abs(want)))
    flipped = Case(-case.scores, case.capacity, case.cap, not case.maximize)
    check_result(flipped, res, -want)


@given(case=balanced_problems(), seed=st.integers(0, 1000))
def test_row_order_does_not_change_the_objective(case, seed):
    want = expanded_optimum(case.scores, case.cap, case.maximize)
    if want is None:
        return
    perm = np.random.default_rng(seed).permutation(case.scores.shape[0])
    res = linassign.balanced_assignment(case.scores[perm], case.capacity, maximize=case.maximize)
    check_result(Case(case.scores[perm], case.capacity, case.cap, case.maximize), res, want)


@settings(max_examples=20)
@given(case=balanced_problems(max_rows=8, max_cols=4), n_batch=st.integers(1, 3), method=st.sampled_from(METHODS))
def test_a_batch_gives_the_results_of_one_problem_at_a_time(case, n_batch, method):
    rng = np.random.default_rng(n_batch)
    batch = np.stack([case.scores] + [rng.permutation(case.scores) for _ in range(n_batch - 1)])
    try:
        singles = [
            linassign.balanced_assignment(b, case.capacity, maximize=case.maximize, method=method) for b in batch
        ]
    except linassign.InfeasibleError:
        with pytest.raises(linassign.InfeasibleError, match=r"\(batch items \["):
            linassign.balanced_assignment(batch, case.capacity, maximize=case.maximize, method=method)
        return
    res = linassign.balanced_assignment(batch, case.capacity, maximize=case.maximize, method=method)
    for k, one in enumerate(singles):
        for field in ("assignment", "order", "counts", "prices"):
            assert np.array_equal(getattr(res, field)[k], getattr(one, field))
        for field in ("objective", "bound", "gap", "converged", "n_iter"):
            assert getattr(res, field)[k] == getattr(one, field)
    assert np.array_equal(
        linassign.verify(batch, res), [linassign.verify(b, o) for b, o in zip(batch, singles, strict=True)]
    )
    # Warm start with one price vector per problem.
    again = linassign.balanced_assignment(
        batch, case.capacity, maximize=case.maximize, method=method, prices=res.prices
    )
    assert np.allclose(again.objective, res.objective, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("tol", [1e-3, 1.0, 1e6])
def test_a_tolerance_gives_a_feasible_answer_within_it(method, tol):
    rng = np.random.default_rng(7)
    s = rng.standard_normal((240, 12)) + np.linspace(0, 2, 12)
    want = linassign.balanced_assignment(s, method="hungarian").objective
    res = linassign.balanced_assignment(s, method=method, tol=tol)
    assert np.array_equal(np.asarray(res.counts), np.full(12, 20))
    assert res.gap <= tol
    assert res.objective <= want + 1e-9
    assert want - res.objective <= res.gap + 1e-9
    assert linassign.verify(s, res) == pytest.approx(res.gap, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_float32_is_solved_as_given(method):
    rng = np.random.default_rng(3)
    s64 = np.round(rng.standard_normal((96, 8)) * 64) / 64  # exactly representable in float32
    s32 = s64.astype(np.float32)
    r64 = linassign.balanced_assignment(s64, method=method)
    r32 = linassign.balanced_assignment(s32, method=method)
    assert r32.objective == r64.objective
    assert linassign.verify(s32, r32) <= 1e-9


def test_inputs_are_never_modified_even_read_only_ones():
    rng = np.random.default_rng(1)
    s = rng.standard_normal((30, 5))
    s[0, 1] = -np.inf
    cap = np.array([6, 6, 6, 6, 7])
    prices = rng.standard_normal(5)
    for arr in (s, cap, prices):
        arr.setflags(write=False)
    copies = [s.copy(), cap.copy(), prices.copy()]
    for method in METHODS:
        linassign.balanced_assignment(s, cap, method=method, prices=prices)
    for arr, before in zip((s, cap, prices), copies, strict=True):
        assert np.array_equal(arr, before)


def test_results_come_back_in_the_callers_library():
    torch = pytest.importorskip("torch")
    s = torch.tensor([[5.0, 1.0], [4.0, 0.0], [3.0, 3.0], [0.0, 2.0]], requires_grad=True)
    res = linassign.balanced_assignment(s)
    assert isinstance(res.assignment, torch.Tensor) and res.assignment.dtype == torch.int64
    assert res.assignment.tolist() == [0, 0, 1, 1] and res.order.tolist() == [0, 1, 2, 3]
    assert isinstance(res.prices, torch.Tensor) and res.objective == 14.0
    batch = linassign.balanced_assignment(torch.stack([s.detach(), -s.detach()]), maximize=False)
    assert isinstance(batch.objective, torch.Tensor) and batch.objective.shape == (2,)
    assert linassign.verify(s.detach(), res) == 0.0


def test_lists_and_integer_scores_are_accepted():
    res = linassign.balanced_assignment([[3, 1], [2, 2], [0, 5], [1, 0]], capacity=[1, 3])
    assert res.assignment.tolist() == [0, 1, 1, 1] and res.objective == 10.0


def test_order_groups_rows_by_column_with_dropped_rows_last():
    s = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [-5.0, -5.0], [0.0, 2.0]])
    res = linassign.balanced_assignment(s, capacity=[2, 2])
    assert res.assignment.tolist() == [0, 1, 0, -1, 1]
    assert res.order.tolist() == [0, 2, 1, 4, 3]
    assert res.counts.tolist() == [2, 2]


def test_dropped_rows_are_the_ones_worth_least():
    s = np.array([[3.0], [-1.0], [2.0], [5.0]])
    res = linassign.balanced_assignment(s, capacity=2)
    assert res.assignment.tolist() == [0, -1, -1, 0] and res.objective == 8.0
    # Negative scores are still assigned: exactly sum(capacity) rows must be.
    res = linassign.balanced_assignment(-s, capacity=2)
    assert sorted(np.flatnonzero(res.assignment >= 0).tolist()) == [1, 2] and res.objective == -1.0


def test_at_most_capacities_leave_free_slots_at_price_zero():
    s = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.9, 0.0]])
    res = linassign.balanced_assignment(s, capacity=2)
    assert res.assignment.tolist()[:2] == [0, 0] and res.assignment[2] == 1
    assert res.prices[2] == 0.0 and (res.prices >= 0).all()
    assert res.gap == 0.0


def test_empty_problems():
    res = linassign.balanced_assignment(np.zeros((0, 3)))
    assert res.assignment.shape == (0,) and res.counts.tolist() == [0, 0, 0] and res.objective == 0.0
    res = linassign.balanced_assignment(np.zeros((0, 0)))
    assert res.counts.shape == (0,) and res.gap == 0.0
    res = linassign.balanced_assignment(np.zeros((2, 0, 4)))
    assert res.assignment.shape == (2, 0) and res.objective.tolist() == [0.0, 0.0]
    res = linassign.balanced_assignment(np.ones((4, 2)), capacity=0)
    assert res.assignment.tolist() == [-1, -1, -1, -1] and res.objective == 0.0


def test_a_row_with_no_allowed_column_is_infeasible_unless_it_can_be_dropped():
    s = np.array([[-np.inf, -np.inf], [1.0, 2.0]])
    with pytest.raises(linassign.InfeasibleError, match="no assignment respects the capacities"):
        linassign.balanced_assignment(s, capacity=1)
    res = linassign.balanced_assignment(np.vstack([s, [[3.0, 0.0]]]), capacity=1)
    assert res.assignment.tolist() == [-1, 1, 0] and res.objective == 5.0


def test_an_infeasible_problem_is_reported_quickly_by_every_method():
    # Hall's condition fails: 41 rows may only use columns 0 and 1, which hold 10 rows each.
    s = np.full((60, 6), -np.inf)
    s[:41, :2] = np.random.default_rng(0).standard_normal((41, 2))
    s[41:, 2:] = 0.0
    for method in METHODS:
        with pytest.raises(linassign.InfeasibleError, match="no assignment respects the capacities"):
            linassign.balanced_assignment(s, method=method)


@given(case=balanced_problems(), eps=st.sampled_from([1e-3, 0.3, 3.0]))
def test_the_auction_is_exact_however_its_heuristics_are_tuned(case, eps):
    """The auction runs on every problem (no skip for small excess or ties, capacities summing to n too, tiny
    step and work budgets or none), from the greedy start at zero prices (no count-balancing steps)."""
    check_with_config(
        case,
        "auction",
        balanced_auction_with_steps=1.0,
        balanced_prices_max_passes=0,
        balanced_auction_skip_below=0.0,
        balanced_auction_stop_below=0.0,
        balanced_auction_max_ties=1.0,
        balanced_auction_eps_first=eps,
        balanced_auction_eps_last=eps / 100,
        balanced_auction_steps_per_column=1 if eps == 3.0 else 200,
        balanced_auction_work_per_row=0.5 if eps == 0.3 else 1e9,
    )


@pytest.mark.parametrize("share", [0.3, 1.0])
def test_identical_rows_make_the_auction_hand_over_within_its_work_budget(share):
    """Rows that are one repeated row (padding tokens; all of them at share 1) bid alike, and each auction step
    heaps a column holding most of them and moves a few: thousands of steps (4763 at share 1, 2048 x 128)
    before the work budget. With it the auction stops after a few such steps and the exact phase finishes:
    the same optimum as the hungarian method, and few iterations. (The auction is forced: by default it does
    not run on capacities summing to n, where the hungarian method's path takes the same problem in fewer
    iterations still.)"""
    from linassign._cli import make_scores
    from linassign._config import CONFIG

    rng = np.random.default_rng(0)
    s = make_scores("base", 2048, 128)
    rows = rng.choice(2048, int(share * 2048), replace=False)
    s[rows] = s[rows[0]]
    ref = linassign.balanced_assignment(s, method="hungarian")
    default = linassign.balanced_assignment(s, method="auction")
    assert default.n_iter == ref.n_iter and np.array_equal(default.assignment, ref.assignment)
    saved = dict(CONFIG)
    CONFIG.update(balanced_auction_with_steps=1.0)
    try:
        res = linassign.balanced_assignment(s, method="auction")
    finally:
        CONFIG.clear()
        CONFIG.update(saved)
    assert np.array_equal(res.counts, np.full(128, 16))
    assert math.isclose(res.objective, ref.objective, rel_tol=1e-12) and res.gap <= 1e-9 * abs(ref.objective)
    assert ref.n_iter < res.n_iter < 200


@pytest.mark.parametrize("kind", ["base", "skewed"])
@pytest.mark.parametrize("method", ["auction", "hungarian"])
def test_given_prices_far_from_balanced_start_the_path_of_a_solve_without_prices(kind, method):
    """Zero prices leave 10-40% of these rows in excess (popular columns): given, they only start the
    count-balancing steps, and the solve goes on as one without prices, which starts from zero too: the same
    iterations and the same answer. (Before, the auction ran from such prices: base 16384 x 128 8 ms, skewed
    27 ms, random prices 28-35 ms, against ~2 ms without prices.) Random prices take the same path from
    elsewhere, to the same optimum."""
    from linassign._cli import make_scores

    s = make_scores(kind, 2048, 128)
    cold = linassign.balanced_assignment(s, method=method)
    zero = linassign.balanced_assignment(s, method=method, prices=np.zeros(128))
    assert zero.n_iter == cold.n_iter and np.array_equal(zero.assignment, cold.assignment)
    rand = linassign.balanced_assignment(s, method=method, prices=np.random.default_rng(3).standard_normal(128))
    assert math.isclose(rand.objective, cold.objective, rel_tol=1e-12) and rand.gap <= 1e-9 * abs(cold.objective)


def test_count_balancing_steps_spread_a_block_of_identical_rows():
    """30% of the rows one repeated row: its copies leave a column together at one price, so the steps'
    counts jumped by the whole block, and the steps stopped after two passes with ~640 rows in excess. With
    the block counted as spread over the columns by a softmax of its values (``_spread_block``) they reach
    their stop, and the solve needs half the iterations."""
    from linassign._cli import make_scores
    from linassign._numba._balanced_prices import _spread_block, balance_prices

    rng = np.random.default_rng(0)
    n, E = 2048, 128
    s = make_scores("base", n, E)
    rows = rng.choice(n, 614, replace=False)
    s[rows] = s[rows[0]]
    stop = int(min(0.05 * n, 2 * np.sqrt(n)))
    work = [np.empty(n, np.int64), np.zeros(E, np.int64)]
    work += [np.empty((E, E)), np.empty((E, E), np.int64), np.empty((E, E)), np.empty((E, E), np.int64)]
    work += [np.empty(n), np.empty(n)]
    capx = np.full(E, 16, np.int64)
    passes, x, _ = balance_prices(s, 1.0, np.zeros(E), E, capx, 0.5, 1.5, stop, 8, 0.8, 0.2, -1, 2.0, *work)
    assert passes > 2 and 0 <= x <= stop
    # The spread moves the block's m rows and no others: the counts still sum to n.
    col = np.argmax(s, axis=1)
    cnt_f = np.bincount(col, minlength=E).astype(np.float64)
    near = np.zeros(E)
    r = int(rows.min())
    _spread_block(s, 1.0, np.zeros(E), E, capx, col, np.full(n, np.inf), 0.3, r, 614, cnt_f, near)
    assert math.isclose(cnt_f.sum(), n) and (cnt_f >= -1e-9).all() and (near >= 0.0).all()
    assert cnt_f[col[r]] < np.bincount(col, minlength=E)[col[r]]


@pytest.mark.parametrize("value", [0.0, 0.7])
def test_constant_rows_do_not_count_as_tied_scores(value):
    """10% of the rows constant (padding tokens every expert scores alike): at the first pass's equal prices
    each ties over every column, and the steps, counting them as tied scores (more than ``max_ties``), did not
    run; the exact phase then took the whole greedy start (65536 x 128: 153 ms). They are one block of
    identical rows and no longer count: the steps run to their stop."""
    from linassign._cli import make_scores
    from linassign._numba._balanced_prices import balance_prices

    rng = np.random.default_rng(0)
    n, E = 2048, 128
    s = make_scores("base", n, E).copy()
    s[rng.choice(n, n // 10, replace=False)] = value
    stop = int(min(0.05 * n, 2 * np.sqrt(n)))
    work = [np.empty(n, np.int64), np.zeros(E, np.int64)]
    work += [np.empty((E, E)), np.empty((E, E), np.int64), np.empty((E, E)), np.empty((E, E), np.int64)]
    work += [np.empty(n), np.empty(n)]
    capx = np.full(E, 16, np.int64)
    max_ties = 0.05 * n
    passes, x, _ = balance_prices(s, 1.0, np.zeros(E), E, capx, 0.5, 1.5, stop, 8, 0.8, max_ties, -1, 2.0, *work)
    assert passes > 2 and 0 <= x <= stop
    # Tied scores that are not copies of one row still stop them at once.
    s2 = make_scores("base", n, E).copy()
    s2[: n // 10, :2] = 5.0
    passes, x, _ = balance_prices(s2, 1.0, np.zeros(E), E, capx, 0.5, 1.5, stop, 8, 0.8, max_ties, -1, 2.0, *work)
    assert passes == 1 and x == -1


def test_the_subsample_tie_count_leaves_out_copies_of_one_tied_row():
    """30% of the rows 0: they tie at equal prices but are one block, so the subsample's tied fraction (over
    20% would keep the steps from running) counts only the first of them; all scores equal stay all tied, and
    tied integer scores stay tied."""
    from linassign._cli import make_scores
    from linassign._numba._balanced import _sample_excess

    rng = np.random.default_rng(0)
    n, E = 2048, 128
    s = make_scores("base", n, E).copy()
    s[rng.random(n) < 0.3] = 0.0
    _, tied = _sample_excess(s, 1.0, np.zeros(E), E, 8, 2)
    assert tied == 1 / 1024
    _, tied = _sample_excess(np.zeros((n, E)), 1.0, np.zeros(E), E, 8, 2)
    assert tied == 1.0
    ints = rng.integers(0, 3, (n, E)).astype(np.float64)
    _, tied = _sample_excess(ints, 1.0, np.zeros(E), E, 8, 2)
    assert tied > 0.5


@settings(max_examples=40, deadline=None)
@given(
    n_cols=st.integers(2, 8),
    k=st.integers(4, 30),
    share=st.sampled_from([0.1, 0.3]),
    value=st.sampled_from([0.0, -1.0]),
    maximize=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
    method=st.sampled_from(METHODS),
)
def test_scores_with_constant_rows_are_solved_exactly(n_cols, k, share, value, maximize, seed, method):
    rng = np.random.default_rng(seed)
    n = k * n_cols
    s = rng.standard_normal((n, n_cols))
    s[rng.random(n) < share] = value
    check_with_config(Case(s, None, np.full(n_cols, k), maximize), method)


def test_repeated_rows_do_not_make_good_prices_look_far_from_balanced():
    """At the optimum of base scores with 30% of the rows one repeated row, that row ties over many columns,
    and the greedy start from those prices puts all its copies in one: 30% of the rows in excess, which alone
    would send the solve to the steps (and the auction, before). Those rows do not count; the exact phase
    moves them as a block from the given prices: a few phases."""
    from linassign._cli import make_scores

    rng = np.random.default_rng(0)
    s = make_scores("base", 2048, 128)
    rows = rng.choice(2048, 614, replace=False)
    s[rows] = s[rows[0]]
    cold = linassign.balanced_assignment(s)
    warm = linassign.balanced_assignment(s, prices=cold.prices)
    assert math.isclose(warm.objective, cold.objective, rel_tol=1e-12) and warm.gap <= 1e-9 * abs(cold.objective)
    assert np.array_equal(warm.counts, np.full(128, 16))
    assert warm.n_iter <= 8 < cold.n_iter


@pytest.mark.parametrize("seed", range(3))
def test_a_column_that_receives_more_rows_than_its_room_stays_exact(seed):
    """The auction keeps each column's members in slots with room for twice its start; here every row
    starts in column 0 and all of its outbid rows move to column 1, their common second choice, which must
    then grow its room (150 rows into room for 108)."""
    from linassign._config import CONFIG

    rng = np.random.default_rng(seed)
    s = rng.random((200, 4)) + np.array([10.0, 5.0, 0.0, 0.0])
    case = Case(s, None, np.full(4, 50), True)
    saved = dict(CONFIG)
    CONFIG.update(
        balanced_prices_max_passes=0,
        balanced_auction_skip_below=0.0,
        balanced_auction_stop_below=0.0,
        balanced_auction_with_steps=1.0,
    )
    try:
        res = linassign.balanced_assignment(s, method="auction")
    finally:
        CONFIG.clear()
        CONFIG.update(saved)
    assert res.n_iter > 0  # the auction ran
    check_result(case, res, expanded_optimum(s, case.cap, True))


@settings(max_examples=150)
@given(case=balanced_problems(max_rows=40, max_cols=5, max_cap=12), method=st.sampled_from(["auction", "hungarian"]))
def test_prices_from_a_subsample_change_the_speed_never_the_answer(case, method):
    """Starting prices from every f-th row (``subsample_prices``), forced on every problem it applies to
    (equal capacities summing to n, at least 4 rows per column), including forbidden pairs, ties and
    subsamples that are infeasible on their own."""
    # A negative threshold: the estimate of the excess (>= 0) always passes it.
    check_with_config(
        case,
        method,
        balanced_sample_min_excess=-1.0,
        balanced_sample_min_capacity=1,
        balanced_sample_min_factor=4,
        balanced_sample_max_factor=64,
    )


@settings(max_examples=150)
@given(
    case=balanced_problems(max_rows=40, max_cols=5, max_cap=12),
    method=st.sampled_from(["auction", "hungarian"]),
    damp=st.sampled_from([0.5, 1.0, 3.0]),
    width=st.sampled_from([0.1, 1.0, 10.0]),
    stop_sqrt=st.sampled_from([0.0, 1.0, 3.0]),
    slack=st.sampled_from([1.0, 4.0]),
)
def test_count_balancing_price_steps_change_the_speed_never_the_answer(case, method, damp, width, stop_sqrt, slack):
    """Count-balancing price steps (``balance_prices``) forced on every problem they apply to (capacities
    summing to n), with steps too long and too short, run until the excess stops falling (stop 0) or to a
    stop of a few rows (where the last pass may hand its arc minima to the exact phase), and the auction
    forced after them (when it does not take those arc minima): forbidden pairs, ties, integer and huge
    scores, infeasible problems."""
    check_with_config(
        case,
        method,
        balanced_prices_damp=damp,
        balanced_prices_width=width,
        balanced_prices_stop_below=1.0 if stop_sqrt else 0.0,
        balanced_prices_stop_sqrt=stop_sqrt,
        balanced_prices_arcs_slack=slack,
        balanced_prices_min_progress=1.0,
        balanced_prices_max_ties=1.0,
        balanced_prices_auction_above=0.0 if method == "auction" and not stop_sqrt else 1.0,
        balanced_auction_with_steps=1.0,
    )


@pytest.mark.parametrize("kind", ["base", "skewed"])
def test_the_last_count_balancing_pass_is_the_greedy_arc_minima_pass(kind):
    """When the steps end on a pass that built the exact phase's arc minima (``arcs_done``), what they hand
    over is exactly what ``greedy_arcs`` makes at the prices they return."""
    from linassign._cli import make_scores
    from linassign._numba._balanced_prices import balance_prices
    from linassign._numba._balanced_ssp import greedy_arcs

    n, E = 2048, 16
    s = make_scores(kind, n, E)
    capx = np.full(E, n // E, np.int64)
    p = np.zeros(E)
    col, cnt, own, margin = np.empty(n, np.int64), np.zeros(E, np.int64), np.empty(n), np.empty(n)
    M, W, M2, W2 = np.empty((E, E)), np.empty((E, E), np.int64), np.empty((E, E)), np.empty((E, E), np.int64)
    passes, x, arcs_done = balance_prices(
        s, 1.0, p, E, capx, 0.5, 1.5, 100, 8, 0.8, 0.05 * n, n, 2.0, col, cnt, M, W, M2, W2, own, margin
    )
    assert arcs_done and passes >= 2 and 0 <= x <= 200
    want = [np.empty_like(a) for a in (col, cnt, M, W, M2, W2, own, margin)]
    assert greedy_arcs(s, 1.0, p, E, False, *want) == 0
    assert int(np.maximum(want[1] - capx, 0).sum()) == x
    for got, ref in zip((col, cnt, M, W, M2, W2, own, margin), want, strict=True):
        np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize(
    ("kind", "n", "E", "drop"),
    [
        ("base", 2048, 128, False),
        ("integer", 2048, 128, False),
        ("forbidden", 1000, 7, True),
        ("normal", 20000, 16, False),
        ("base", 1000, 300, False),
        ("forbidden", 16384, 300, True),
    ],
)
def test_the_parallel_greedy_arc_minima_pass_equals_the_serial_one(kind, n, E, drop):
    """One problem on the threads makes the greedy start and the arc minima in two passes below 16384 rows
    (``greedy_then_arcs``: rows, then columns) and in one pass with private blocks above; both must hand the
    exact phase what the serial single pass makes, array for array (ties, forbidden pairs, a drop column).
    With more than 256 columns both take the two passes; the reference is then the single pass compiled
    without that limit."""
    import types

    import numba

    from linassign._cli import make_scores
    from linassign._numba._balanced import _greedy_arcs_parallel
    from linassign._numba._balanced_ssp import _FUSED_MAX_COLUMNS
    from linassign._numba._balanced_ssp import greedy_arcs as serial

    greedy_arcs = serial
    if E + drop > _FUSED_MAX_COLUMNS:
        py = serial.py_func
        glb = dict(py.__globals__, _FUSED_MAX_COLUMNS=1 << 30)
        greedy_arcs = numba.njit(types.FunctionType(py.__code__, glb, "greedy_arcs_fused"))

    rng = np.random.default_rng(3)
    if kind == "forbidden":
        s = rng.standard_normal((n, E))
        s[rng.random((n, E)) < 0.3] = -np.inf
    else:
        s = make_scores(kind, n, E)
    Ec = E + 1 if drop else E
    p = 0.1 * rng.standard_normal(Ec)
    outs = []
    for kernel in (greedy_arcs, _greedy_arcs_parallel, serial):
        arrays = (np.empty(n, np.int64), np.zeros(Ec, np.int64), np.empty((Ec, Ec)), np.empty((Ec, Ec), np.int64))
        arrays += (np.empty((Ec, Ec)), np.empty((Ec, Ec), np.int64), np.empty(n), np.zeros(n))
        assert kernel(s, 1.0, p, E, drop, *arrays) == 0
        outs.append(arrays)
    assert outs[0][1].sum() == n
    for out in outs[1:]:
        for got, ref in zip(out, outs[0], strict=True):
            np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize(("n", "drift"), [(2048, 0.01), (8192, 0.01), (8192, 0.2)])
def test_the_certificate_from_the_kept_scores_equals_the_one_read_from_the_matrix(n, drift):
    """``finalize`` takes each row's score in its column from ``own`` (kept by the greedy pass and every row
    move of the exact phase) instead of the matrix: on a warm start from the previous step's prices it must
    give the same objective, bound, gap, prices, row duals and order, bit for bit (8192 x 128 float64 is
    above the size taken to be in cache, where it asks ahead only for the rows it scans)."""
    from linassign._numba._balanced import _greedy_arcs_parallel
    from linassign._numba._balanced_common import finalize, parallel_variant
    from linassign._numba._balanced_ssp import ssp

    rng = np.random.default_rng(11)
    E = 128
    x = rng.standard_normal((n, 64))
    c = rng.standard_normal((E, 64))
    prices = linassign.balanced_assignment(x @ c.T / 8.0).prices
    s = (x + drift * rng.standard_normal(x.shape)) @ (c + drift * rng.standard_normal(c.shape)).T / 8.0
    capx = np.full(E, n // E, np.int64)
    p = np.asarray(prices, dtype=np.float64).copy()
    col, cnt, own, margin = np.empty(n, np.int64), np.zeros(E, np.int64), np.empty(n), np.empty(n)
    M, W, M2, W2 = np.empty((E, E)), np.empty((E, E), np.int64), np.empty((E, E)), np.empty((E, E), np.int64)
    assert _greedy_arcs_parallel(s, 1.0, p, E, False, col, cnt, M, W, M2, W2, own, margin) == 0
    p0, j0 = p.copy(), col.copy()
    # From the pass's arc minima (last argument): the exact phase makes none of its own, on any thread count.
    dm, every = np.zeros(E, np.int64), np.empty(0, np.int64)  # no dummy rows; every row takes part
    status, phases = ssp(s, 1.0, p, E, capx, col, cnt, dm, n + 1, M, W, M2, W2, own, True, False, every)
    assert status == 0 and phases > 0 and (col != j0).any()  # rows moved: ``own`` was updated on the way
    np.testing.assert_array_equal(own, s[np.arange(n), col])
    outs = []
    for kernel in (finalize, parallel_variant(finalize)):
        for kept in (own, np.empty(0)):
            arrays = (np.empty(E), np.empty(n), np.empty(n, np.int64), np.empty(E, np.int64))
            sums = kernel(s, 1.0, p, E, False, capx, col, cnt, *arrays, p0, j0, margin, kept)
            outs.append((sums, arrays))
    for sums, arrays in outs[1:]:
        assert sums == outs[0][0]
        for got, ref in zip(arrays, outs[0][1], strict=True):
            np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(outs[0][1][1], (s - outs[0][1][0]).max(axis=1))  # u: every row's best value


def _exact_phase_from_greedy(s, cap):
    """The serial exact phase on the greedy start at zero prices (the state a solve hands it): (status,
    phases, assignment, prices)."""
    from linassign._numba._balanced_ssp import greedy_arcs, ssp

    n, E = s.shape
    p = np.zeros(E)
    col, cnt, own, margin = np.empty(n, np.int64), np.zeros(E, np.int64), np.empty(n), np.empty(n)
    M, W, M2, W2 = np.empty((E, E)), np.empty((E, E), np.int64), np.empty((E, E)), np.empty((E, E), np.int64)
    assert greedy_arcs(s, 1.0, p, E, False, col, cnt, M, W, M2, W2, own, margin) == 0
    capx = np.asarray(cap, np.int64)
    dm, every = np.zeros(E, np.int64), np.empty(0, np.int64)  # no dummy rows; every row takes part
    status, phases = ssp(s, 1.0, p, E, capx, col, cnt, dm, n + 1, M, W, M2, W2, own, True, False, every)
    return status, phases, col, p


def test_one_phase_moves_units_over_tight_arcs_off_the_shortest_path_tree():
    """Rows 0-2 tie between columns 0 and 2, rows 3-5 between 1 and 2; the greedy start puts them in 0 and 1
    (the lowest tied column), one over capacity each. Dijkstra reaches column 2 from 0 (its tree arc) and
    again, at the same distance, from 1: after the first unit over the tree arc column 0 has nothing left to
    give, and the second unit must come over the arc 1 -> 2, which is off the tree but as tight. One phase
    moves both (a search along tree paths alone needed a second Dijkstra)."""
    s = np.array([[1.0, 0.0, 1.0]] * 3 + [[0.0, 1.0, 1.0]] * 3)
    status, phases, col, p = _exact_phase_from_greedy(s, [2, 2, 2])
    assert status == 0 and phases == 1
    np.testing.assert_array_equal(np.bincount(col, minlength=3), [2, 2, 2])
    assert s[np.arange(6), col].sum() == 6.0  # every row in a column of score 1: optimal
    assert (s - p).max(axis=1).tolist() == (s[np.arange(6), col] - p[col]).tolist()  # each row in a best column


@settings(max_examples=60, deadline=None)
@given(
    n_cols=st.integers(2, 6),
    k=st.integers(1, 6),
    top=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_exact_phase_on_tied_integer_scores_is_optimal(n_cols, k, top, seed):
    """Small integer scores, where most arcs are tight and the moves leave the shortest-path tree: the exact
    phase from the greedy start ends balanced, with every row in a best column under its prices and the
    optimal total of scipy on the expanded matrix."""
    rng = np.random.default_rng(seed)
    n = k * n_cols
    s = rng.integers(0, top + 1, (n, n_cols)).astype(np.float64)
    status, phases, col, p = _exact_phase_from_greedy(s, [k] * n_cols)
    assert status == 0
    np.testing.assert_array_equal(np.bincount(col, minlength=n_cols), [k] * n_cols)
    np.testing.assert_array_equal((s - p).max(axis=1), s[np.arange(n), col] - p[col])
    expanded = np.repeat(s, k, axis=1)
    r, c = scipy_lsa(expanded, maximize=True)
    assert s[np.arange(n), col].sum() == expanded[r, c].sum()


@st.composite
def padded_problems(draw, max_rows=48, max_cols=5):
    """``balanced_problems`` whose rows are partly one repeated row (padding tokens): a share of 1/4 to all of
    them, so that the greedy start crowds the repeated row's column and the exact phase moves them as dummy
    rows (``_take_block``). Scores float, small integers (the other rows tie with it too) or huge; forbidden
    pairs also in the repeated row; capacities summing to n, below it (dropped rows) or above (dummy rows:
    no block)."""
    n_cols = draw(st.integers(1, max_cols))
    n = draw(st.integers(4, max_rows))
    maximize = draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["float", "int", "huge"]))
    if kind == "int":
        s = rng.integers(-2, 3, (n, n_cols)).astype(np.float64)
    else:
        s = rng.standard_normal((n, n_cols)) * (1e12 if kind == "huge" else 1.0)
    if draw(st.booleans()):
        s[rng.random((n, n_cols)) < 0.2] = -np.inf if maximize else np.inf
    rows = rng.choice(n, max(2, int(draw(st.sampled_from([0.25, 0.5, 0.8, 1.0])) * n)), replace=False)
    s[rows] = s[rows[0]]
    mode = draw(st.sampled_from(["sum", "drop", "above"]))
    if mode == "sum":
        cap = np.full(n_cols, n // n_cols)
        cap[: n % n_cols] += 1
    elif mode == "drop":
        cap = rng.integers(0, max(1, n // n_cols) + 1, n_cols)
    else:
        cap = rng.integers(n // n_cols + 1, n // n_cols + 3, n_cols)
    return Case(s, cap, np.asarray(cap, dtype=np.int64), maximize)


@settings(max_examples=150, deadline=None)
@given(case=padded_problems(), method=st.sampled_from(METHODS))
def test_repeated_rows_moved_as_one_block_match_scipy(case, method):
    """Identical rows leave the real rows of the exact phase and move as dummy rows with the repeated row's
    scores; the answer must be scipy's optimum, certified, with the block's rows back in their columns."""
    check_with_config(case, method)


@pytest.mark.parametrize("kind", ["padded", "one-row", "ints"])
def test_the_exact_phase_with_a_block_of_identical_rows_is_the_exact_phase_without(kind):
    """From the same greedy start, the exact phase that moves the identical rows as a block and the one that
    moves them as rows reach the same objective, with every row's kept score and the counts consistent; and
    the block is really taken there (so that the scipy tests above exercise it)."""
    from linassign._numba._balanced_ssp import _take_block, greedy_arcs, ssp

    rng = np.random.default_rng(5)
    n, E = 600, 6
    if kind == "ints":
        s = rng.integers(0, 3, (n, E)).astype(np.float64)  # 729 distinct rows at most: many repeats
    else:
        s = rng.standard_normal((n, E))
        rows = rng.choice(n, n if kind == "one-row" else n // 3, replace=False)
        s[rows] = s[rows[0]]
    capx = np.full(E, n // E, np.int64)
    out = []
    for blocks in (True, False):
        p = np.zeros(E)
        col, cnt, own, margin = np.empty(n, np.int64), np.zeros(E, np.int64), np.empty(n), np.empty(n)
        M, W, M2, W2 = np.empty((E, E)), np.empty((E, E), np.int64), np.empty((E, E)), np.empty((E, E), np.int64)
        assert greedy_arcs(s, 1.0, p, E, False, col, cnt, M, W, M2, W2, own, margin) == 0
        if blocks:
            probe_col, probe_cnt, dm, dv = col.copy(), cnt.copy(), np.zeros(E, np.int64), np.zeros(E)
            taken = _take_block(s, 1.0, E, capx, probe_col, probe_cnt, dm, dv, np.empty(0, np.int64))
            assert taken.size >= 2 and dm.sum() == taken.size and (probe_col[taken] == -1).all()
            np.testing.assert_array_equal(s[taken], np.broadcast_to(dv, (taken.size, E)))
        dm = np.zeros(E, np.int64)
        status, _ = ssp(s, 1.0, p, E, capx, col, cnt, dm, n + 1, M, W, M2, W2, own, True, blocks, np.empty(0, np.int64))
        assert status == 0 and (dm == 0).all()
        np.testing.assert_array_equal(cnt, capx)
        np.testing.assert_array_equal(np.bincount(col, minlength=E), capx)
        np.testing.assert_array_equal(own, s[np.arange(n), col])
        assert ((s - p).max(axis=1) <= s[np.arange(n), col] - p[col] + 1e-12).all()  # each row in a best column
        out.append(math.fsum(own.tolist()))
    assert out[0] == pytest.approx(out[1], rel=1e-12, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(
    costs=st.lists(st.integers(0, 3), min_size=1, max_size=40),
    below=st.integers(0, 2),
    dummies=st.booleans(),
    dummy_cost=st.integers(-1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_a_rescan_that_stops_at_the_lower_bound_finds_what_the_whole_scan_finds(
    costs, below, dummies, dummy_cost, seed
):
    """``_refresh_arc`` of an arc a -> b whose M[a, b] is a lower bound of the members' costs (the true minimum,
    or below it as a stale entry is) stops at the second member reaching it: M, W, M2, W2 must be those of a
    scan of every member in member order (the first member at the minimum, then the first other one at the
    least remaining cost), also with dummy rows in a (which keeps no second; one costs ``dv[a] - dv[b]`` to
    move: 0 for the dummy rows of capacities above n, any value for a block of identical rows)."""
    from linassign._numba._balanced_ssp import _refresh_arc

    rng = np.random.default_rng(seed)
    m, E, a, b = len(costs), 3, 0, 1
    n = m + 5
    s = rng.integers(-3, 4, (n, E)).astype(np.float64)
    rows = rng.permutation(n)[:m]  # the members, in member order
    own = np.zeros(n)
    own[rows] = s[rows, b] + np.array(costs, np.float64)  # so that own[i] - s[i, b] is the cost
    mem = np.concatenate([rows, np.zeros(3, np.int64)])
    lo, hi = np.array([0, m, m]), np.array([m, m, m])
    dm = np.array([1 if dummies else 0, 0, 0])
    dv = np.array([dummy_cost + 0.5, 0.5, 0.0])
    M, W = np.full((E, E), min(costs) - below, np.float64), np.full((E, E), -1, np.int64)
    M2, W2, stale = np.zeros((E, E)), np.full((E, E), -1, np.int64), np.ones((E, E), np.bool_)
    _refresh_arc(a, b, s, 1.0, E, mem, lo, hi, own, dm, dv, M, W, M2, W2, stale)
    c = np.array(costs, np.float64)
    first = int(np.argmin(c))
    rest = np.delete(np.arange(m), first)
    best, w = c[first], rows[first]
    best2 = c[rest].min() if m > 1 else np.inf
    w2 = rows[rest[np.argmin(c[rest])]] if m > 1 else -1
    if dummies:
        w2 = -1
        if best > dummy_cost:
            best, w = float(dummy_cost), -2
    assert (M[a, b], W[a, b], W2[a, b]) == (best, w, w2) and not stale[a, b]
    if not dummies:
        assert M2[a, b] == best2


@settings(max_examples=60)
@given(
    n_cols=st.integers(1, 4),
    k=st.sampled_from([16, 20, 32]),
    kind=st.sampled_from(["float", "int", "skewed", "huge"]),
    forbid=st.booleans(),
    maximize=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
    method=st.sampled_from(["auction", "hungarian"]),
)
def test_subsample_and_whole_matrix_steps_change_the_speed_never_the_answer(
    n_cols, k, kind, forbid, maximize, seed, method
):
    """Count-balancing steps on every 4th row (k / 4 per column, ``subsample_prices``) and then on the whole
    matrix, forced on problems of k rows per column, each run until its excess stops falling."""
    rng = np.random.default_rng(seed)
    s = _scores_of_kind(rng, kind, k * n_cols, n_cols, forbid, maximize)
    check_with_config(
        Case(s, None, np.full(n_cols, k), maximize),
        method,
        balanced_sample_min_excess=-1.0,
        balanced_sample_min_capacity=k // 4,
        balanced_sample_min_factor=4,
        balanced_sample_max_factor=4,
        balanced_sample_stop_below=0.0,
        balanced_prices_stop_below=0.0,
        balanced_prices_stop_sqrt=0.0,
        balanced_prices_min_progress=1.0,
    )


@pytest.mark.parametrize("method", ["auction", "hungarian"])
def test_popular_columns_start_from_a_subsample_and_stay_exact(method):
    """With the default settings, 512 rows over 4 columns with one very popular column take the subsample
    path (every 16th row, 8 per column) and reach scipy's optimum on the expanded problem."""
    from linassign._config import CONFIG
    from linassign._numba._balanced import _sample_excess, _sample_factor

    rng = np.random.default_rng(5)
    s = rng.standard_normal((512, 4)) + np.array([3.0, 0.0, 0.5, -1.0])
    cap = np.full(4, 128)
    bounds = [CONFIG[f"balanced_sample_{k}"] for k in ("min_capacity", "min_factor", "max_factor")]
    assert _sample_factor(cap, 4, 512, 0, *bounds) == 16
    # The estimate from every 16th row is far above the threshold (0.1 * 512 plus 36 rows of sampling noise).
    excess, tied = _sample_excess(s, 1.0, np.zeros(4), 4, 8, 16)
    assert excess > 2 * (CONFIG["balanced_sample_min_excess"] * 512 + 36) and tied == 0.0
    res = linassign.balanced_assignment(s, method=method)
    check_result(Case(s, None, cap, True), res, expanded_optimum(s, cap, True))


def test_the_subsample_factor_applies_only_to_equal_capacities():
    from linassign._numba._balanced import _sample_factor

    assert _sample_factor(np.full(128, 128), 128, 16384, 0, 8, 8, 16) == 16
    assert _sample_factor(np.full(128, 512), 128, 65536, 0, 8, 8, 16) == 16
    assert _sample_factor(np.full(128, 64), 128, 8192, 0, 8, 8, 16) == 8
    assert _sample_factor(np.full(128, 32), 128, 4096, 0, 8, 8, 16) == 0  # a factor below min_factor
    assert _sample_factor(np.full(128, 16), 128, 2048, 0, 16, 4, 16) == 0  # too few rows per column
    assert _sample_factor(np.array([128, 64]), 2, 192, 0, 8, 8, 16) == 0  # unequal capacities
    assert _sample_factor(np.full(4, 128), 4, 512, 3, 8, 8, 16) == 0  # dummy rows
    # One real column of capacity 11 and a drop column of 11 rows: equal, but not equal capacities.
    assert _sample_factor(np.full(2, 11), 1, 22, 0, 1, 4, 64) == 0
    assert _sample_factor(np.full(3, 60), 3, 180, 0, 1, 4, 64) == 60  # the largest divisor within the bounds


def _low_rank_scores(rng, n, n_cols, rank, noise):
    """Scores of rank ``rank`` (plus ``noise`` times iid noise): every column ranks the rows alike, so that at
    any prices the count-balancing steps reach most rows crowd a few columns."""
    x = rng.standard_normal((n, rank))
    y = np.abs(rng.standard_normal((rank, n_cols))) + 0.5
    return x @ y + noise * rng.standard_normal((n, n_cols))


@settings(max_examples=60, deadline=None)
@given(
    n_cols=st.integers(2, 10),
    k=st.integers(4, 40),
    rank=st.sampled_from([1, 2]),
    noise=st.sampled_from([0.0, 0.01]),
    forbid=st.booleans(),
    maximize=st.booleans(),
    coarse_above=st.sampled_from([0.1, 0.0]),
    seed=st.integers(0, 2**32 - 1),
    method=st.sampled_from(METHODS),
    float32=st.booleans(),
)
def test_low_rank_scores_are_solved_exactly(
    n_cols, k, rank, noise, forbid, maximize, coarse_above, seed, method, float32
):
    """Low-rank scores, on which the steps stall and the solve starts from exact subsample solves
    (``coarse_prices``; with ``coarse_above`` 0 after any steps that leave rows in excess), reach scipy's
    optimum on the expanded problem, with forbidden pairs too (a subsample may then be infeasible)."""
    rng = np.random.default_rng(seed)
    s = _low_rank_scores(rng, k * n_cols, n_cols, rank, noise)
    if forbid:
        s[rng.random(s.shape) < 0.25] = -np.inf
    if not maximize:
        s = -s
    if float32:
        s = s.astype(np.float32)
    check_with_config(Case(s, None, np.full(n_cols, k), maximize), method, balanced_coarse_above=coarse_above)


def _coarse(s, p, cap, ratio=8, x_before=None):
    """``coarse_prices`` on (n, E) scores from prices ``p`` (in place) with capacities ``cap``, keeping any
    prices that leave fewer than ``x_before`` rows in excess (default n + 1: any)."""
    from linassign._numba._balanced import coarse_prices

    n, E = s.shape
    x = n + 1 if x_before is None else x_before
    work = (np.empty((0, 0)), np.empty((0, 0), np.int64), np.empty((0, 0)), np.empty((0, 0), np.int64))
    return coarse_prices(s, 1.0, p, E, np.asarray(cap, np.int64), ratio, x, *work)


def _greedy_excess(s, p):
    from linassign._numba._balanced import _excess
    from linassign._numba._balanced_common import greedy_start

    n, E = s.shape
    col, cnt = np.empty(n, np.int64), np.zeros(E, np.int64)
    assert greedy_start(s, 1.0, p, E, False, col, cnt) == 0
    return _excess(np.full(E, n // E, np.int64), cnt)


@pytest.mark.parametrize("rank", [1, 2])
def test_exact_subsample_solves_balance_what_the_steps_cannot(rank):
    """4096 x 32 rank-1 and rank-2 scores: the count-balancing steps leave most rows in excess (more than
    ``balanced_coarse_above``, so the solve calls ``coarse_prices``); the prices of the subsample solves leave
    under a quarter of that, and the solve from them is optimal (a zero gap recomputed from the input)."""
    from linassign._config import CONFIG
    from linassign._numba._balanced import _params, _steps

    n, E = 4096, 32
    s = _low_rank_scores(np.random.default_rng(rank), n, E, rank, 0.0)
    capx = np.full(E, n // E, np.int64)
    p = np.zeros(E)
    work = [np.empty(n, np.int64), np.empty(E, np.int64), np.empty((0, 0)), np.empty((0, 0), np.int64)]
    work += [np.empty((0, 0)), np.empty((0, 0), np.int64), np.empty(0), np.empty(n)]
    _, x_steps, _ = _steps(s, 1.0, p, E, capx, _params(), 0, -1, *work)
    assert x_steps == _greedy_excess(s, p) > CONFIG["balanced_coarse_above"] * n
    phases, levels = _coarse(s, p, capx, CONFIG["balanced_coarse_ratio"], x_steps)
    assert phases > 0 and levels == 2  # about every 64th row, 2 per column; every 8th, 16 per column
    assert _greedy_excess(s, p) < x_steps / 4
    res = linassign.balanced_assignment(s)
    assert np.array_equal(res.counts, capx)
    assert verify_balanced(s, res, np.asarray, capacity=capx) <= 1e-9 * n * np.abs(s).max()


@pytest.mark.parametrize("method", METHODS)
def test_low_rank_problems_give_the_same_answer_alone_on_the_threads_and_in_a_batch(method):
    """A 4096 x 32 rank-one problem takes the exact subsample solves on every path: alone (the variant on the
    threads, whose final check of the prices splits over them), and in a batch (the serial solver per item).
    Both give the same assignment, prices and certificate, and the batch items their own results."""
    rng = np.random.default_rng(7)
    batch = np.stack([_low_rank_scores(rng, 4096, 32, 1 + b % 2, 0.0) for b in range(3)])
    together = linassign.balanced_assignment(batch, method=method)
    for b in range(3):
        alone = linassign.balanced_assignment(batch[b], method=method)
        assert np.array_equal(alone.assignment, together.assignment[b])
        assert np.array_equal(alone.prices, together.prices[b])
        assert alone.objective == together.objective[b] and alone.gap == together.gap[b]
        assert verify_balanced(batch[b], alone, np.asarray, capacity=128) <= 1e-9 * 4096 * np.abs(batch[b]).max()


def test_exact_subsample_solves_keep_their_prices_only_when_they_leave_less_excess():
    """The subsample's prices replace the given ones only if the whole matrix's greedy start under them leaves
    fewer rows in excess than ``x_before``: with x_before 0 (given prices already balanced) they never do."""
    s = _low_rank_scores(np.random.default_rng(3), 1024, 16, 1, 0.0)
    p = np.zeros(16)
    phases, levels = _coarse(s, p, np.full(16, 64), 8, 0)
    assert phases > 0 and levels == 0 and not p.any()
    phases, levels = _coarse(s, p, np.full(16, 64), 8, _greedy_excess(s, p))
    assert levels == 2 and _greedy_excess(s, p) < _greedy_excess(s, np.zeros(16))


def test_the_subsample_of_exact_solves_is_jittered_within_blocks_of_f_rows():
    """Every f-th row with a hashed offset in its block: a kind of row repeating with a period dividing f (a
    marker token every 8 rows) is neither always sampled nor always missed."""
    from linassign._numba._balanced import _every_fth_row, _sampled_row

    for f in (2, 8, 64):
        rows = np.array([_sampled_row(r, f, True) for r in range(256)])
        assert np.array_equal(rows // f, np.arange(256))
        assert len(np.unique(rows % f)) >= f // 2
        assert [_sampled_row(r, f, False) for r in range(3)] == [0, f, 2 * f]
    s = np.arange(4096.0).reshape(512, 8)
    sub = _every_fth_row(s, 8, 64, True)
    assert np.array_equal(sub, s[[_sampled_row(r, 8, True) for r in range(64)]])


def test_exact_subsample_solves_leave_the_prices_when_a_subsample_is_infeasible():
    """64 rows over 4 columns of 16, where rows 0-7, 16-23, ... may only go to column 0: about every 8th row
    (one per block of 8) with 2 slots per column (the first level) is infeasible, the whole problem is not.
    ``coarse_prices`` leaves the prices as they were and the solve still reaches scipy's optimum."""
    s = _low_rank_scores(np.random.default_rng(0), 64, 4, 1, 0.0)
    s[(np.arange(64) // 8) % 2 == 0, 1:] = -np.inf
    p = np.array([0.5, -1.0, 2.0, 0.0])
    _, levels = _coarse(s, p, np.full(4, 16))
    assert levels == 0 and np.array_equal(p, [0.5, -1.0, 2.0, 0.0])
    for method in METHODS:
        check_with_config(Case(s, None, np.full(4, 16), True), method, balanced_coarse_above=0.0)


def test_exact_subsample_solves_need_equal_capacities_of_at_least_four_rows():
    s = _low_rank_scores(np.random.default_rng(0), 64, 4, 1, 0.0)
    for cap in ([16, 16, 16, 16 + 1], [24, 8, 16, 16]):
        p = np.zeros(len(cap))
        assert _coarse(s, p, cap) == (0, 0) and not p.any()
    assert _coarse(s[:12], np.zeros(4), np.full(4, 3)) == (0, 0)
    # 4 rows per column: one level, about every 2nd row with 2 per column.
    assert _coarse(s[:16], np.zeros(4), np.full(4, 4))[1] == 1


@pytest.mark.parametrize("ratio", [0, 1, 2])
def test_a_coarse_ratio_below_two_counts_as_two(ratio):
    """``balanced_coarse_ratio`` 1 would never end the levels and 0 would never grow them: both mean 2."""
    s = _low_rank_scores(np.random.default_rng(1), 512, 4, 1, 0.0)
    assert _coarse(s, np.zeros(4), np.full(4, 128), ratio)[1] == 6  # 2, 4, ..., 64 rows per column
    check_with_config(
        Case(s, None, np.full(4, 128), True), "hungarian", balanced_coarse_above=0.0, balanced_coarse_ratio=ratio
    )


@settings(max_examples=60)
@given(case=balanced_problems(max_rows=40, max_cols=5, max_cap=12), method=st.sampled_from(METHODS))
def test_one_large_problem_on_all_threads_gives_the_serial_answer(case, method):
    """The variant for one large problem (full passes split over the threads) is compiled from the same source;
    forced on small problems here, it must return exactly what the serial solver returns."""
    from linassign._config import CONFIG

    def solve():
        return linassign.balanced_assignment(case.scores, case.capacity, maximize=case.maximize, method=method)

    try:
        serial = solve()
    except linassign.InfeasibleError:
        serial = None
    saved = dict(CONFIG)
    CONFIG.update(balanced_parallel_min_size=0)
    try:
        if serial is None:
            with pytest.raises(linassign.InfeasibleError):
                solve()
            return
        par = solve()
    finally:
        CONFIG.clear()
        CONFIG.update(saved)
    assert np.array_equal(par.assignment, serial.assignment)
    assert np.array_equal(par.order, serial.order)
    assert np.array_equal(par.prices, serial.prices)
    assert par.objective == serial.objective and par.bound == serial.bound and par.gap == serial.gap


_PURE_PYTHON_SCRIPT = """
import json, sys
import numpy as np
import linassign
rng = np.random.default_rng(0)
out = []
cases = (((24, 4), "float64", None), ((24, 4), "float32", None), ((30, 5), "float64", [3, 4, 5, 6, 2]))
for shape, dtype, cap in cases:
    s = rng.normal(size=shape).astype(dtype)
    for method in ("auction", "hungarian", "sinkhorn"):
        r = linassign.balanced_assignment(s, None if cap is None else np.array(cap), method=method)
        out.append([r.assignment.tolist(), r.objective])
json.dump(out, sys.stdout)
"""


def test_pure_python_mode_gives_the_same_answers():
    """Under NUMBA_DISABLE_JIT (coverage runs) the kernels run as Python, the SIMD intrinsics as their scalar
    definitions and the parallel variants as plain functions: the same assignments and objectives."""
    import contextlib
    import io
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    pure = subprocess.run(
        [sys.executable, "-c", _PURE_PYTHON_SCRIPT], env=env, capture_output=True, text=True, timeout=300
    )
    assert pure.returncode == 0, pure.stderr[-2000:]
    jit = io.StringIO()
    with contextlib.redirect_stdout(jit):
        exec(_PURE_PYTHON_SCRIPT, {})  # this process: the compiled kernels
    assert json.loads(pure.stdout) == json.loads(jit.getvalue())
