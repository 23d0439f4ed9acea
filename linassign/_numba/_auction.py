"""Auction algorithm for the square and rectangular linear assignment problem (numba), with an exact finish.

Bertsekas (1988) forward auction with epsilon scaling, in the minimize orientation of ``h = sign * c`` on an
(n, m) matrix with n <= m (the host transposes taller matrices). Prices ``p`` (m,) start at 0. A free row i
bids for its best column ``j1 = argmin_j h_ij + p_j`` (value w1; second best w2) and raises its price to
``p_j1 + (w2 - w1) + eps``, evicting the previous owner (Gauss-Seidel: one row at a time, the evicted row
bids next). Every assigned row then satisfies eps-complementary slackness (eps-CS)::

    h_i,x(i) + p_x(i) <= min_j (h_ij + p_j) + eps.

Epsilon scaling runs phases with eps divided by ``theta`` each time, keeping the prices and clearing the
assignment, so each phase starts near its answer.

Candidate cache. Prices never decrease, so each row keeps its best few columns from its last full scan and the
next value below them, a lower bound on every other column forever: a bid whose cached best two stay under
that bound skips the row scan (``_best_two_cached``); most bids do.

Certificate and gap. With column duals ``v = -p`` and row duals ``u_i = min_j h_ij - v_j`` the duals are
feasible, and ``sum_i h_i,x(i) - (sum u + sum v)`` is at most ``n * eps`` for a square problem (the sum of the
eps-CS slacks); that is the gap an ``eps``-given result reports (computed, not assumed).

Exactness (``eps=None``). Integer costs: with a final eps < 1/n the eps-CS assignment is optimal (Bertsekas
1988, Prop. 1: any other assignment costs an integer more or equal, and this one is within n * eps < 1 of the
optimum). Any costs, and exact duals in both cases: the *exact finish*. Square problems first repair the duals
by label correcting (``_repair_duals``; exact whenever the assignment is optimal). Then rows whose assigned
column is not an exact row minimum of ``h_ij - v_j`` are freed, and shortest augmenting paths (Dijkstra on
reduced costs: the Jonker-Volgenant phase 2 of the Hungarian kernel, ``_hungarian._augment``) reassign them;
every assigned row stays tight and the path lengths update the duals, so the result is optimal with tight
duals (gap 0 up to rounding). The auction's prices are near-optimal, so few rows are freed and their searches
stay short; the finish is what makes float costs exact.

Rectangular (n < m). The dual of "every row assigned, each column at most once" needs ``v_j <= 0`` for all
columns and ``v_j = 0`` for unassigned ones. Prices only grow from 0 (``v <= 0``), but a column that eps
scaling freed may keep a positive price; the finish sets such columns' ``v`` to 0, frees the rows this makes
non-tight (repeating until none), and the augmenting paths keep free columns at ``v = 0`` and never raise
``v`` (Crouse 2016).

Termination. Every bid raises a price by at least eps; a feasible problem keeps prices bounded, so a phase
that pushes a price past ``price_bound``, makes more than ``max_bids`` bids, or whose bid increment is lost to
rounding (eps below the prices' resolution) hands the problem to the exact finish from scratch (``v = 0``,
every row free), which also decides infeasibility exactly. No input can make the kernel loop forever.
"""

import numba
import numpy as np

from ._common import INF, STATUS_INFEASIBLE, STATUS_OK
from ._hungarian import _augment, _row_min


@numba.njit(cache=True, nogil=True)
def _best_two(c, sign, i, p):
    """(w1, j1, w2): smallest and second smallest ``sign * c[i, j] + p[j]`` and the argmin (first wins)."""
    w1 = INF
    w2 = INF
    j1 = -1
    for j in range(c.shape[1]):
        w = sign * c[i, j] + p[j]
        if w < w2:
            if w < w1:
                w2 = w1
                w1 = w
                j1 = j
            else:
                w2 = w
    return w1, j1, w2


