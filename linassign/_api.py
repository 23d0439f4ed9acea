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
    if "objective" in out:
        # A host wrapper that recomputed both from the input in one compiled pass (big batches).
        objective, gap = out["objective"], out["gap"]
    else:
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
    arr, origin, batched = as_cost_matrix(cost, maximize=maximize, backend=backend, cpu_kernel_checks_entries=True)
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


# ----------------------------------------------------------------------------------------------------------
# Sinkhorn (entropic optimal transport) and auction (issue 4)
# ----------------------------------------------------------------------------------------------------------

import warnings  # noqa: E402 - this section's imports stay in it, so that merges stay easy

from ._config import CONFIG  # noqa: E402
from ._errors import ConvergenceWarning  # noqa: E402
from ._result import SinkhornResult  # noqa: E402
from ._validation import (  # noqa: E402
    as_marginal,
    balance_marginals,
    check_bool,
    check_eps,
    check_init,
    check_max_iter,
    check_positive,
    check_tol,
)


def sinkhorn(
    cost: Any,
    a: Any = None,
    b: Any = None,
    *,
    reg: float,
    maximize: bool = False,
    tol: float = 1e-6,
    max_iter: int = 1000,
    init: tuple[Any, Any] | None = None,
    return_plan: bool = False,
    anneal: bool = False,
    backend: str = "auto",
) -> SinkhornResult:
    """Entropic optimal transport between marginals ``a`` and ``b`` by log-domain Sinkhorn iterations.

    Solves ``min <P, cost> - reg * H(P)`` (``max <P, cost> + reg * H(P)`` with ``maximize=True``) over
    ``P >= 0`` with ``P.sum(1) == a`` and ``P.sum(0) == b``, where ``H(P) = -sum P (log P - 1)``.

    Parameters
    ----------
    cost : array of shape (n, m) or (B, n, m)
        numpy array or array-like, or any ``__dlpack__`` object (torch, jax) on the CPU. float32 input is read
        as float32 (half the memory traffic), with float64 arithmetic. ``+inf`` (minimize) or ``-inf``
        (maximize) forbids a pair: it carries no mass. Never modified.
    a, b : arrays of shape (n,) and (m,), optional
        Row and column marginals (for a batch also (B, n) and (B, m)): non-negative, finite, with equal
        sums up to a relative ``1e-6`` (``b`` is then rescaled to ``a``'s mass). Default: uniform
        ``1/n`` and ``1/m``.
    reg : float
        Entropic regularization, ``> 0``, in the units of ``cost``. Any positive value is numerically stable
        (log domain); small values need more iterations (see ``anneal``).
    maximize : bool, default False
        Maximize the entropic objective instead.
    tol : float, default 1e-6
        Stop when the marginal error ``||P 1 - a||_1 + ||P^T 1 - b||_1`` is at most ``tol`` (checked every
        iteration at no extra cost). POT's ``stopThr`` bounds the 2-norm of the column error, which is
        never larger, so the same value stops here no earlier.
    max_iter : int, default 1000
        Cap on iterations. Reaching it returns ``converged=False`` and warns; it never raises.
    init : (f, g), optional
        Dual potentials to start from (e.g. an earlier result's ``f`` and ``g``), in the convention below.
        Each iteration starts with a column update, so the iterates depend on ``f`` (as with POT's
        ``warmstart``); ``g`` serves to measure the starting point, so a converged ``init`` returns at once.
    return_plan : bool, default False
        Also return the plan ``P`` (n by m, in the cost's dtype).
    anneal : bool, default False
        Start at ``reg`` equal to the cost spread (max - min of the allowed entries) and halve it every 10
        iterations down to ``reg`` (epsilon scaling; ``CONFIG["sinkhorn_anneal_*"]``), then iterate at
        ``reg`` to ``tol``. Same answer, far fewer iterations when ``reg`` is small. Ignored with ``init``.
    backend : {"auto", "cpu", "gpu"}
        ``"auto"`` solves where the data lives. There is no GPU kernel yet: CUDA input needs
        ``backend="cpu"`` (the result comes back on the input's device).

    Returns
    -------
    SinkhornResult
        ``f``, ``g``, ``plan`` (or None), ``cost`` (``sum(plan * cost)``), ``marginal_error``, ``converged``,
        ``n_iter``; batched fields for batched input, arrays in the caller's library.

    Raises
    ------
    ValueError
        Bad marginals (shape, sign, NaN/inf, unequal mass), ``reg``, ``tol``, ``max_iter`` or ``init``;
        ``"matrix contains invalid numeric entries"``; ``"cost matrix is infeasible"`` when a row or column
        of positive mass has no allowed partner of positive mass.
    TypeError
        Complex, object or string input.

    Warns
    -----
    ConvergenceWarning
        When ``max_iter`` is reached with ``marginal_error > tol``.

    See Also
    --------
    hungarian : the exact (``reg -> 0``) assignment.

    Notes
    -----
    Dual convention, the one of POT's ``sinkhorn_log`` (``f = reg * log_u``, ``g = reg * log_v``) and of
    ott-jax: ``P[i, j] = exp((f[i] + g[j] - cost[i, j]) / reg)``; with ``maximize=True``,
    ``P[i, j] = exp((cost[i, j] - f[i] - g[j]) / reg)``. Iteration ``k`` updates ``g`` (column sums equal b)
    then ``f`` (row sums equal a), as POT does, so from the same start ``n_iter`` iterations give POT's
    iterate. Every log-sum-exp is shifted by the current potentials (exact max only where that leaves the
    safe range) and one streaming pass over the matrix serves a row update and the next column update; see
    docs/algorithms.md.

    References
    ----------
    .. [1] M. Cuturi, "Sinkhorn distances: lightspeed computation of optimal transport", NeurIPS 2013.
    .. [2] B. Schmitzer, "Stabilized sparse scaling algorithms for entropy regularized transport problems",
           SIAM J. Sci. Comput. 41 (2019).
    .. [3] G. Peyre and M. Cuturi, "Computational optimal transport", Found. Trends Mach. Learn. 11 (2019).

    Examples
    --------
    >>> import numpy as np, linassign
    >>> res = linassign.sinkhorn(np.array([[0.0, 1.0], [1.0, 0.0]]), reg=1.0, return_plan=True)
    >>> np.round(res.plan, 4)
    array([[0.3655, 0.1345],
           [0.1345, 0.3655]])
    >>> res.converged, res.n_iter
    (True, 1)
    """
    arr, origin, batched = as_cost_matrix(cost, maximize=maximize, backend=backend)
    reg = check_positive(reg, "reg")
    tol = check_tol(tol)
    max_iter = check_max_iter(max_iter)
    return_plan = check_bool(return_plan, "return_plan")
    anneal = check_bool(anneal, "anneal")
    bsz = arr.shape[0] if batched else None
    n, m = arr.shape[-2:]
    a_arr = as_marginal(a, "a", n, bsz, arr.shape)
    b_arr = as_marginal(b, "b", m, bsz, arr.shape)
    b_arr = balance_marginals(a_arr, b_arr, CONFIG["sinkhorn_mass_rtol"])
    init_arr = check_init(init, a_arr, b_arr, batched)
    solve = select("sinkhorn_batch" if batched else "sinkhorn", side_of(arr))
    if batched:
        out = solve(arr, a_arr, b_arr, reg, maximize, tol, max_iter, init_arr, return_plan, anneal)
    else:
        init1 = None if init_arr is None else (init_arr[0][0], init_arr[1][0])
        out = solve(arr, a_arr[0], b_arr[0], reg, maximize, tol, max_iter, init1, return_plan, anneal)
    conv = np.asarray(out["converged"])
    if not conv.all():
        err = float(np.max(np.asarray(out["marginal_error"])[~conv]))
        which = f" for {int((~conv).sum())} of {conv.size} problems" if batched else ""
        warnings.warn(
            f"sinkhorn reached max_iter={max_iter} with marginal error {err:.3g} > tol={tol:g}{which}; "
            "increase max_iter, increase reg, or pass anneal=True",
            ConvergenceWarning,
            stacklevel=2,
        )
    return SinkhornResult(
        f=wrap(out["f"], origin),
        g=wrap(out["g"], origin),
        plan=wrap(out["plan"], origin),
        cost=wrap_scalar(out["cost"], origin),
        marginal_error=wrap_scalar(out["marginal_error"], origin),
        converged=wrap_scalar(out["converged"], origin),
        n_iter=wrap_scalar(out["n_iter"], origin),
    )


