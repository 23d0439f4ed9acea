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


# ----------------------------------------------------------------------------------------------------------
# Sinkhorn (issue 4)
# ----------------------------------------------------------------------------------------------------------


class SinkhornResult(NamedTuple):
    """Entropic optimal transport plan between marginals ``a`` and ``b``, in dual (potential) form.

    Attributes
    ----------
    f, g : float64 arrays of shape (n,) and (m,) (or (B, n), (B, m))
        Dual potentials. Minimize: ``plan[i, j] = exp((f[i] + g[j] - cost[i, j]) / reg)`` (POT's
        ``sinkhorn_log`` with ``f = reg * log_u``, ``g = reg * log_v``; ott-jax's convention); maximize:
        ``plan[i, j] = exp((cost[i, j] - f[i] - g[j]) / reg)``. Zero-mass rows or columns have potential
        ``-inf`` (minimize) or ``+inf`` (maximize).
    plan : array of shape (n, m) (or (B, n, m)), or None
        The transport plan, in the cost's dtype, only with ``return_plan=True``.
    cost : float or array of shape (B,)
        Transport cost ``sum(plan * cost)`` of the plan (forbidden pairs carry no mass and add 0).
    marginal_error : float or array of shape (B,)
        ``||plan.sum(1) - a||_1 + ||plan.sum(0) - b||_1`` of the returned plan.
    converged : bool or bool array of shape (B,)
        ``marginal_error <= tol``.
    n_iter : int or int array of shape (B,)
        Iterations (a column update then a row update each, as POT counts them).
    """

    f: Any
    g: Any
    plan: Any
    cost: Any
    marginal_error: Any
    converged: Any
    n_iter: Any


# ----------------------------------------------------------------------------------------------------------
# Balanced (capacitated) assignment (issue 3)
# ----------------------------------------------------------------------------------------------------------


class BalancedResult(NamedTuple):
    """Solution of a balanced (capacitated) assignment problem, possibly batched.

    Attributes
    ----------
    assignment : int64 array of shape (n,) or (B, n)
        Column of each row; -1 for a row left unassigned (only when the capacities sum to less than n).
    order : int64 array of shape (n,) or (B, n)
        Row indices grouped by column in ascending column order, stable within a column, ready for
        dispatch; unassigned rows come last.
    counts : int64 array of shape (E,) or (B, E)
        Rows assigned to each column.
    prices : float64 array of shape (E,) or (B, E)
        Column duals in the caller's sense, the warm start of the next call. Maximize: every row's value
        ``scores[i, e] - prices[e]`` is largest in its own column; minimize: ``cost[i, e] - prices[e]`` is
        smallest there. With "at most" capacities and every row assigned they are >= 0 (maximize) or
        <= 0 (minimize), and 0 on columns with free slots.
    objective : float or array of shape (B,)
        Total score (or cost) of the assigned pairs.
    bound : float or array of shape (B,)
        The dual objective ``sum_i max_e (s[i, e] - prices[e]) + sum_e capacity[e] * prices[e]`` (with the
        row term clipped at 0 when rows may be dropped; min instead of max when minimizing): no assignment
        can do better.
    gap : float or array of shape (B,)
        ``abs(bound - objective)``, summed from non-negative slacks so that it is accurate even for large
        objectives; 0 up to rounding for an exact answer.
    converged : bool or bool array of shape (B,)
    n_iter : int or int array of shape (B,)
        Work done: shortest-path phases, plus auction column steps or Sinkhorn iterations.
    maximize : bool
        The sense the problem was solved in.
    """

    assignment: Any
    order: Any
    counts: Any
    prices: Any
    objective: Any
    bound: Any
    gap: Any
    converged: Any
    n_iter: Any
    maximize: bool = True