@numba.njit(cache=True, nogil=True)
def _scan_top(c, sign, i, p, cand, k):
    """Full scan of row i: cand[:k] gets the k columns of smallest ``h_ij + p_j`` (-1 if fewer allowed);
    returns (w1, j1, w2, threshold): best, its column, second best, and the (k+1)-th smallest value (a lower
    bound, now and later, on the value of every column not in cand, since prices never decrease)."""
    vals = np.empty(k + 1)
    idx = np.empty(k + 1, np.int64)
    for t in range(k + 1):
        vals[t] = INF
        idx[t] = -1
    worst = INF
    for j in range(c.shape[1]):
        w = sign * c[i, j] + p[j]
        if w < worst:
            # Insert into the sorted top k+1 (rare after the first few columns).
            t = k
            while t > 0 and vals[t - 1] > w:
                vals[t] = vals[t - 1]
                idx[t] = idx[t - 1]
                t -= 1
            vals[t] = w
            idx[t] = j
            worst = vals[k]
    for t in range(k):
        cand[t] = idx[t]
    return vals[0], idx[0], vals[1], vals[k]


@numba.njit(cache=True, nogil=True)
def _best_two_cached(c, sign, i, p, cand, thresh):
    """Best and second-best of row i from its cached candidates, rescanning the row only when they might be
    wrong. Valid because prices only grow: a column outside cand is worth at least thresh[i] forever, so if
    the candidates' best two are both <= thresh[i], they are the row's best two."""
    k = cand.shape[1]
    w1 = INF
    w2 = INF
    j1 = -1
    for t in range(k):
        j = cand[i, t]
        if j >= 0:
            w = sign * c[i, j] + p[j]
            if w < w2:
                if w < w1 or (w == w1 and j < j1):
                    w2 = w1
                    w1 = w
                    j1 = j
                else:
                    w2 = w
    if j1 >= 0 and w2 <= thresh[i]:
        return w1, j1, w2
    w1, j1, w2, thresh[i] = _scan_top(c, sign, i, p, cand[i], k)
    return w1, j1, w2


@numba.njit(cache=True, nogil=True)
def _auction_phase(c, sign, eps, big, price_bound, max_bids, x, y, p, stack, cand, thresh):
    """One forward Gauss-Seidel auction phase at ``eps`` from prices ``p``, all rows free on entry.

    big: the bid increment of a row with a single allowed column (no second best). Returns
    (status, bids): status 0 all rows assigned; 1 a row has no allowed column (infeasible); 2 gave up
    (price past price_bound, more than max_bids bids, or an increment lost to rounding).
    """
    n = c.shape[0]
    x[:] = -1
    y[:] = -1
    top = 0
    for i in range(n - 1, -1, -1):  # rows pop in increasing order
        stack[top] = i
        top += 1
    bids = 0
    while top > 0:
        top -= 1
        i = stack[top]
        while i >= 0:
            w1, j1, w2 = _best_two_cached(c, sign, i, p, cand, thresh)
            if j1 < 0:
                return 1, bids
            inc = (w2 - w1) + eps if w2 < INF else big
            old = p[j1]
            new = old + inc
            if not (new > old) or new > price_bound or bids >= max_bids:
                return 2, bids
            p[j1] = new
            bids += 1
            k = y[j1]
            y[j1] = i
            x[i] = j1
            if k >= 0:
                x[k] = -1
            i = k  # the evicted row bids next (it is close to its old column's price level)
    return 0, bids


@numba.njit(cache=True, nogil=True)
def _repair_duals(c, sign, x, y, v, max_pops):
    """Lower column duals until every assigned row is tight (square problems, complete assignment).

    Difference constraints ``v_j <= v_x(i) + h_ij - h_i,x(i)`` (column x(i)'s row must not prefer j), solved by
    label correcting (SPFA) from the auction's duals, which violate them by at most eps. An optimal assignment
    has no negative cycle, so this ends with exact duals; otherwise ``max_pops`` stops it and the freeing
    finish takes over. Either way it only lowers duals, and the finish checks tightness itself.
    """
    n, m = c.shape
    queue = np.empty(m, np.int64)
    inq = np.ones(m, np.bool_)
    for k in range(m):
        queue[k] = k
    head = 0
    size = m
    pops = 0
    while size > 0 and pops < max_pops:
        k = queue[head]
        head = head + 1 if head + 1 < m else 0
        size -= 1
        inq[k] = False
        pops += 1
        i = y[k]
        if i < 0:
            continue
        base = v[k] - sign * c[i, k]
        for j in range(m):
            cand = base + sign * c[i, j]
            if cand < v[j]:
                v[j] = cand
                if not inq[j]:
                    inq[j] = True
                    tail = head + size if head + size < m else head + size - m
                    queue[tail] = j
                    size += 1
    return size == 0


