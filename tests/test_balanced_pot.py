"""Balanced assignment on larger problems against POT's exact network simplex (``ot.emd``).

The transport problem has row masses 1 and column masses ``capacity``; "at most" capacities get one dummy
row of zero cost holding the free slots, dropped rows one dummy column of zero cost.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import linassign
from linassign._certificate_balanced import verify_balanced

ot = pytest.importorskip("ot")

METHODS = ("auction", "hungarian", "sinkhorn")


def family(kind: str, n: int, n_cols: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "normal":
        return rng.standard_normal((n, n_cols))
    if kind == "integer":
        return rng.integers(0, 20, (n, n_cols)).astype(np.float64)
    x = rng.standard_normal((n, 16))
    c = rng.standard_normal((n_cols, 16))
    s = x @ c.T / 4.0
    if kind == "skewed":
        s += np.linspace(0.0, 3.0, n_cols)[rng.permutation(n_cols)]
    return s


def emd_optimum(scores: np.ndarray, cap: np.ndarray) -> float:
    """Maximum total score by POT's network simplex on the transport problem."""
    n, n_cols = scores.shape
    cost = -scores.astype(np.float64)
    a = np.ones(n)
    b = cap.astype(np.float64)
    total = int(cap.sum())
    if total > n:  # free slots: one dummy row
        cost = np.vstack([cost, np.zeros((1, n_cols))])
        a = np.append(a, total - n)
    elif total < n:  # dropped rows: one dummy column
        cost = np.hstack([cost, np.zeros((n, 1))])
        b = np.append(b, n - total)
    plan = ot.emd(a, b, cost, numItermax=10**7)
    return -math.fsum((plan * cost).ravel().tolist())


@pytest.mark.parametrize("kind", ["normal", "base", "skewed", "integer"])
@pytest.mark.parametrize(
    "n, n_cols, capacity",
    [(512, 16, None), (1024, 8, None), (600, 8, "ceil"), (700, 10, "drop"), (480, 12, "uneven")],
    ids=["exact", "exact-subsampled", "at-most", "drop", "uneven"],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_method_matches_pot(kind, n, n_cols, capacity, dtype):
    s = family(kind, n, n_cols, seed=n + n_cols).astype(dtype)
    if capacity is None:
        cap = np.full(n_cols, n // n_cols)
    elif capacity == "ceil":
        cap = np.full(n_cols, -(-n // n_cols))
        capacity = int(cap[0])
    elif capacity == "drop":
        cap = np.full(n_cols, int(0.8 * n) // n_cols)
        capacity = cap
    else:
        cap = np.random.default_rng(1).integers(20, 60, n_cols)
        capacity = cap
    want = emd_optimum(s, cap)
    for method in METHODS:
        res = linassign.balanced_assignment(s, capacity, method=method)
        tol = 1e-9 * max(1.0, abs(want))
        assert math.isclose(res.objective, want, rel_tol=1e-9, abs_tol=tol), method
        assert res.gap <= tol
        assert verify_balanced(s, res, np.asarray, capacity=cap) <= tol
        counts = np.asarray(res.counts)
        assert (counts <= cap).all() and counts.sum() == min(n, int(cap.sum()))
