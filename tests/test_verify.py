"""linassign.verify: every solver result passes it; every kind of corrupted result is caught.

Corruptions are sized relative to the problem's scale (1e-5 of the largest cost or dual), far above rounding,
so that a certificate that lets them through is wrong at any magnitude, 1e-12 as well as 1e15.
"""

from __future__ import annotations

import numpy as np
import pytest
from _reference import exact_objective, scipy_error
from hypothesis import assume, given
from hypothesis import strategies as st
from strategies import forbidden_value, problems

import linassign
from linassign import CertificateError

RELATIVE_CORRUPTION = 1e-5


def _scale(cost: np.ndarray, res) -> float:
    """Largest magnitude among the finite costs and the duals."""
    c = np.asarray(cost, dtype=np.float64)
    s = max(
        float(np.abs(c[np.isfinite(c)]).max(initial=0.0)),
        float(np.abs(np.asarray(res.u)).max(initial=0.0)),
        float(np.abs(np.asarray(res.v)).max(initial=0.0)),
    )
    # An all-zero problem has no scale: use 1. Keep corruptions of subnormal problems representable.
    return 1.0 if s == 0 else max(s, 1e-300)


def _rounding(cost: np.ndarray, res) -> float:
    """What rounding may legitimately leave in a gap."""
    return 64 * np.finfo(np.float64).eps * _scale(cost, res) * max(1, sum(np.shape(cost)[-2:])) ** 2


def _solved(p):
    """hungarian's result for a problem scipy can solve (hypothesis discards the infeasible ones)."""
    items = p.cost if p.cost.ndim == 3 else [p.cost]
    assume(all(scipy_error(item, p.maximize) is None for item in items))
    return linassign.hungarian(p.cost, maximize=p.maximize)


def _with_objective(cost, res, row_ind, col_ind):
    """res with a different (but consistent) assignment: objective recomputed, duals kept."""
    return res._replace(row_ind=row_ind, col_ind=col_ind, objective=float(exact_objective(cost, row_ind, col_ind)))


# ----------------------------------------------------------------------------------------------------------
# Solver results pass
# ----------------------------------------------------------------------------------------------------------


@given(p=problems(max_side=30, forbidden=None))
def test_every_solver_result_passes_verify(p):
    res = _solved(p)
    gap = linassign.verify(p.cost, res)
    assert isinstance(gap, float)
    assert 0.0 <= gap <= _rounding(p.cost, res)
    assert abs(gap - res.gap) <= _rounding(p.cost, res)


@given(p=problems(batch=(0, 5), max_side=8, forbidden=None))
def test_batched_verify_returns_per_item_gaps(p):
    res = _solved(p)
    gaps = linassign.verify(p.cost, res)
    assert isinstance(gaps, np.ndarray) and gaps.shape == (p.cost.shape[0],)
    for b in range(p.cost.shape[0]):
        item = res._replace(
            **{f: getattr(res, f)[b] for f in ("row_ind", "col_ind", "u", "v")},
            objective=float(res.objective[b]),
            gap=float(res.gap[b]),
        )
        assert gaps[b] == linassign.verify(p.cost[b], item)
        assert 0.0 <= gaps[b] <= _rounding(p.cost[b], item)


@given(p=problems(batch=(2, 5), min_side=2, max_side=8, forbidden=False), data=st.data())
def test_batched_verify_catches_one_corrupted_item(p, data):
    res = _solved(p)
    b = data.draw(st.integers(0, p.cost.shape[0] - 1), label="item")
    col_ind = res.col_ind.copy()
    col_ind[b, 1] = col_ind[b, 0]
    with pytest.raises(CertificateError):
        linassign.verify(p.cost, res._replace(col_ind=col_ind))


# ----------------------------------------------------------------------------------------------------------
# Corrupted results are caught
# ----------------------------------------------------------------------------------------------------------


