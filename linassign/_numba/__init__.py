"""CPU side: numba kernels behind host wrappers.

Host wrappers take validated arrays (float32/float64; NaN and wrong-sign infinities already rejected, except
for the Hungarian wrappers, whose kernels find them in their first pass), allocate outputs, call a kernel, and
turn its status code into an exception. They return numpy arrays.
"""

from __future__ import annotations

import numba
import numpy as np

from .._certificate import duality_gap
from .._config import CONFIG
from .._validation import INVALID_ENTRIES_MSG
from ._common import STATUS_INFEASIBLE, STATUS_INVALID, STATUS_OK, STATUS_RESCALE, lap_totals, max_abs_finite
from ._hungarian import lapjv, lapjv_batch

__all__ = ["solve_lap", "solve_lap_batch"]

_INFEASIBLE_MSG = "cost matrix is infeasible"


# Reduced costs and dual updates add and subtract up to a few times the largest cost (times the path length):
# entries this close to the float64 maximum would overflow to inf and read as forbidden pairs.
_SAFE_MAGNITUDE = 1e300


def _magnitude_limit(n: int, m: int) -> float:
    """Largest finite |entry| of an (n, m) problem that needs no rescaling: the kernels' ``limit``."""
    return _SAFE_MAGNITUDE / (4.0 * (n + m + 1))


def _rescale_factor(hi: float, n: int, m: int) -> float:
    """A power of two (so that scaling is exact up to underflow) that brings ``hi`` under the limit."""
    if not hi > _magnitude_limit(n, m):
        return 1.0
    excess = np.log2(hi) + np.log2(4.0 * (n + m + 1)) - np.log2(_SAFE_MAGNITUDE)
    return 2.0 ** -int(max(np.ceil(excess), 1.0))


def _arr_steps(n_cols: int) -> int:
    """The ``arr_steps_per_row`` of ``lapjv`` for problems with n_cols columns (see _config)."""
    small = n_cols <= CONFIG["hungarian_small_cols"]
    return CONFIG["hungarian_arr_steps_per_row_small" if small else "hungarian_arr_steps_per_row"]


def _oriented_view(cost):
    """(c, transposed): c has rows <= cols and is C-contiguous (a copy only when it has to be)."""
    n, m = cost.shape[-2:]
    c = np.ascontiguousarray(np.swapaxes(cost, -1, -2)) if n > m else np.ascontiguousarray(cost)
    return c, n > m


def _oriented(cost):
    """(c, transposed, scale): c has rows <= cols, is C-contiguous, and is ``cost * scale`` with scale a power of
    two (exact) that is 1.0 unless the entries are so large that reduced costs could overflow. For kernels that
    do not check magnitudes themselves (the Hungarian kernels do, in their first pass)."""
    c, transposed = _oriented_view(cost)
    scale = 1.0
    if c.size:
        scale = _rescale_factor(max_abs_finite(c.reshape(-1)), *c.shape[-2:])
        if scale != 1.0:
            c = c * scale  # a rare copy; tiny entries may lose precision, as they would in any float solver
    return c, transposed, scale


def solve_lap(cost: np.ndarray, maximize: bool) -> dict:
    """Exact LAP on one (n, m) matrix. Returns row_ind, col_ind, u, v (minimize orientation of
    ``sign * cost``, in the caller's row/column order) and n_iter."""
    c, transposed = _oriented_view(cost)
    nr, nc = c.shape
    x = np.empty(nr, np.int64)
    y = np.empty(nc, np.int64)
    u = np.zeros(nr, np.float64)
    v = np.zeros(nc, np.float64)
    sign = -1.0 if maximize else 1.0
    scale = 1.0
    n_aug = 0
    x[:] = -1
    if nr > 0:
        steps = _arr_steps(nc)
        status, n_aug = lapjv(c, sign, steps, _magnitude_limit(nr, nc), x, y, u, v)
        if status == STATUS_INVALID:
            raise ValueError(INVALID_ENTRIES_MSG)
        if status == STATUS_RESCALE:
            scale = _rescale_factor(max_abs_finite(c.reshape(-1)), nr, nc)
            c = c * scale  # a rare copy; tiny entries may lose precision, as they would in any float solver
            status, n_aug = lapjv(c, sign, steps, np.inf, x, y, u, v)
        if status == STATUS_INFEASIBLE:
            raise ValueError(_INFEASIBLE_MSG)
        assert status == STATUS_OK
    return to_caller(c, x, u, v, sign, scale, transposed, n_aug)