def auction(cost: Any, *, maximize: bool = False, eps: float | None = None, backend: str = "auto") -> AssignmentResult:
    """Solve a linear assignment problem by the auction algorithm with epsilon scaling.

    Parameters
    ----------
    cost : array of shape (n, m) or (B, n, m)
        numpy array or array-like, or any ``__dlpack__`` object (torch, jax) on the CPU. ``+inf``
        (minimize) or ``-inf`` (maximize) marks a forbidden pair. Rectangular problems assign every row of
        the shorter side. Never modified.
    maximize : bool, default False
        Maximize the total instead of minimizing it.
    eps : float, optional
        None (default): the answer is optimal, with tight duals (``gap`` 0 up to rounding). A positive
        value: stop the epsilon scaling at this bid increment and return an eps-optimal assignment faster;
        its ``gap`` (computed from the duals, not assumed) is at most ``min(n, m) * eps``.
    backend : {"auto", "cpu", "gpu"}
        ``"auto"`` solves where the data lives. There is no GPU kernel yet: CUDA input needs
        ``backend="cpu"``.

    Returns
    -------
    AssignmentResult
        ``row_ind`` (sorted), ``col_ind``, ``objective``, duals ``u`` and ``v`` (``v`` are the final prices,
        negated in the minimize orientation), ``gap``, ``converged`` (always True), ``n_iter`` (bids plus
        augmenting paths); batched fields for batched input.

    Raises
    ------
    ValueError
        ``"matrix contains invalid numeric entries"``, ``"cost matrix is infeasible"`` (as scipy), a bad
        shape, or a bad ``eps``.
    TypeError
        Complex, object or string input.

    See Also
    --------
    hungarian : exact shortest augmenting paths.
    linear_sum_assignment : the scipy-compatible interface.

    Notes
    -----
    Forward Gauss-Seidel auction (Bertsekas 1988) with epsilon scaling (eps divided by
    ``CONFIG["auction_eps_factor"]`` per phase, prices kept). With ``eps=None`` integer costs end at
    ``eps = 1/(n+1) < 1/n``, which makes the auction's assignment optimal; float costs end at a small
    eps. In both cases an exact finish then frees every row that is not on an exact minimum of its reduced
    costs and reassigns it by shortest augmenting paths (Jonker-Volgenant), which yields an optimal
    assignment with tight duals for any costs. A phase that stalls (prices past a bound that no feasible
    problem reaches, or increments lost to rounding) hands over to that finish from scratch, which also
    detects infeasibility, so the solver always terminates. See docs/algorithms.md.

    References
    ----------
    .. [1] D. P. Bertsekas, "The auction algorithm: a distributed relaxation method for the assignment
           problem", Annals of Operations Research 14 (1988).
    .. [2] D. P. Bertsekas and D. A. Castanon, "A forward/reverse auction algorithm for asymmetric
           assignment problems", Computational Optimization and Applications 1 (1992).
    .. [3] R. Jonker and A. Volgenant, "A shortest augmenting path algorithm for dense and sparse linear
           assignment problems", Computing 38 (1987).

    Examples
    --------
    >>> import numpy as np, linassign
    >>> res = linassign.auction(np.array([[4, 1, 3], [2, 0, 5], [3, 2, 2]]))
    >>> res.col_ind.tolist(), res.objective, res.gap
    ([1, 0, 2], 5.0, 0.0)
    """
    arr, origin, batched = as_cost_matrix(cost, maximize=maximize, backend=backend)
    eps = check_eps(eps)
    solve = select("auction_batch" if batched else "auction", side_of(arr))
    out = solve(arr, maximize, eps)
    return _assignment_result(arr, out, maximize, origin)