@given(p=problems(min_side=2, max_side=12, forbidden=None), data=st.data())
def test_swapped_assignment_gives_a_positive_gap_or_fails(p, data):
    """Swap two assigned columns (objective recomputed, duals kept): the gap must grow by the loss."""
    res = _solved(p)
    k = res.row_ind.size
    a = data.draw(st.integers(0, k - 1), label="a")
    b = data.draw(st.integers(0, k - 1).filter(lambda x: x != a), label="b")
    col_ind = res.col_ind.copy()
    col_ind[[a, b]] = col_ind[[b, a]]
    if np.any(p.cost[res.row_ind, col_ind] == forbidden_value(p.maximize)):
        with pytest.raises(CertificateError, match="forbidden"):
            linassign.verify(p.cost, _with_objective(p.cost, res, res.row_ind, col_ind))
        return
    bad = _with_objective(p.cost, res, res.row_ind, col_ind)
    loss = abs(float(bad.objective) - float(res.objective))
    try:
        gap = linassign.verify(p.cost, bad)
    except CertificateError:
        return
    tol = _rounding(p.cost, res)
    assert abs(gap - loss) <= tol, f"gap {gap:.6g} but the swap lost {loss:.6g}"
    if loss > tol:
        assert gap > 0.0


@given(p=problems(max_side=12, min_side=1, forbidden=None), data=st.data(), which=st.sampled_from(["u", "v"]))
def test_dual_infeasible_potentials_are_caught(p, data, which):
    """Raise the dual of an assigned row (u) or column (v), in the problem's sense: the assigned pair,
    which was tight, becomes infeasible."""
    res = _solved(p)
    t = data.draw(st.integers(0, res.row_ind.size - 1), label="pair")
    sign = -1.0 if p.maximize else 1.0
    delta = RELATIVE_CORRUPTION * _scale(p.cost, res)
    duals = np.array(getattr(res, which), dtype=np.float64)
    index = res.row_ind[t] if which == "u" else res.col_ind[t]
    duals[index] += sign * delta
    with pytest.raises(CertificateError):
        linassign.verify(p.cost, res._replace(**{which: duals}))


@given(p=problems(max_side=12, min_side=1, forbidden=None), data=st.data(), which=st.sampled_from(["u", "v"]))
def test_loosened_potentials_show_in_the_gap(p, data, which):
    """Lowering an assigned dual (in the problem's sense) keeps the duals feasible: no error, but the gap
    grows by exactly that amount."""
    res = _solved(p)
    t = data.draw(st.integers(0, res.row_ind.size - 1), label="pair")
    sign = -1.0 if p.maximize else 1.0
    delta = RELATIVE_CORRUPTION * _scale(p.cost, res)
    duals = np.array(getattr(res, which), dtype=np.float64)
    index = res.row_ind[t] if which == "u" else res.col_ind[t]
    duals[index] -= sign * delta
    gap = linassign.verify(p.cost, res._replace(**{which: duals}))
    assert abs(gap - delta) <= _rounding(p.cost, res) + 1e-9 * delta, (gap, delta)


@given(p=problems(min_side=1, max_side=12, kind="wide", forbidden=None), data=st.data())
def test_positive_dual_on_an_unassigned_column_is_caught(p, data):
    """In a wide problem, unassigned columns must have v = 0; a positive one (minimize sense) would make
    sum(u) + sum(v) an invalid bound."""
    res = _solved(p)
    free = np.setdiff1d(np.arange(p.cost.shape[1]), res.col_ind)
    j = free[data.draw(st.integers(0, free.size - 1), label="free column")]
    sign = -1.0 if p.maximize else 1.0
    v = np.array(res.v, dtype=np.float64)
    v[j] = sign * RELATIVE_CORRUPTION * _scale(p.cost, res)
    with pytest.raises(CertificateError):
        linassign.verify(p.cost, res._replace(v=v))