@numba.njit(cache=True, nogil=True)
def exact_finish(c, sign, x, y, v):
    """Turn any assignment x/y (partial allowed) with column duals v into an optimal one with tight duals.

    Frees every row whose column is not an exact minimum of h_ij - v_j (and, rectangular, sets the v of free
    columns to 0, freeing the rows that this makes non-tight, until none), then augments from each free row.
    Returns (status, augmentations).
    """
    n, m = c.shape
    rect = n < m
    changed = True
    while changed:
        changed = False
        if rect:
            for j in range(m):
                if y[j] < 0 and v[j] != 0.0:
                    v[j] = 0.0
                    changed = True
            # Columns may only lower their duals below 0; a positive one (from a warm start) is reset.
            for j in range(m):
                if v[j] > 0.0:
                    v[j] = 0.0
                    changed = True
        for i in range(n):
            j = x[i]
            if j >= 0 and sign * c[i, j] - v[j] > _row_min(c, i, v, sign, 0, m):
                x[i] = -1
                y[j] = -1
                changed = True
        if not rect:
            break
    key = np.empty(m)
    pred = np.empty(m, np.int64)
    todo = np.empty(m, np.int64)
    scols = np.empty(m, np.int64)
    sdist = np.empty(m)
    n_aug = 0
    for f in range(n):
        if x[f] < 0:
            # The Hungarian kernel's shortest augmenting path: its precondition (every assigned row on an exact
            # minimum of the reduced costs) is what the loop above establishes.
            if not _augment(c, sign, f, x, y, v, key, pred, todo, scols, sdist):
                return STATUS_INFEASIBLE, n_aug
            n_aug += 1
    return STATUS_OK, n_aug


@numba.njit(cache=True, nogil=True)
def auction(c, sign, eps_start, eps_final, theta, big, price_bound, max_bids, n_cand, exact, x, y, v, u):
    """Epsilon-scaling forward auction on c (n, m), n <= m, minimizing sign * c; then the exact finish.

    eps_start > eps_final > 0: the first and last phase's eps; theta > 1: the division factor.
    big: bid increment for a row with one allowed column; price_bound, max_bids: per-phase give-up limits.
    n_cand: columns cached per row between bids (``_best_two_cached``).
    exact: run the exact finish (eps=None); otherwise only when the eps-CS gap bound does not hold
    (rectangular problems whose free columns kept prices) or the auction gave up.
    x (n,), y (m,) int64 out; v (m,) float64 out: column duals (-prices) in the minimize orientation;
    u (n,) float64 out: row duals ``min_j h_ij - v_j`` (after the exact finish: ``h_i,x(i) - v_x(i)``, equal).
    Returns (status, n_iter): n_iter = bids + augmentations.
    """
    n, m = c.shape
    p = np.zeros(m)
    stack = np.empty(n, np.int64)
    # Each row's best few columns and a bound on the rest (see _best_two_cached): most bids skip the row scan.
    cand = np.full((n, max(1, min(n_cand, m))), -1, np.int64)
    thresh = np.full(n, -INF)  # -INF: nothing cached yet, the first bid scans
    eps = eps_start
    total = 0
    gave_up = False
    while True:
        status, bids = _auction_phase(c, sign, eps, big, price_bound, max_bids, x, y, p, stack, cand, thresh)
        total += bids
        if status == 1:
            return STATUS_INFEASIBLE, total
        if status == 2:
            gave_up = True
            break
        if eps <= eps_final:
            break
        eps = max(eps / theta, eps_final)
    if gave_up:
        x[:] = -1
        y[:] = -1
        v[:] = 0.0
        status, n_aug = exact_finish(c, sign, x, y, v)
        _tight_row_duals(c, sign, x, v, u)
        return status, total + n_aug
    for j in range(m):
        v[j] = -p[j]
    need = exact
    if not need and n < m:
        # The n * eps bound needs v = 0 on free columns; a price left there by an earlier phase breaks it.
        for j in range(m):
            if y[j] < 0 and v[j] != 0.0:
                need = True
                break
    if need:
        if n == m:
            # Usually makes every row tight at the cost of about one pass (always so when eps < 1/n and the
            # costs are integers: the assignment is then optimal); the finish handles whatever is left.
            _repair_duals(c, sign, x, y, v, 4 * m + 16)
        status, n_aug = exact_finish(c, sign, x, y, v)
        _tight_row_duals(c, sign, x, v, u)
        return status, total + n_aug
    for i in range(n):
        u[i] = _row_min(c, i, v, sign, 0, c.shape[1])
    return STATUS_OK, total


