"""Certificate of a balanced (capacitated) assignment, recomputed from the scores.

The problem (maximize; minimizing ``cost`` is maximizing ``-cost``), with x[i, e] in {0, 1}:

    max  sum_{i,e} s[i, e] x[i, e]
    s.t. sum_e x[i, e] = 1            for every row i     (<= 1 when sum(capacity) < n: rows may be dropped)
         sum_i x[i, e] <= capacity[e] for every column e  (= capacity[e] when capacity=None, or when
                                                           sum(capacity) <= n: then every column is full)

is a transportation problem, so its linear relaxation has an integral optimum. Its dual, with row duals u
and column prices p, is

    min  sum_i u[i] + sum_e capacity[e] p[e]
    s.t. u[i] + p[e] >= s[i, e] for every allowed pair (s[i, e] > -inf),
         p[e] >= 0     when sum(capacity) > n (some slots stay free),
         u[i] >= 0     when sum(capacity) < n (some rows are dropped).

For given prices the best u is ``u[i] = max_e (s[i, e] - p[e])`` (clipped at 0 when rows may be dropped),
which gives ``bound``. Any prices give a valid bound (with p >= 0 when slots stay free), so ``verify`` raises
only when the result is not a feasible assignment or its prices break that sign condition. An assignment
and prices are optimal together exactly when complementary slackness holds: every assigned row sits in a
column of largest ``s[i, e] - p[e]``, every dropped row has ``u[i] = 0``, and every column with a free slot
has ``p[e] = 0``. The gap is summed from those non-negative slacks, so it is 0 up to rounding exactly for
an optimal answer and otherwise bounds how far the objective is from the optimum:

    bound - objective = sum_{assigned i} (u[i] - s[i, a_i] + p[a_i]) + sum_{dropped i} u[i]
                        + sum_e (capacity[e] - counts[e]) p[e].
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ._config import CONFIG
from ._errors import CertificateError


def _tol(s: np.ndarray, p: np.ndarray) -> float:
    scale = 1.0
    finite = s[np.isfinite(s)]
    if finite.size:
        scale = max(scale, float(np.abs(finite).max()))
    if p.size:
        scale = max(scale, float(np.abs(p).max()))
    return CONFIG["verify_rtol"] * scale


def _check_order(assignment: np.ndarray, order: np.ndarray, n_cols: int) -> None:
    n = assignment.shape[0]
    if order.shape != (n,) or not np.array_equal(np.sort(order), np.arange(n)):
        raise CertificateError("order is not a permutation of the rows")
    key = np.where(assignment >= 0, assignment, n_cols)  # dropped rows last
    expected = np.argsort(key, kind="stable")
    if not np.array_equal(order, expected):
        raise CertificateError("order does not group the rows by column (ascending, stable, dropped rows last)")


def verify_one(
    scores: np.ndarray,
    assignment: Any,
    order: Any,
    counts: Any,
    prices: Any,
    objective: Any,
    maximize: bool,
    capacity: np.ndarray | None = None,
) -> float:
    """Check one (n, E) problem's result; return the recomputed gap. Raises CertificateError.

    Without ``capacity`` the capacities are taken to be ``counts`` (exact for ``capacity=None``): the
    certificate then proves the assignment optimal among all assignments with the same column counts.
    """
    n, n_cols = scores.shape
    sign = 1.0 if maximize else -1.0
    a = np.asarray(assignment)
    cnt = np.asarray(counts)
    p = sign * np.asarray(prices, dtype=np.float64)
    if a.shape != (n,) or cnt.shape != (n_cols,) or p.shape != (n_cols,):
        raise CertificateError(
            f"expected assignment ({n},), counts ({n_cols},) and prices ({n_cols},), got {a.shape}, "
            f"{cnt.shape} and {p.shape}"
        )
    if n and (a.min() < -1 or a.max() >= n_cols):
        raise CertificateError("assignment holds a column index out of range")
    assigned = a >= 0
    if not np.array_equal(np.bincount(a[assigned], minlength=n_cols), cnt):
        raise CertificateError("counts do not match the assignment")
    _check_order(a, np.asarray(order), n_cols)
    if not np.isfinite(p).all():
        raise CertificateError("prices must be finite")
    s = sign * scores.astype(np.float64)  # maximize orientation
    rows = np.flatnonzero(assigned)
    picked = s[rows, a[rows]]
    if not np.isfinite(picked).all():
        raise CertificateError("the assignment uses a forbidden pair")
    tol = _tol(s, p)
    obj = math.fsum(picked.tolist())
    if not math.isclose(float(objective), sign * obj, rel_tol=1e-9, abs_tol=tol * max(1, n)):
        raise CertificateError(f"objective {objective} differs from the total of the assignment {sign * obj}")
    dropped = ~assigned
    if capacity is None:
        cap = cnt.astype(np.int64)
    else:
        cap = np.asarray(capacity, dtype=np.int64)
        if cap.shape != (n_cols,):
            raise CertificateError(f"capacity must have shape ({n_cols},), got {cap.shape}")
        if (cnt > cap).any():
            e = int(np.argmax(cnt - cap))
            raise CertificateError(f"column {e} receives {cnt[e]} rows, more than its capacity {cap[e]}")
        if int(assigned.sum()) != min(n, int(cap.sum())):
            raise CertificateError(f"{int(assigned.sum())} rows are assigned, expected min(n, sum(capacity))")
    total = int(cap.sum())
    may_drop = total < n or dropped.any()
    # Row duals: the best value of each row (dual feasible by construction), clipped at 0 if rows may drop.
    if n_cols:
        u = (s - p[None, :]).max(axis=1)
    else:
        u = np.full(n, -np.inf)
    if may_drop:
        u = np.maximum(u, 0.0)
    if not np.isfinite(u[assigned]).all():
        raise CertificateError("an assigned row has no allowed column")  # pragma: no cover - caught above
    # Dual feasibility holds by construction of u; the sign of the prices is what can make the bound
    # invalid. Complementary slackness is measured, not required: its slacks are the gap.
    free = cap - cnt
    if total > n and not may_drop and p.min() < -tol:
        raise CertificateError(
            f"a price is negative ({p.min():.3g}) although capacities are 'at most': the bound would not hold"
        )
    slack_rows = u[rows] - (picked - p[a[rows]])
    terms = np.concatenate([slack_rows, u[dropped], free * p])
    return abs(math.fsum(terms.tolist()))


def verify_balanced(scores: np.ndarray, result: Any, host: Callable[[Any], np.ndarray], capacity: Any = None) -> Any:
    """``linassign.verify`` for a ``BalancedResult``: the recomputed gap (an array for a batch)."""
    fields = [host(f) for f in (result.assignment, result.order, result.counts, result.prices, result.objective)]
    maximize = bool(result.maximize)
    cap = None if capacity is None else np.broadcast_to(np.asarray(capacity, dtype=np.int64), scores.shape[-1:])
    if scores.ndim == 3:
        return np.asarray(
            [verify_one(scores[b], *(f[b] for f in fields), maximize, cap) for b in range(scores.shape[0])]
        )
    if scores.ndim != 2:
        raise CertificateError(f"scores must be 2-D or 3-D, got shape {scores.shape}")
    return verify_one(scores, *fields, maximize, cap)
