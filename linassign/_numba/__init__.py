"""CPU side: numba kernels behind host wrappers.

Host wrappers take validated arrays (float32/float64, NaN and wrong-sign infinities already rejected),
allocate outputs, call a kernel, and turn its status code into an exception. They return numpy arrays.
"""

from __future__ import annotations

import numpy as np

from .._certificate import duality_gap
from .._config import CONFIG
from ._common import STATUS_INFEASIBLE, STATUS_OK, max_abs_finite
from ._hungarian import lapjv, lapjv_batch

__all__ = ["solve_lap", "solve_lap_batch"]

_INFEASIBLE_MSG = "cost matrix is infeasible"


# Reduced costs and dual updates add and subtract up to a few times the largest cost (times the path length):
# entries this close to the float64 maximum would overflow to inf and read as forbidden pairs.
_SAFE_MAGNITUDE = 1e300


def _oriented(cost):
    """(c, transposed, scale): c has rows <= cols, is C-contiguous, and is ``cost * scale`` with scale a power of
    two (exact) that is 1.0 unless the entries are so large that reduced costs could overflow."""
    n, m = cost.shape[-2:]
    c = np.ascontiguousarray(np.swapaxes(cost, -1, -2)) if n > m else np.ascontiguousarray(cost)
    scale = 1.0
    if c.size:
        hi = max_abs_finite(c.reshape(-1))
        excess = np.log2(hi) + np.log2(4.0 * (n + m + 1)) - np.log2(_SAFE_MAGNITUDE) if hi > 0 else -1.0
        if excess > 0:
            scale = 2.0 ** -int(np.ceil(excess))
            c = c * scale  # a rare copy; tiny entries may lose precision, as they would in any float solver
    return c, n > m, scale


def solve_lap(cost: np.ndarray, maximize: bool) -> dict:
    """Exact LAP on one (n, m) matrix. Returns row_ind, col_ind, u, v (minimize orientation of
    ``sign * cost``, in the caller's row/column order) and n_iter."""
    n, m = cost.shape
    c, transposed, scale = _oriented(cost)
    k = min(n, m)
    x = np.empty(c.shape[0], np.int64)
    y = np.empty(c.shape[1], np.int64)
    v = np.empty(c.shape[1], np.float64)
    sign = -1.0 if maximize else 1.0
    if k > 0:
        status, n_aug = lapjv(c, sign, CONFIG["hungarian_arr_steps_per_row"], x, y, v)
        if status == STATUS_INFEASIBLE:
            raise ValueError(_INFEASIBLE_MSG)
        assert status == STATUS_OK
    else:
        x[:], y[:], v[:], n_aug = -1, -1, 0.0, 0
    rows = np.arange(c.shape[0], dtype=np.int64)
    u = sign * c[rows, x].astype(np.float64) - v[x] if k > 0 else np.zeros(c.shape[0])
    return to_caller(c, x, u, v, sign, scale, transposed, n_aug)


def solve_lap_batch(cost: np.ndarray, maximize: bool) -> dict:
    """Exact LAP on B matrices of shape (n, m) at once, in parallel over the batch."""
    bsz, n, m = cost.shape
    c, transposed, scale = _oriented(cost)
    nr, nc = c.shape[1:]
    k = min(n, m)
    x = np.empty((bsz, nr), np.int64)
    y = np.empty((bsz, nc), np.int64)
    v = np.zeros((bsz, nc), np.float64)
    status = np.zeros(bsz, np.int64)
    n_aug = np.zeros(bsz, np.int64)
    sign = -1.0 if maximize else 1.0
    if k > 0 and bsz > 0:
        lapjv_batch(c, sign, CONFIG["hungarian_arr_steps_per_row"], x, y, v, status, n_aug)
        bad = np.flatnonzero(status == STATUS_INFEASIBLE)
        if bad.size:
            raise ValueError(f"{_INFEASIBLE_MSG} (batch items {bad[:10].tolist()})")
        assert (status == STATUS_OK).all()
        u = sign * np.take_along_axis(c, x[:, :, None], axis=2)[:, :, 0].astype(np.float64)
        u -= np.take_along_axis(v, x, axis=1)
    else:
        x[:] = -1
        u = np.zeros((bsz, nr))
    return to_caller(c, x, u, v, sign, scale, transposed, n_aug)


def to_caller(c, x, u, v, sign, scale, transposed, n_iter) -> dict:
    """Kernel outputs -> the caller's rows, columns and units, for one problem (x of shape (n,)) or a batch (B, n).

    Kernels see ``sign * c`` with rows <= cols, scaled by ``scale`` (see ``_oriented``); ``u``, ``v`` are their
    duals in that orientation. Shared by every LAP host wrapper (Hungarian and auction).
    """
    if x.ndim == 1:
        out = to_caller(c[None], x[None], u[None], v[None], sign, scale, transposed, None)
        out = {key: val[0] for key, val in out.items() if key != "n_iter"}
        if "gap" in out:
            out["gap"] = float(out["gap"])
        out["n_iter"] = int(n_iter)
        return out
    bsz, nr = x.shape
    out = {}
    rows = np.broadcast_to(np.arange(nr, dtype=np.int64), (bsz, nr))
    if scale != 1.0:
        if nr > 0 and bsz > 0:
            picked = sign * np.take_along_axis(c, x[:, :, None], axis=2)[:, :, 0]
            out["gap"] = duality_gap(picked, u, v, rows, x) / scale
        else:
            out["gap"] = np.zeros(bsz)
        with np.errstate(over="ignore"):  # duals within ~4(n+m) of the float64 maximum are not representable
            u, v = u / scale, v / scale
    if transposed:
        # The kernel's rows are the caller's columns.
        order = np.argsort(x, axis=1, kind="stable")
        row_ind = np.take_along_axis(x, order, axis=1)
        col_ind = np.take_along_axis(rows, order, axis=1)
        u, v = v, u
    else:
        row_ind, col_ind = rows.copy(), x
    return {"row_ind": row_ind, "col_ind": col_ind, "u": u, "v": v, "n_iter": n_iter, **out}