@numba.njit(cache=True, nogil=True)
def _tight_row_duals(c, sign, x, v, u):
    """u_i = h_i,x(i) - v_x(i): after the exact finish every assigned row is on a row minimum."""
    for i in range(c.shape[0]):
        j = x[i]
        u[i] = sign * c[i, j] - v[j] if j >= 0 else 0.0


def _auction_batch_py(
    c, sign, eps_start, eps_final, theta, big, price_bound, max_bids, n_cand, exact, x, y, v, u, status, n_iter
):
    """B problems c[k] (n, m), n <= m, with per-problem scalar parameters (arrays of shape (B,)). Parallel."""
    for k in numba.prange(c.shape[0]):
        s, it = auction(
            c[k],
            sign,
            eps_start[k],
            eps_final[k],
            theta,
            big[k],
            price_bound[k],
            max_bids,
            n_cand,
            exact[k],
            x[k],
            y[k],
            v[k],
            u[k],
        )
        status[k] = s
        n_iter[k] = it


auction_batch = numba.njit(_auction_batch_py, cache=True, nogil=True, parallel=True)


# ----------------------------------------------------------------------------------------------------------
# Host wrappers: validated arrays in, numpy arrays out, status -> exception
# ----------------------------------------------------------------------------------------------------------

_INFEASIBLE_MSG = "cost matrix is infeasible"


def _parameters(h_finite_min, h_finite_max, integral, n, eps):
    """(eps_start, eps_final, big, price_bound, exact) for one problem with n (<= m) rows, h = sign * c.

    exact: run the exact finish (always for eps=None; also for a given eps below what bids can resolve,
    so that the promised gap <= n * eps still holds)."""
    from .._config import CONFIG

    spread = float(h_finite_max - h_finite_min)
    magnitude = max(abs(float(h_finite_min)), abs(float(h_finite_max)))
    # Below a few ulps of the costs a bid cannot move a price (the phase would give up anyway).
    floor = max(magnitude * 1e-14, 1e-300)
    exact = eps is None or eps < floor
    if eps is not None:
        eps_final = eps
    elif integral:
        eps_final = 1.0 / (n + 1)  # < 1/n: the auction's own assignment is already optimal (integer costs)
    else:
        eps_final = spread * CONFIG["auction_eps_final_rel"]
    eps_final = max(eps_final, floor)
    div = CONFIG["auction_eps_start_div"]
    eps_start = max(spread / (n if div is None else div), eps_final)
    big = spread + eps_start  # the increment of a bid with no second-best column
    price_bound = (4.0 * n + 8.0) * (spread + big + eps_start)
    return eps_start, eps_final, big, price_bound, exact


@numba.njit(cache=True, nogil=True, fastmath={"nnan", "nsz", "reassoc"})
def _finite_range_kernel(flat, sign):
    """Branch-free (vectorizable) min, max and integrality of the finite entries of sign * flat (no NaN)."""
    lo = INF
    hi = -INF
    frac = 0.0
    for k in range(flat.size):
        h = sign * flat[k]
        fin = h < INF
        lo = h if h < lo else lo
        hv = h if fin else -INF
        hi = hv if hv > hi else hi
        frac += 0.0 if (not fin) or h == np.floor(h) else 1.0
    return lo, hi, frac == 0.0


