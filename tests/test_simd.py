"""The SIMD row scan of the balanced kernels (``_simd.top2_lanes`` behind ``row_top2``) against its definition
in numpy: best value, lowest column reaching it, best value of the other columns, and a validity sum."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linassign._numba._balanced_common import row_top2
from linassign._numba._balanced_ssp import _relax
from linassign._numba._simd import (
    _AHEAD_BYTES,
    _NONE,
    LANES,
    TIE,
    prefetch_row,
    relax_scalar,
    rows_ahead,
    top2_lanes,
    top2_scalar,
)


@numba.njit(cache=False)
def _scan(s, sgn, p):
    n, E = s.shape
    j = np.empty(n, np.int64)
    v = np.empty(n)
    w = np.empty(n)
    t = np.empty(n)
    for i in range(n):
        j[i], v[i], w[i], t[i] = row_top2(s, i, sgn, p, E)
    return j, v, w, t


@numba.njit(cache=False)
def _prefetched_sums(s):
    """Row sums of s, each row asked for ahead of time, and asking past the last row too."""
    n = s.shape[0]
    ahead = rows_ahead(s)
    out = np.zeros(n)
    for i in range(n):
        prefetch_row(s, i + ahead)
        prefetch_row(s, n + i)  # no such row: nothing is asked for
        for e in range(s.shape[1]):
            out[i] += s[i, e]
    return out, ahead


@numba.njit(cache=False)
def _lanes(s, sgn, p, m):
    n = s.shape[0]
    out = np.empty((n, 4))
    for i in range(n):
        b, c, j, t = top2_lanes(s, i, sgn, p, m)
        out[i, 0] = b
        out[i, 1] = c
        out[i, 2] = j
        out[i, 3] = t
    return out


def _reference(s, sgn, p):
    """(j, v, w) per row from numpy, and whether the row holds a NaN or +inf after the sign."""
    y = sgn * s.astype(np.float64)
    x = y - p
    n, E = s.shape
    j = np.full(n, -1)
    v = np.full(n, -np.inf)
    w = np.full(n, -np.inf)
    for i in range(n):
        v[i] = x[i].max()
        if v[i] > -np.inf:
            j[i] = int(np.flatnonzero(x[i] == v[i])[0])
            rest = np.delete(x[i], j[i])
            w[i] = rest.max() if rest.size else -np.inf
    bad = np.isnan(y).any(axis=1) | (y == np.inf).any(axis=1)
    return j, v, w, bad


@st.composite
def rows(draw):
    """(s, sgn, p): a few rows over E columns (E spans several vector widths and remainders), with small
    integers (ties), floats of huge and tiny magnitude, -inf (forbidden), float32, and prices with +inf (a
    column without room)."""
    n = draw(st.integers(1, 6))
    E = draw(st.sampled_from([1, 2, 7, 8, 9, 31, 32, 33, 64, 100, 128, 131]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["ties", "normal", "huge", "tiny", "allequal"]))
    if kind == "ties":
        s = rng.integers(-2, 3, (n, E)).astype(np.float64)
    elif kind == "allequal":
        s = np.full((n, E), 1.5)
    else:
        scale = {"normal": 1.0, "huge": 1e300, "tiny": 1e-300}[kind]
        s = rng.normal(size=(n, E)) * scale
    sgn = draw(st.sampled_from([1.0, -1.0]))
    if draw(st.booleans()):
        s[rng.random((n, E)) < draw(st.sampled_from([0.1, 0.5, 1.0]))] = -np.inf * sgn  # forbidden
    if kind != "huge" and draw(st.booleans()):
        s = s.astype(np.float32)
    p = rng.integers(0, 2, E).astype(np.float64) if kind in ("ties", "allequal") else rng.random(E) * 0.1
    if draw(st.booleans()):
        p[rng.random(E) < 0.2] = np.inf
    return s, sgn, p


@settings(max_examples=300, deadline=None)
@given(rows())
def test_row_top2_equals_its_definition(case):
    s, sgn, p = case
    s_before = s.copy()
    j, v, w, t = _scan(s, sgn, p)
    rj, rv, rw, bad = _reference(s, sgn, p)
    assert not bad.any()
    np.testing.assert_array_equal(j, rj)
    np.testing.assert_array_equal(v, rv)
    np.testing.assert_array_equal(w, rw)
    # Finite or -inf on a valid row unless the sum overflows (the huge family may).
    assert (t < np.inf).all() or np.abs(s[np.isfinite(s)]).max() > 1e300
    np.testing.assert_array_equal(s, s_before)


@settings(max_examples=100, deadline=None)
@given(rows(), st.data())
def test_row_top2_flags_nan_and_plus_inf_in_its_sum(case, data):
    s, sgn, p = case
    s = s.copy()
    i = data.draw(st.integers(0, s.shape[0] - 1))
    e = data.draw(st.integers(0, s.shape[1] - 1))
    s[i, e] = data.draw(st.sampled_from([np.nan, np.inf * sgn]))
    _, _, _, t = _scan(s, sgn, p)
    assert not t[i] < np.inf


@settings(max_examples=100, deadline=None)
@given(rows())
def test_the_vector_part_equals_its_scalar_form(case):
    """``top2_lanes`` over the whole vectors of each row against ``top2_scalar`` (its scalar definition,
    also its form under NUMBA_DISABLE_JIT): the same best, second and index; the same sum up to its order."""
    s, sgn, p = case
    m = s.shape[1] - s.shape[1] % LANES
    got = _lanes(s, sgn, p, m)
    for i in range(s.shape[0]):
        b, c, j, t = top2_scalar(s, i, sgn, p, 0, m, -np.inf, -np.inf, _NONE, 0.0)
        assert (got[i, 0], got[i, 1], got[i, 2]) == (b, c, j)
        assert got[i, 3] == t or abs(got[i, 3] - t) <= 1e-12 * np.abs(sgn * s[i, :m].astype(float)).sum()


@numba.njit(cache=False)
def _relax_all(M, e, de, pe, p, key, pred, mark):
    return _relax(M, e, de, pe, p, key, pred, mark)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 140), st.integers(0, 2**32 - 1), st.booleans(), st.booleans())
def test_dijkstra_step_equals_its_definition(Ec, seed, ties, mark):
    """``_relax`` (``relax_lanes`` and its scalar tail) against ``relax_scalar`` over all the columns:
    the same keys and predecessors bit for bit, the same least key and lowest column holding it; with arcs
    of no row (+inf), settled columns (key NaN, never updated nor chosen), equal keys, predecessors already
    marked ``TIE``, column counts around the vector sizes, and the tie marks asked for (``mark``) or not."""
    rng = np.random.default_rng(seed)
    draw = (lambda size: rng.integers(0, 3, size).astype(float)) if ties else (lambda size: rng.normal(size=size))
    M = draw((Ec, Ec))
    M[rng.random((Ec, Ec)) < 0.1] = np.inf
    p = draw(Ec)
    key = draw(Ec) + 3.0
    key[rng.random(Ec) < 0.2] = np.inf
    key[rng.random(Ec) < 0.3] = np.nan  # settled
    pred = rng.integers(-1, Ec, Ec)
    pred[(pred >= 0) & (rng.random(Ec) < 0.3)] += TIE
    e = int(rng.integers(0, Ec))
    de = float(draw(1)[0]) + 1.0
    key0, pred0 = key.copy(), pred.copy()
    key2, pred2 = key.copy(), pred.copy()
    mn, j = _relax_all(M, e, de, p[e], p, key, pred, mark)
    mn2, j2 = relax_scalar(M, e, de, p[e], p, key2, pred2, 0, Ec, np.inf, _NONE, mark)
    np.testing.assert_array_equal(key, key2)  # NaN where NaN: settled columns untouched
    np.testing.assert_array_equal(pred, pred2)
    # The marks from their definition: a column reached again at its key (not a settled one, not one without
    # a predecessor) gains the bit when asked for; a key that falls takes e without it; others keep theirs.
    nd = de + np.maximum(M[e] - p[e] + p, 0.0)
    fell = nd < key0
    again = (nd == key0) & (pred0 >= 0)
    expect = np.where(fell, e, np.where(again & mark, pred0 | TIE, pred0))
    np.testing.assert_array_equal(pred, expect)
    assert mn == mn2
    assert j == j2 or (mn == np.inf and j2 == _NONE)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (40, 9), (64, 128), (5, 3000)])
def test_prefetch_is_a_hint_inside_the_array(shape, dtype):
    """Asking for rows ahead, within the array or past it, changes nothing and reads nothing outside it."""
    s = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    out, ahead = _prefetched_sums(s)
    np.testing.assert_allclose(out, s.astype(np.float64).sum(axis=1), rtol=1e-5, atol=1e-5)
    assert ahead == max(1, _AHEAD_BYTES // (shape[1] * s.itemsize))