@given(p=problems(min_side=2, max_side=12, forbidden=None), which=st.sampled_from(["row_ind", "col_ind"]))
def test_duplicate_row_or_column_is_caught(p, which):
    res = _solved(p)
    idx = np.array(getattr(res, which))
    idx[1] = idx[0]
    with pytest.raises(CertificateError, match="twice"):
        linassign.verify(p.cost, res._replace(**{which: idx}))


@given(p=problems(min_side=1, max_side=12, forbidden=None), sign=st.sampled_from([-1.0, 1.0]))
def test_wrong_objective_is_caught(p, sign):
    res = _solved(p)
    delta = RELATIVE_CORRUPTION * max(_scale(p.cost, res), abs(res.objective))
    with pytest.raises(CertificateError, match="objective"):
        linassign.verify(p.cost, res._replace(objective=res.objective + sign * delta))


@given(p=problems(min_side=1, max_side=12, forbidden=False), data=st.data())
def test_assignment_on_a_forbidden_pair_is_caught(p, data):
    res = _solved(p)
    t = data.draw(st.integers(0, res.row_ind.size - 1), label="pair")
    cost = p.cost.astype(np.float64)
    cost[res.row_ind[t], res.col_ind[t]] = forbidden_value(p.maximize)
    with pytest.raises(CertificateError, match="forbidden"):
        linassign.verify(cost, res)


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda r: r._replace(col_ind=np.array([0, 1, 5])),
        lambda r: r._replace(col_ind=np.array([0, -1, 2])),
        lambda r: r._replace(row_ind=np.array([0, 1, 3])),
        lambda r: r._replace(col_ind=r.col_ind[:2]),
        lambda r: r._replace(row_ind=r.row_ind[:2], col_ind=r.col_ind[:2]),
        lambda r: r._replace(u=r.u[:2]),
        lambda r: r._replace(v=np.zeros(4)),
        lambda r: r._replace(u=np.where(np.arange(3) == 0, np.nan, r.u)),
        lambda r: r._replace(v=np.where(np.arange(3) == 2, np.nan, r.v)),
        lambda r: r._replace(col_ind=r.col_ind.astype(np.float64)),
    ],
    ids=[
        "column out of range",
        "negative column",
        "row out of range",
        "short col_ind",
        "too few pairs",
        "short u",
        "long v",
        "nan in u",
        "nan in v",
        "float indices",
    ],
)
def test_malformed_results_are_caught(corrupt):
    cost = np.array([[4.0, 1, 3], [2, 0, 5], [3, 2, 2]])
    res = linassign.hungarian(cost)
    with pytest.raises(CertificateError):
        linassign.verify(cost, corrupt(res))


def test_verify_is_scale_invariant():
    """The same corrupted certificate, scaled by 10**e, is refused at every scale."""
    base = np.array([[4.0, 1, 3], [2, 0, 5], [3, 2, 2]])
    for e in (-12, -6, 0, 6, 15):
        cost = base * 10.0**e
        res = linassign.hungarian(cost)
        assert linassign.verify(cost, res) <= 1e-12 * 10.0**e
        u = res.u.copy()
        u[0] += 0.5 * 10.0**e  # u[0] + v[1] now exceeds cost[0, 1] by half a unit of the problem
        with pytest.raises(CertificateError, match="dual infeasible"):
            linassign.verify(cost, res._replace(u=u))
        with pytest.raises(CertificateError, match="objective"):
            linassign.verify(cost, res._replace(objective=res.objective * 1.5))


def test_verify_checks_the_sense_of_the_problem():
    """A maximize result verified as a minimize one has infeasible duals."""
    cost = np.array([[4.0, 1, 3], [2, 0, 5], [3, 2, 2]])
    res = linassign.hungarian(cost, maximize=True)
    assert linassign.verify(cost, res) == 0.0
    with pytest.raises(CertificateError):
        linassign.verify(cost, res._replace(maximize=False))