def solve_lap_batch(cost: np.ndarray, maximize: bool) -> dict:
    """Exact LAP on B matrices of shape (n, m) at once, in parallel over the batch.

    Problems whose entries are too large for overflow-free reduced costs are rescaled, each by its own power
    of two, and solved again (the kernel reports them after its first pass, so the others pay nothing).
    """
    bsz = cost.shape[0]
    c, transposed = _oriented_view(cost)
    nr, nc = c.shape[1:]
    x = np.full((bsz, nr), -1, np.int64)
    u = np.zeros((bsz, nr), np.float64)
    v = np.zeros((bsz, nc), np.float64)
    status = np.zeros(bsz, np.int64)
    n_aug = np.zeros(bsz, np.int64)
    sign = -1.0 if maximize else 1.0
    scale = 1.0
    if nr > 0 and bsz > 0:
        steps = _arr_steps(nc)
        chunks = 4 * numba.get_num_threads()
        lapjv_batch(c, sign, steps, _magnitude_limit(nr, nc), x, u, v, status, n_aug, chunks)
        if (status == STATUS_INVALID).any():
            raise ValueError(INVALID_ENTRIES_MSG)
        redo = np.flatnonzero(status == STATUS_RESCALE)
        if redo.size:
            scale = np.ones(bsz)
            scale[redo] = [_rescale_factor(max_abs_finite(c[b].reshape(-1)), nr, nc) for b in redo]
            c = c * scale[:, None, None]  # a rare copy, kept for the gap computed in the scaled units
            sub = [a[redo] for a in (x, u, v, status, n_aug)]
            lapjv_batch(c[redo], sign, steps, np.inf, *sub, chunks)
            for a, part in zip((x, u, v, status, n_aug), sub, strict=True):
                a[redo] = part
        bad = np.flatnonzero(status == STATUS_INFEASIBLE)
        if bad.size:
            raise ValueError(f"{_INFEASIBLE_MSG} (batch items {bad[:10].tolist()})")
        assert (status == STATUS_OK).all()
    out = to_caller(c, x, u, v, sign, scale, transposed, n_aug)
    if "gap" not in out:  # (a rescaled batch reports the gap in its own, representable, units)
        out["objective"] = np.empty(bsz)
        out["gap"] = np.empty(bsz)
        lap_totals(cost, sign, out["row_ind"], out["col_ind"], out["u"], out["v"], out["objective"], out["gap"])
    return out


def to_caller(c, x, u, v, sign, scale, transposed, n_iter) -> dict:
    """Kernel outputs -> the caller's rows, columns and units, for one problem (x of shape (n,)) or a batch (B, n).

    Kernels see ``sign * c`` with rows <= cols, scaled by ``scale`` (see ``_oriented``): a float, or one per
    problem (B,) for a batch; ``u``, ``v`` are their duals in that orientation. Shared by every LAP host wrapper
    (Hungarian and auction).
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
    if np.any(scale != 1.0):
        scale = np.broadcast_to(np.asarray(scale, np.float64), (bsz,))
        if nr > 0 and bsz > 0:
            picked = sign * np.take_along_axis(c, x[:, :, None], axis=2)[:, :, 0]
            out["gap"] = duality_gap(picked, u, v, rows, x) / scale
        else:
            out["gap"] = np.zeros(bsz)
        with np.errstate(over="ignore"):  # duals within ~4(n+m) of the float64 maximum are not representable
            u, v = u / scale[:, None], v / scale[:, None]
    if transposed:
        # The kernel's rows are the caller's columns.
        order = np.argsort(x, axis=1, kind="stable")
        row_ind = np.take_along_axis(x, order, axis=1)
        col_ind = np.take_along_axis(rows, order, axis=1)
        u, v = v, u
    else:
        row_ind, col_ind = rows.copy(), x
    return {"row_ind": row_ind, "col_ind": col_ind, "u": u, "v": v, "n_iter": n_iter, **out}