# ----------------------------------------------------------------------------------------------------------
# Balanced (capacitated) assignment (issue 3)
# ----------------------------------------------------------------------------------------------------------

from ._result import BalancedResult  # noqa: E402 - this section is appended to keep merges easy
from ._validation import as_scores, check_capacity, check_method, check_prices  # noqa: E402


def balanced_assignment(
    scores: Any,
    capacity: Any = None,
    *,
    maximize: bool = True,
    method: str = "auction",
    tol: float | None = None,
    prices: Any = None,
    backend: str = "auto",
) -> BalancedResult:
    """Assign rows to columns, each column receiving at most its capacity, to maximize the total score.

    This is the routing problem of BASE layers (tokens to experts with equal loads). The problem is solved
    in column space: only the n-by-E scores are read, the n-by-n expanded assignment problem is never
    built, and the answer is exact (certified by column prices) unless ``tol`` allows less.

    Parameters
    ----------
    scores : array of shape (n, E) or (B, n, E)
        Rows (tokens) by columns (experts): numpy array or array-like, cupy array, or any ``__dlpack__``
        object (torch, jax). float32 is solved without upcasting the matrix. ``-inf`` (maximize) or
        ``+inf`` (minimize) forbids a pair. Never modified.
    capacity : None, int or array of shape (E,), optional
        None: exactly ``n // E`` rows per column (n must be divisible by E). An int k or an array: at most
        ``capacity[e]`` rows in column e. When the capacities sum to less than n, exactly that many rows are
        assigned (the best choice of them) and the others get -1.
    maximize : bool, default True
        Maximize the total score; False minimizes a total cost.
    method : {"auction", "hungarian", "sinkhorn"}
        ``"auction"``: column-by-column auction for similar objects with eps-scaling, finished by exact
        shortest paths. ``"hungarian"``: exact successive shortest paths over the E columns from a greedy
        start. ``"sinkhorn"``: log-domain entropic transport with annealing, whose column potentials
        start the exact finish. All three return the same optimal objective when ``tol`` is None.
    tol : float, optional
        None (or 0): exact. ``tol > 0`` accepts an answer with ``gap <= tol`` when one is found early.
    prices : array of shape (E,) or (B, E), optional
        Column prices of an earlier result (``res.prices``) to warm-start; they change the speed, never the
        optimality of the answer.
    backend : {"auto", "cpu", "gpu"}
        ``"auto"`` solves where the data lives; the others force a side (copying if needed).

    Returns
    -------
    BalancedResult
        ``assignment``, ``order``, ``counts``, ``prices``, ``objective``, ``bound``, ``gap``,
        ``converged``, ``n_iter``, in the caller's array library and on its device; batched fields for
        batched input.

    Raises
    ------
    ValueError
        NaN scores, an infinity of the wrong sign, a bad shape, ``capacity=None`` with n not divisible
        by E, a negative or misshapen capacity, an unknown method, a negative tol or non-finite prices.
    InfeasibleError
        No assignment respects the capacities and the forbidden pairs (a ValueError).
    TypeError
        Complex, object or string scores; a non-integer capacity.
    BackendUnavailableError
        ``backend="gpu"`` without cupy or a CUDA device.

    See Also
    --------
    hungarian : dense linear assignment.
    verify : recompute the certificate of a result.

    Notes
    -----
    The linear program is a transportation problem with row supplies 1 and column capacities. Its dual
    has one price per column: ``bound = sum_i max_e (s[i, e] - p[e]) + sum_e capacity[e] * p[e]`` bounds
    every feasible assignment (with ``p >= 0`` when capacities are "at most" and, when rows may be left
    out, the row terms clipped at 0). A result is optimal when every row sits in a column of largest
    value ``s[i, e] - p[e]`` and columns with free slots have price 0; ``gap`` measures how far the
    answer is from that. See ``docs/balanced.md`` for the three methods.

    References
    ----------
    .. [1] D. P. Bertsekas and D. A. Castanon, "The auction algorithm for the transportation problem",
           Annals of Operations Research 20 (1989).
    .. [2] R. K. Ahuja, T. L. Magnanti and J. B. Orlin, "Network Flows", Prentice Hall (1993), ch. 9.
    .. [3] M. Lewis, S. Bhosale, T. Dettmers, N. Goyal and L. Zettlemoyer, "BASE Layers: Simplifying
           Training of Large, Sparse Models", ICML (2021).

    Examples
    --------
    >>> import numpy as np, linassign
    >>> scores = np.array([[5.0, 1.0], [4.0, 0.0], [3.0, 3.0], [0.0, 2.0]])
    >>> res = linassign.balanced_assignment(scores)          # 2 rows per column
    >>> res.assignment.tolist(), res.counts.tolist(), res.objective, res.gap
    ([0, 0, 1, 1], [2, 2], 14.0, 0.0)
    >>> res.order.tolist()
    [0, 1, 2, 3]
    """
    # The auction and hungarian kernels start with a pass that checks the entries; Sinkhorn reads them first.
    in_kernel = isinstance(method, str) and method in ("auction", "hungarian")
    arr, origin, batched = as_scores(scores, maximize=maximize, backend=backend, cpu_kernel_checks_entries=in_kernel)
    n, n_cols = int(arr.shape[-2]), int(arr.shape[-1])
    cap = check_capacity(capacity, n, n_cols)
    method = check_method(method)
    tol = check_tol(tol, allow_none=True)
    p0 = check_prices(prices, n_cols, int(arr.shape[0]) if batched else None)
    solve = select("balanced_batch" if batched else "balanced", side_of(arr))
    out = solve(arr, cap, maximize, method, tol, p0)
    return BalancedResult(
        assignment=wrap(out["assignment"], origin),
        order=wrap(out["order"], origin),
        counts=wrap(out["counts"], origin),
        prices=wrap(out["prices"], origin),
        objective=wrap_scalar(out["objective"], origin),
        bound=wrap_scalar(out["bound"], origin),
        gap=wrap_scalar(out["gap"], origin),
        converged=wrap_scalar(out["converged"], origin),
        n_iter=wrap_scalar(out["n_iter"], origin),
        maximize=bool(maximize),
    )
