"""Reference solutions the tests trust: brute force for tiny problems, scipy for everything else.

Nothing here imports linassign, so a bug in linassign cannot leak into its own reference.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy.optimize import linear_sum_assignment as scipy_lsa

BRUTE_FORCE_MAX_SIDE = 7


def is_integer_valued(cost: np.ndarray) -> bool:
    """True for bool and integer dtypes, whose objectives the tests compare exactly (as Python ints)."""
    return np.asarray(cost).dtype.kind in "biu"


def exact_objective(cost: np.ndarray, row_ind, col_ind):
    """Cost of an assignment: a Python int for integer dtypes (no rounding at all), else ``math.fsum`` of
    the float64 entries (one rounding)."""
    cost = np.asarray(cost)
    row_ind = np.asarray(row_ind, dtype=np.int64)
    col_ind = np.asarray(col_ind, dtype=np.int64)
    picked = cost[row_ind, col_ind]
    if is_integer_valued(cost):
        return sum(int(x) for x in picked.tolist())
    return math.fsum(picked.astype(np.float64).tolist())


def scipy_objective(cost, maximize: bool = False):
    """Optimal objective according to scipy (int for integer dtypes); raises what scipy raises."""
    cost = np.asarray(cost)
    r, c = scipy_lsa(cost, maximize=maximize)
    return exact_objective(cost, r, c)


def brute_force_lap(cost, maximize: bool = False):
    """Optimal objective over every injective map of the short side into the long side, or None if every
    complete matching uses a forbidden pair (+inf when minimizing, -inf when maximizing).

    Exact for integer dtypes (Python ints); fsum for floats. Only for sides <= BRUTE_FORCE_MAX_SIDE.
    """
    cost = np.asarray(cost)
    if cost.ndim != 2:
        raise ValueError(f"brute force needs a matrix, got shape {cost.shape}")
    n, m = cost.shape
    if max(n, m) > BRUTE_FORCE_MAX_SIDE + 1 or min(n, m) > BRUTE_FORCE_MAX_SIDE:
        raise ValueError(f"brute force is for tiny problems, got shape {cost.shape}")
    if min(n, m) == 0:
        return 0
    transposed = n > m
    c = cost.T if transposed else cost  # rows <= cols
    rows = np.arange(c.shape[0])
    perms = np.array(list(itertools.permutations(range(c.shape[1]), c.shape[0])), dtype=np.int64)
    forbidden = -np.inf if maximize else np.inf
    if c.dtype.kind == "f":
        vals = c.astype(np.float64)[rows, perms]  # (P, k)
        ok = ~np.any(vals == forbidden, axis=1)
        if not ok.any():
            return None
        vals = vals[ok]
        # Pick candidates with a float sum, then settle near-ties with exact fsum.
        approx = vals.sum(axis=1)
        target = approx.max() if maximize else approx.min()
        scale = max(1.0, float(np.abs(vals).max()))
        near = np.abs(approx - target) <= 1e-9 * scale * c.shape[0] + 1e-300
        sums = [math.fsum(row) for row in vals[near].tolist()]
        return max(sums) if maximize else min(sums)
    vals = c[rows, perms].astype(object)  # exact integer sums
    sums = [sum(row) for row in vals.tolist()]
    return max(sums) if maximize else min(sums)


def objective_tolerance(cost, k: int | None = None) -> float:
    """How far two exact float solvers may disagree on an objective: a few ulps of the largest finite
    entry per assigned pair (dual updates round at that scale), never below the smallest normal."""
    cost = np.asarray(cost, dtype=np.float64)
    finite = np.abs(cost[np.isfinite(cost)])
    scale = float(finite.max()) if finite.size else 0.0
    if k is None:
        k = min(cost.shape[-2:]) if cost.ndim >= 2 else 1
    return 64 * np.finfo(np.float64).eps * scale * max(k, 1) + np.finfo(np.float64).tiny


def assert_same_objective(actual, expected, cost, k: int | None = None) -> None:
    """Exact equality for integer-valued costs; a tight, scale-relative tolerance for floats."""
    if is_integer_valued(cost):
        assert actual == expected, f"objective {actual} != reference {expected}"
        return
    tol = objective_tolerance(cost, k)
    assert abs(float(actual) - float(expected)) <= tol, (
        f"objective {actual!r} != reference {expected!r} (diff {float(actual) - float(expected):.3g}, tol {tol:.3g})"
    )


def scipy_error(cost, maximize: bool = False):
    """The exception scipy raises on ``cost`` (or None if it solves it)."""
    try:
        scipy_lsa(cost, maximize=maximize)
    except Exception as exc:  # noqa: BLE001 - we want whatever scipy raises, to compare with ours
        return exc
    return None
