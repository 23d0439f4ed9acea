"""Result types returned by the solvers (NamedTuples: cheap, immutable, picklable)."""

from __future__ import annotations

from typing import Any, NamedTuple


class AssignmentResult(NamedTuple):
    """Solution of a (possibly rectangular, possibly batched) linear assignment problem.

    Attributes
    ----------
    row_ind, col_ind : int64 arrays of shape (k,) or (B, k)
        Assigned pairs, ``row_ind`` sorted; ``k = min(n_rows, n_cols)``.
    objective : float or array of shape (B,)
        ``cost[row_ind, col_ind].sum()``.
    u, v : float64 arrays of shape (n_rows,) and (n_cols,) (or batched)
        Dual potentials. Minimize: ``u[i] + v[j] <= cost[i, j]`` on allowed pairs; maximize:
        ``u[i] + v[j] >= cost[i, j]``. The potentials of the longer side are <= 0 (minimize) or >= 0
        (maximize), and 0 on its unassigned entries.
    gap : float or array of shape (B,)
        ``|(sum(u) + sum(v)) - objective|``: how far ``objective`` can be from the optimum; 0 up to
        rounding for an exact answer.
    converged : bool or bool array of shape (B,)
    n_iter : int or int array of shape (B,)
        Shortest augmenting paths (Hungarian) or bidding rounds (auction) performed.
    maximize : bool
        The sense the problem was solved in (tells ``verify`` which dual inequality applies).
    """

    row_ind: Any
    col_ind: Any
    objective: Any
    u: Any
    v: Any
    gap: Any
    converged: Any
    n_iter: Any
    maximize: bool = False