def _finite_range(c, sign):
    """(min, max, all integral) over the allowed (finite) entries of h = sign * c, in one pass without
    temporaries; (inf, -inf, True) if there are none."""
    lo, hi, integral = _finite_range_kernel(c.reshape(-1), sign)
    return float(lo), float(hi), bool(integral)


def solve_auction(cost: np.ndarray, maximize: bool, eps) -> dict:
    """Auction on one (n, m) matrix; exact when eps is None. Returns row_ind, col_ind, u, v (minimize
    orientation of ``sign * cost``, caller's row/column order), n_iter, and gap when costs were rescaled."""
    from .._config import CONFIG
    from . import _oriented, to_caller  # the Hungarian's orientation and overflow-safe rescaling (a power of two)

    c, transposed, scale = _oriented(cost)
    nr, nc = c.shape
    sign = -1.0 if maximize else 1.0
    x = np.full(nr, -1, np.int64)
    y = np.full(nc, -1, np.int64)
    v = np.zeros(nc)
    u = np.zeros(nr)
    n_iter = 0
    if nr > 0:
        lo, hi, integral = _finite_range(c, sign)
        if not lo <= hi:
            raise ValueError(_INFEASIBLE_MSG)
        eps_k = None if eps is None else eps * scale
        eps_start, eps_final, big, bound, exact = _parameters(lo, hi, integral and scale == 1.0, nr, eps_k)
        max_bids = CONFIG["auction_max_bids_per_row"] * nr + 1000
        theta = CONFIG["auction_eps_factor"]
        n_cand = CONFIG["auction_candidates"]
        status, n_iter = auction(c, sign, eps_start, eps_final, theta, big, bound, max_bids, n_cand, exact, x, y, v, u)
        if status == STATUS_INFEASIBLE:
            raise ValueError(_INFEASIBLE_MSG)
    return to_caller(c, x, u, v, sign, scale, transposed, n_iter)


def solve_auction_batch(cost: np.ndarray, maximize: bool, eps) -> dict:
    """Auction on B matrices (B, n, m) at once, in parallel over the batch; fields batched."""
    from .._config import CONFIG
    from . import _oriented, to_caller

    bsz = cost.shape[0]
    c, transposed, scale = _oriented(cost)
    nr, nc = c.shape[1:]
    sign = -1.0 if maximize else 1.0
    x = np.full((bsz, nr), -1, np.int64)
    y = np.full((bsz, nc), -1, np.int64)
    v = np.zeros((bsz, nc))
    u = np.zeros((bsz, nr))
    status = np.zeros(bsz, np.int64)
    n_iter = np.zeros(bsz, np.int64)
    if nr > 0 and bsz > 0:
        params = np.empty((bsz, 5))
        eps_k = None if eps is None else eps * scale
        for k in range(bsz):
            lo, hi, integral = _finite_range(c[k], sign)
            if not lo <= hi:
                lo = hi = 0.0  # no allowed pair: the kernel reports the item infeasible at its first bid
            params[k] = _parameters(lo, hi, integral and scale == 1.0, nr, eps_k)
        max_bids = CONFIG["auction_max_bids_per_row"] * nr + 1000
        theta = CONFIG["auction_eps_factor"]
        e0, e1, big, bound = (np.ascontiguousarray(params[:, k]) for k in range(4))
        exact = params[:, 4] != 0.0
        n_cand = CONFIG["auction_candidates"]
        auction_batch(c, sign, e0, e1, theta, big, bound, max_bids, n_cand, exact, x, y, v, u, status, n_iter)
        bad = np.flatnonzero(status == STATUS_INFEASIBLE)
        if bad.size:
            raise ValueError(f"{_INFEASIBLE_MSG} (batch items {bad[:10].tolist()})")
    return to_caller(c, x, u, v, sign, scale, transposed, n_iter)
