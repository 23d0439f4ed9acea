"""Public solvers: signature, docstring, validate -> dispatch -> wrap. No math here."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._certificate import duality_gap
from ._dispatch import Origin, select, side_of, wrap, wrap_scalar
from ._result import AssignmentResult
from ._validation import as_cost_matrix

# ----------------------------------------------------------------------------------------------------------
# Square and rectangular assignment
# ----------------------------------------------------------------------------------------------------------


def _host(a: Any) -> np.ndarray:
    return a if type(a) is np.ndarray else a.get() if hasattr(a, "get") else np.asarray(a)


def _assignment_result(
    cost: Any, out: dict, maximize: bool, origin: Origin, converged: bool = True
) -> AssignmentResult:
    """Objective and gap recomputed from the input, fields in the caller's library and sense.

    Kernels return duals in the minimize orientation of ``sign * cost``; they are reported in the caller's sense.
    Works for one problem (n, m) and batches (B, n, m) alike.
    """
    c = _host(cost)
    r, k, u, v = (_host(out[f]) for f in ("row_ind", "col_ind", "u", "v"))
    sign = -1.0 if maximize else 1.0
    if c.ndim == 2:
        picked = c[r, k].astype(np.float64)
    else:
        picked = c[np.arange(c.shape[0])[:, None], r, k].astype(np.float64)
    with np.errstate(over="ignore"):  # a sum past the float64 maximum is inf, as in scipy
        objective = picked.sum(axis=-1)
    # A kernel that rescaled huge costs reports the gap it computed in its own (representable) units.
    gap = out["gap"] if "gap" in out else duality_gap(sign * picked, u, v, r, k)
    batched = c.ndim == 3
    return AssignmentResult(
        row_ind=wrap(r, origin),
        col_ind=wrap(k, origin),
        objective=wrap_scalar(objective, origin),
        u=wrap(sign * u, origin),
        v=wrap(sign * v, origin),
        gap=wrap_scalar(gap, origin),
        converged=wrap_scalar(np.full(c.shape[0], bool(converged)) if batched else bool(converged), origin),
        n_iter=wrap_scalar(np.asarray(out["n_iter"], dtype=np.int64) if batched else int(out["n_iter"]), origin),
        maximize=maximize,
    )


def hungarian(cost: Any, *, maximize: bool = False, backend: str = "auto") -> AssignmentResult:
    """Solve a linear assignment problem exactly, with dual potentials that certify optimality.

    Parameters
    ----------
    cost : array of shape (n, m) or (B, n, m)
        numpy array or array-like, cupy array, or any ``__dlpack__`` object (torch, jax). ``+inf``
        (minimize) or ``-inf`` (maximize) marks a forbidden pair. Never modified.
    maximize : bool, default False
        Maximize the total instead of minimizing it.
    backend : {"auto", "cpu", "gpu"}
        ``"auto"`` solves where the data lives; the others force a side (copying if needed).

    Returns
    -------
    AssignmentResult
        ``row_ind`` (sorted), ``col_ind``, ``objective``, duals ``u`` and ``v``, ``gap``, ``converged``,
        ``n_iter``; batched fields for batched input; arrays in the caller's library and device.

    Raises
    ------
    ValueError
        ``"matrix contains invalid numeric entries"`` (NaN or an infinity of the wrong sign),
        ``"cost matrix is infeasible"`` (no complete matching avoids the forbidden pairs), or a bad shape.
    TypeError
        Complex, object or string input.
    BackendUnavailableError
        ``backend="gpu"`` without cupy or a CUDA device.

    See Also
    --------
    linear_sum_assignment : the scipy-compatible interface.
    verify : recompute the certificate.

    Notes
    -----
    Jonker-Volgenant shortest augmenting paths (column reduction, reduction transfer, augmenting row
    reduction, then Dijkstra per free row), O(n^2 m) worst case; 3-D input runs the same kernel in parallel
    over the batch.

    References
    ----------
    .. [1] R. Jonker and A. Volgenant, "A shortest augmenting path algorithm for dense and sparse linear
           assignment problems", Computing 38 (1987).
    .. [2] D. F. Crouse, "On implementing 2D rectangular assignment algorithms", IEEE TAES 52 (2016).

    Examples
    --------
    >>> import numpy as np, linassign
    >>> res = linassign.hungarian(np.array([[4, 1, 3], [2, 0, 5], [3, 2, 2]]))
    >>> res.col_ind.tolist(), res.objective, res.gap
    ([1, 0, 2], 5.0, 0.0)
    """
    arr, origin, batched = as_cost_matrix(cost, maximize=maximize, backend=backend)
    solve = select("hungarian_batch" if batched else "hungarian", side_of(arr))
    out = solve(arr, maximize)
    return _assignment_result(arr, out, maximize, origin)


def linear_sum_assignment(cost: Any, maximize: bool = False) -> tuple[Any, Any]:
    """Drop-in for :func:`scipy.optimize.linear_sum_assignment`: same results and errors on 2-D input.

    Parameters
    ----------
    cost : array of shape (n, m) or (B, n, m)
        The cost matrix (or a batch of them). Any array linassign accepts.
    maximize : bool, default False

    Returns
    -------
    row_ind, col_ind : int64 arrays of shape (k,) or (B, k)
        ``row_ind`` sorted; ``cost[row_ind, col_ind].sum()`` is optimal.

    Examples
    --------
    >>> import linassign
    >>> linassign.linear_sum_assignment([[4, 1, 3], [2, 0, 5], [3, 2, 2]])
    (array([0, 1, 2]), array([1, 0, 2]))
    """
    res = hungarian(cost, maximize=maximize)
    return res.row_ind, res.col_ind
