"""Certificates: duality gaps computed from the input, independent of how a solver got its answer."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._config import CONFIG
from ._errors import CertificateError


def exact_gap(primal_terms: np.ndarray, dual_terms: np.ndarray) -> float:
    """``|sum(primal_terms) - sum(dual_terms)|`` with one rounding (math.fsum), so that the gap of an exact
    answer is not drowned by cancellation when the values are large."""
    return abs(math.fsum(np.concatenate([np.ravel(primal_terms), -np.ravel(dual_terms)]).tolist()))


def duality_gap(picked: np.ndarray, u: np.ndarray, v: np.ndarray, row_ind: np.ndarray, col_ind: np.ndarray):
    """``|sum(picked) - sum(u) - sum(v)|`` in the minimize orientation, for one problem or a batch.

    Summed as per-pair residuals ``picked[t] - u[row_ind[t]] - v[col_ind[t]]`` (near zero for an exact answer) minus
    the duals of unassigned rows and columns, so that large costs do not drown the gap in cancellation.
    """
    if picked.ndim == 1:
        return float(duality_gap(picked[None], u[None], v[None], row_ind[None], col_ind[None])[0])
    resid = picked - np.take_along_axis(u, row_ind, axis=1) - np.take_along_axis(v, col_ind, axis=1)
    free_u = np.ones(u.shape, bool)
    free_v = np.ones(v.shape, bool)
    np.put_along_axis(free_u, row_ind, False, axis=1)
    np.put_along_axis(free_v, col_ind, False, axis=1)
    unassigned = np.where(free_u, u, 0.0).sum(axis=1) + np.where(free_v, v, 0.0).sum(axis=1)
    return np.abs(resid.sum(axis=1) - unassigned)


def _tol(*arrays: np.ndarray) -> float:
    """Rounding tolerance relative to the largest finite magnitude involved (no absolute floor: scale-invariant)."""
    scale = 0.0
    for a in arrays:
        finite = a[np.isfinite(a)]
        if finite.size:
            scale = max(scale, float(np.abs(finite).max()))
    return CONFIG["verify_rtol"] * scale


def verify_assignment(cost: np.ndarray, row_ind, col_ind, objective, u, v, maximize: bool) -> float:
    """Check one (n, m) assignment and its duals; return the recomputed gap. Raises CertificateError."""
    n, m = cost.shape
    sign = -1.0 if maximize else 1.0
    k = min(n, m)
    row_ind = np.asarray(row_ind)
    col_ind = np.asarray(col_ind)
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    if row_ind.shape != (k,) or col_ind.shape != (k,):
        raise CertificateError(f"expected {k} assigned pairs, got row_ind {row_ind.shape}, col_ind {col_ind.shape}")
    if u.shape != (n,) or v.shape != (m,):
        raise CertificateError(f"expected duals of shapes ({n},) and ({m},), got {u.shape} and {v.shape}")
    if not (np.issubdtype(row_ind.dtype, np.integer) and np.issubdtype(col_ind.dtype, np.integer)):
        raise CertificateError(f"row_ind and col_ind must be integer arrays, got {row_ind.dtype} and {col_ind.dtype}")
    if not (np.isfinite(u).all() and np.isfinite(v).all()):
        raise CertificateError("the dual potentials u and v must be finite")

    if k == 0:
        return 0.0
    if row_ind.min() < 0 or row_ind.max() >= n or col_ind.min() < 0 or col_ind.max() >= m:
        raise CertificateError("row_ind or col_ind out of range")
    if np.unique(row_ind).size != k or np.unique(col_ind).size != k:
        raise CertificateError("a row or a column is assigned twice")
    c = sign * cost.astype(np.float64)  # minimize orientation
    su, sv = sign * u, sign * v
    picked = c[row_ind, col_ind]
    if not np.isfinite(picked).all():
        raise CertificateError("the assignment uses a forbidden pair")
    tol = _tol(c, su, sv)
    if not math.isclose(float(objective), sign * math.fsum(picked.tolist()), rel_tol=1e-9, abs_tol=tol):
        raise CertificateError(f"objective {objective} differs from the cost of the assignment")
    allowed = np.isfinite(c)
    slack = np.where(allowed, c - su[:, None] - sv[None, :], 0.0)
    if slack.min() < -tol:
        i, j = np.unravel_index(np.argmin(slack), slack.shape)
        raise CertificateError(f"dual infeasible at ({i}, {j}): u + v exceeds the cost by {-slack[i, j]:.3g}")
    # The longer side may stay unassigned: its duals must be <= 0 (minimize orientation).
    longer = sv if m > n else su if n > m else None
    if longer is not None and longer.max() > tol:
        raise CertificateError("a dual of the longer side is positive: the bound would not be valid")
    # Weak duality: with those signs, sum(u) + sum(v) is a lower bound on every assignment's cost.
    return duality_gap(picked, su, sv, row_ind, col_ind)


def verify(cost_or_scores: Any, result: Any) -> Any:
    """Recompute ``result``'s certificate from the input; see ``linassign.verify``."""
    from ._dispatch import to_backend

    def host(a):
        arr, _ = to_backend(a, "cpu")
        return np.asarray(arr)

    if hasattr(result, "assignment"):
        from ._certificate_balanced import verify_balanced  # lands with balanced assignment

        return verify_balanced(host(cost_or_scores), result, host)
    cost = host(cost_or_scores)
    fields = [host(f) for f in (result.row_ind, result.col_ind, result.objective, result.u, result.v)]
    if cost.ndim == 3:
        gaps = [verify_assignment(cost[b], *(f[b] for f in fields), result.maximize) for b in range(cost.shape[0])]
        return np.asarray(gaps)
    return verify_assignment(cost, *fields, result.maximize)
