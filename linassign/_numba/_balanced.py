"""Balanced (capacitated) assignment on the CPU: the solver driver and its host wrapper.

``solve_one`` runs one problem in three stages:

1. a starting state: column prices (given by the caller, or found by a heuristic: count-balancing steps,
   ``_balanced_prices``, on a subsample and then on the whole matrix for ``"auction"`` and ``"hungarian"``,
   Sinkhorn potentials for ``"sinkhorn"``; where these leave the start far from balanced, as on low-rank
   scores, exact solves of subsamples, coarse to fine: ``coarse_prices``), and every row in a best column
   under them (``greedy_start``);
2. the method's bulk phase: the column-by-column auction for ``method="auction"`` (also the rounding of
   ``"sinkhorn"`` when ``tol`` is given), nothing for ``"hungarian"``;
3. the exact phase, successive shortest paths in column space (``_balanced_ssp``), unless ``tol`` accepts
   the state reached, then the certificate (``_balanced_common.finalize``).

``solve_batch`` runs the same serial code in parallel over a batch (prange, compiled from the serial
source). ``solve_balanced`` is the host wrapper: validated arrays in, numpy arrays out, status codes turned
into exceptions.
"""

from __future__ import annotations

import numba
import numpy as np

from .._config import CONFIG
from .._errors import InfeasibleError
from .._validation import invalid_scores_error
from ._balanced_auction import auction, initial_bids
from ._balanced_common import (
    best_and_margin,
    checked_argmax,
    finalize,
    greedy_start,
    greedy_status,
    parallel_variant,
    place_dummies,
)
from ._balanced_prices import balance_prices
from ._balanced_sinkhorn import sinkhorn_prices
from ._balanced_ssp import (
    _far_rows_stay,
    _same_row,
    _select_near,
    arc_minima,
    find_block,
    greedy_arcs,
    greedy_then_arcs,
    near_exact,
    ssp,
)
from ._common import INF, STATUS_INFEASIBLE, STATUS_INVALID, STATUS_NAN, STATUS_OK
from ._simd import prefetch_row, rows_ahead

METHODS = {"hungarian": 0, "auction": 1, "sinkhorn": 2}

_INFEASIBLE_MSG = (
    "no assignment respects the capacities and the forbidden pairs (-inf when maximizing, +inf when "
    "minimizing); allow more pairs or raise the capacities"
)


@numba.njit(cache=True, nogil=True)
def _excess(capx, cnt):
    """Rows in excess of the capacities, summed over the over-full columns."""
    x = 0
    for e in range(capx.shape[0]):
        if cnt[e] > capx[e]:
            x += cnt[e] - capx[e]
    return x


@numba.njit(cache=True, nogil=True)
def _equal_capacity(capx, E, n):
    """k when every one of the E columns has capacity k and they sum to n > 0 (no drop column, no dummy
    rows), else 0: the problems a subsample of the rows represents."""
    Ec = capx.shape[0]
    if Ec != E or E == 0 or n == 0:
        return 0
    k = capx[0]
    if k * Ec != n:
        return 0
    for e in range(Ec):
        if capx[e] != k:
            return 0
    return k


@numba.njit(cache=True, nogil=True)
def _sample_factor(capx, E, n, n_dummy, min_cap, min_f, max_f):
    """Subsampling factor f for ``subsample_prices``, 0 when it does not apply: every one of the E columns
    has the same capacity k and they sum to n (``_equal_capacity``; no dummy rows), f divides k,
    max(min_f, 2) <= f <= max_f and k / f >= min_cap (the largest such f)."""
    k = _equal_capacity(capx, E, n)
    if k == 0 or n_dummy > 0:
        return 0
    f = min(k // max(min_cap, 1), max_f)
    while f >= max(min_f, 2):
        if k % f == 0:
            return f
        f -= 1
    return 0


@numba.njit(cache=True, nogil=True)
def _sample_excess(s, sgn, p, E, k_sub, f):
    """(x, tied): x the excess of the greedy start of every f-th row (capacity ``k_sub`` per column) times f,
    an estimate of the full greedy start's excess for 1/f of its cost, and the fraction of these rows tied
    between their two best columns (small integer scores), copies of the first tied row not counted
    (constant rows: padding tokens every expert scores alike) unless they are all of them. x = -1 when one
    of these rows holds an invalid entry (the full greedy pass then reports it; no subsample is solved)."""
    m = k_sub * E
    best = np.empty(m, np.int64)
    tie = np.zeros(m, np.bool_)
    ahead = rows_ahead(s)
    for r in numba.prange(m):
        prefetch_row(s, (r + ahead) * f)  # these rows are too far apart for the hardware to guess
        bad, j, v, w = checked_argmax(s, r * f, sgn, p, E, False)
        if bad:
            best[r] = -2
        else:
            best[r] = j
            tie[r] = j >= 0 and w == v
    cnt = np.zeros(E, np.int64)
    n_tied = 0
    n_copies = 0
    r0 = -1  # the first tied row: its copies (constant rows, padding tokens) are a block, not tied scores
    for r in range(m):
        if best[r] == -2:
            return -1, 0.0
        if best[r] >= 0:
            cnt[best[r]] += 1
        if tie[r]:
            n_tied += 1
            if r0 < 0:
                r0 = r
            elif _same_row(s, r * f, r0 * f, E):
                n_copies += 1
    if n_copies + 1 < m:  # unless every row is that one row (all scores equal: no step can help)
        n_tied -= n_copies
    return _excess(np.full(E, k_sub, np.int64), cnt) * f, n_tied / m


@numba.njit(cache=True, nogil=True)
def _sampled_row(r, f, jitter):
    """The r-th row of a subsample of every f-th row: r * f, or with ``jitter`` a row of the same block of f
    picked by a multiplicative hash of r (rows whose kind repeats with a period dividing f, such as a
    marker token every 8 rows, would otherwise all be sampled or all be missed)."""
    if not jitter:
        return r * f
    return r * f + (((r * 2654435761) & 0xFFFFFFFF) * f >> 32)


@numba.njit(cache=True, nogil=True)
def _every_fth_row(s, f, m, jitter):
    """Rows 0, f, 2f, ... (m of them; ``_sampled_row``) as a new matrix."""
    E = s.shape[1]
    sub = np.empty((m, E), s.dtype)
    ahead = rows_ahead(s)
    for r in range(m):
        prefetch_row(s, _sampled_row(r + ahead, f, jitter))
        i = _sampled_row(r, f, jitter)
        for e in range(E):
            sub[r, e] = s[i, e]
    return sub


@numba.njit(cache=True, nogil=True)
def subsample_prices(s, sgn, p, E, k_sub, f, params):
    """Column prices from every f-th row, with capacity ``k_sub`` per column (the same share of the rows):
    count-balancing steps (``balance_prices``) on that smaller matrix from prices ``p``, left in ``p``, until
    at most ``balanced_sample_stop_below`` of its rows are in excess. They are close to the full problem's
    when the rows are alike, and cost about 1/f of the same steps on the full matrix, whose first passes
    (from zero prices, with popular columns) would do most of the climb. Speed only: the full problem is
    then solved exactly. Returns the passes."""
    m = k_sub * E
    no_f = np.empty((0, 0))
    no_i = np.empty((0, 0), np.int64)
    passes, _, _ = _steps(
        _every_fth_row(s, f, m, False),
        sgn,
        p,
        E,
        np.full(E, k_sub, np.int64),
        params,
        int(params[15] * m),
        -1,  # never the arc minima: col and margin are work arrays
        np.empty(m, np.int64),
        np.empty(E, np.int64),
        no_f,
        no_i,
        no_f,
        no_i,
        np.empty(0),
        np.empty(m),
    )
    return passes


@numba.njit(cache=True, nogil=True)
def coarse_prices(s, sgn, p, E, capx, ratio, x_before, M, W, M2, W2):
    """Column prices from exact solves of ever larger subsamples, coarse to fine, for starts the count-balancing
    steps cannot balance: about every f-th row (``_sampled_row``, jittered) with capacity k / f per column,
    from 2 rows per column up by factors of ``ratio`` (at least 2) while f >= 2, each solved exactly (greedy
    start and ``ssp``) from the prices of the one before. Equal capacities k summing to n (no drop column,
    no dummy rows) and k >= 4; else nothing. M, W, M2, W2: (E, E) work arrays (others: allocated here).

    Low-rank scores (every expert ranking the tokens alike) put most rows in one or two columns at any
    prices the steps reach; the exact phase then moves each unit of excess along a path through many
    columns (16384 x 128 rank one: 16000 rows in excess, 12322 shortest paths, ~0.45 s). A subsample's
    optimal prices are the full problem's up to sampling noise, and a subsample of m rows costs the exact
    phase as many paths at a fraction of the moves. Speed only: the full problem is then solved exactly from
    ``p``. A subsample that holds an invalid entry or is infeasible (forbidden pairs) ends the levels; the
    prices of the last level solved are kept only if the greedy start of the whole matrix under them (one
    more pass) leaves fewer than ``x_before`` rows in excess, the excess at the given ``p``; else ``p`` is
    left as it was. Returns (the shortest-path phases run, the levels whose prices were kept)."""
    k = _equal_capacity(capx, E, s.shape[0])
    if k < 4:
        return 0, 0
    ratio = max(ratio, 2)
    if M.shape[0] != E:
        M, W, M2, W2 = np.empty((E, E)), np.empty((E, E), np.int64), np.empty((E, E)), np.empty((E, E), np.int64)
    phases = 0
    levels = 0
    k_sub = 2
    q = p.copy()
    kept = p.copy()
    while k // k_sub >= 2:
        f = k // k_sub
        m = k_sub * E
        sub = _every_fth_row(s, f, m, True)
        col = np.empty(m, np.int64)
        cnt = np.zeros(E, np.int64)
        own = np.empty(m)
        status = greedy_arcs(sub, sgn, q, E, False, col, cnt, M, W, M2, W2, own, np.empty(m))
        if status != STATUS_OK:
            break
        cap_sub, dm, every_row = np.full(E, k_sub, np.int64), np.zeros(E, np.int64), np.empty(0, np.int64)
        status, ph = ssp(sub, sgn, q, E, cap_sub, col, cnt, dm, 2 * m + 1, M, W, M2, W2, own, True, True, every_row)
        phases += ph
        if status != STATUS_OK:
            break
        kept[:] = q
        levels += 1
        k_sub *= ratio
    if levels == 0:
        return phases, 0
    x_after, _ = _sample_excess(s, sgn, kept, E, k, 1)
    if x_after < 0 or x_after >= x_before:
        return phases, 0
    p[:] = kept
    return phases, levels


@numba.njit(cache=True, nogil=True)
def _steps(s, sgn, p, E, capx, params, stop, arcs_below, col, cnt, M, W, M2, W2, own, margin):
    """``balance_prices`` with its tunables read from ``params`` (see ``_params``), down to ``stop`` rows in
    excess, its last pass building the arc minima when it leaves at most ``arcs_below`` (< 0: never)."""
    n = s.shape[0]
    return balance_prices(
        s,
        sgn,
        p,
        E,
        capx,
        params[18],
        params[19],
        stop,
        int(params[17]),
        params[22],
        params[24] * n,
        arcs_below,
        params[25],
        col,
        cnt,
        M,
        W,
        M2,
        W2,
        own,
        margin,
    )


@numba.njit(cache=True, nogil=True)
def _auction(s, sgn, p, E, has_drop, capx, col, cnt, params, tol, stop):
    """``auction`` with its tunables read from ``params`` (see ``_params``), handing over to the exact phase
    once ``stop`` rows are in excess (stop < 0: the configured ``balanced_auction_stop_*``)."""
    n = s.shape[0]
    Ec = p.shape[0]
    if stop < 0:
        stop = int(min(params[10] * n, params[16] * Ec))
    return auction(
        s,
        sgn,
        p,
        E,
        has_drop,
        capx,
        col,
        cnt,
        params[0],
        params[1],
        params[2],
        int(params[3]) * Ec,
        int(params[28] * n),
        stop,
        int(params[11] * n),
        tol,
    )


@numba.njit(cache=True, nogil=True)
def solve_one(s, sgn, cap, p0, method, tol, params, assignment, order, counts, prices, u):
    """Solve one problem. s (n, E); cap (E,) int64 capacities (their sum decides the drop column or the
    dummy rows); p0 (E,) float64 starting prices in the maximize orientation (NaN: none given); method
    0 hungarian, 1 auction, 2 sinkhorn; tol < 0 means exact; params: the tunables (see ``_params``).

    Outputs, all in the maximize orientation of ``sgn * s``: assignment (n,) (-1 = dropped), order (n,),
    counts (E,), prices (E,), u (n,) row duals. Returns (status, objective, bound, gap, converged, n_iter).
    """
    n, E = s.shape
    total = 0
    for e in range(E):
        total += cap[e]
    has_drop = total < n
    Ec = E + 1 if has_drop else E
    capx = np.empty(Ec, np.int64)
    capx[:E] = cap
    if has_drop:
        capx[E] = n - total
    n_dummy = total - n if total > n else 0
    p = np.zeros(Ec)
    for e in range(E):
        if cap[e] == 0:
            p[e] = INF  # nobody may enter a column without room
        elif p0[e] == p0[e]:
            p[e] = p0[e]
    col = np.empty(n, np.int64)
    cnt = np.zeros(Ec, np.int64)
    dm = np.zeros(Ec, np.int64)
    n_iter = 0
    exact = True
    if method == 2 and n > 0:
        n_iter += sinkhorn_prices(
            s, sgn, p, E, has_drop, capx, n_dummy, params[4], params[5], params[6], int(params[7]), params[8]
        )
    given = False
    for e in range(E):
        given = given or p0[e] == p0[e]
    # Far from balanced (popular columns) and no prices given: first the steps on a subsample. Every
    # f-th row's greedy start tells, for 1/f of a pass, whether the full one would be far from balanced. A
    # sample of k_sub rows per column is itself about E * sqrt(k_sub / 2 pi) rows (times f) in excess by
    # chance, with the most balanced scores; half of that is added to the threshold (measured: it takes the
    # same decisions as the full greedy start on base, normal, skewed and integer at 16384 and 65536 rows).
    f = _sample_factor(capx, E, n, n_dummy, int(params[13]), int(params[27]), int(params[14]))
    many_ties = False
    if method != 2 and f > 0 and not given:
        k_sub = capx[0] // f
        noise = 0.5 * E * np.sqrt(k_sub / (2.0 * np.pi)) * f
        x, tied = _sample_excess(s, sgn, p, E, k_sub, f)
        # Mostly tied rows: the auction would stop at once (``max_ties``), for the subsample and for the
        # whole problem alike; the exact phase does the work.
        many_ties = tied > params[11]
        if x > params[12] * n + noise and not many_ties:
            n_iter += subsample_prices(s, sgn, p, E, k_sub, f, params)
    # No prices given, capacities summing to n: count-balancing steps on the whole matrix, from zero or the
    # subsample's prices, until at most min(stop_below * n, stop_sqrt * sqrt(n)) rows are in excess (x_steps:
    # the excess they leave, -1 if they did not run or could not move).
    sums_to_n = Ec == E and n_dummy == 0  # no drop column, no dummy rows
    run_steps = method != 2 and not given and not many_ties and sums_to_n and n > 0
    # The same problems, also from given prices (and those with tied scores, where the steps do not run), get
    # no auction with the default ``balanced_auction_with_steps``: the exact phase follows the greedy start
    # directly, as in the hungarian method.
    no_auction = method == 1 and sums_to_n and params[31] == 0.0
    # The arc minima of the exact phase, made by the greedy pass when the exact phase follows it directly (or
    # by the steps' last pass).
    want_M = given or method == 0 or run_steps or no_auction
    M = np.empty((Ec, Ec) if want_M else (0, 0))
    W = np.empty((Ec, Ec) if want_M else (0, 0), np.int64)
    M2 = np.empty((Ec, Ec) if want_M else (0, 0))
    W2 = np.empty((Ec, Ec) if want_M else (0, 0), np.int64)
    own = np.empty(n if want_M else 0)
    margin = np.empty(n if want_M else 0)
    # From given prices, the exact phase on the rows near a change of column first (``near_exact``).
    near = given and sums_to_n and params[29] > 0.0 and n * E >= params[30]
    solved = False
    x_steps = -1
    arcs_done = False
    # After the steps the auction runs (``balanced_auction_with_steps`` only) above a lower excess (they leave
    # the start close to balanced): auction_above of the rows, and at least auction_above_per_column rows per
    # column (a unit of excess costs the exact phase scans of a column's members, which are few in small
    # problems). For the auction method the steps end on their arc-minima pass only below that excess.
    direct = max(params[23] * n, params[26] * E)
    stop_steps = int(min(params[20] * n, params[21] * np.sqrt(n)))
    arcs_below = int(direct) if method == 1 else n
    if run_steps:
        passes, x_steps, arcs_done = _steps(
            s, sgn, p, E, capx, params, stop_steps, arcs_below, col, cnt, M, W, M2, W2, own, margin
        )
        n_iter += passes
        if x_steps > params[33] * n:  # stalled far from balanced (low-rank scores): exact subsample solves
            n_iter += coarse_prices(s, sgn, p, E, capx, int(params[34]), x_steps, M, W, M2, W2)[0]
            arcs_done = False
    skip_x = direct if x_steps >= 0 else params[9] * n
    # From given prices, for the exact phase alone, or when the auction will not run, the exact phase follows
    # the greedy start directly: then one pass makes both the start and the exact phase's arc minima.
    have_M = given or method == 0 or no_auction or (0 <= x_steps <= skip_x)
    if arcs_done:
        status = STATUS_OK
    elif near:
        best_and_margin(s, sgn, p, E, False, col, margin, own)
        status = greedy_status(col, cnt)
    elif have_M:
        status = greedy_arcs(s, sgn, p, E, has_drop, col, cnt, M, W, M2, W2, own, margin)
    else:
        status = greedy_start(s, sgn, p, E, has_drop, col, cnt)
    if status != STATUS_OK:
        return status, 0.0, 0.0, 0.0, False, n_iter
    # Sinkhorn's potentials, like the steps, can leave low-rank scores far from balanced.
    x_sinkhorn = _excess(capx, cnt) if method == 2 and tol < 0.0 and not have_M and sums_to_n else 0
    if x_sinkhorn > params[33] * n:
        phases, levels = coarse_prices(s, sgn, p, E, capx, int(params[34]), x_sinkhorn, M, W, M2, W2)
        n_iter += phases
        if levels > 0:
            greedy_start(s, sgn, p, E, has_drop, col, cnt)
    # Given prices that leave many rows in excess (stale ones, another problem's) are only a start: from
    # them, the count-balancing steps and the path of a solve without prices. Rows equal to one repeated row
    # (padding tokens) crowd one column from any prices, good ones too (the optimum ties them over many
    # columns): they do not count (looked for only when the excess would otherwise send the solve there).
    x_given = _excess(capx, cnt) if given and sums_to_n and method != 2 else 0
    if x_given > params[32] * n:
        a, r, m = find_block(s, E, capx, col, cnt, np.empty(0, np.int64))
        if r >= 0:
            x_given -= min(m, cnt[a] - capx[a])
    if x_given > params[32] * n:
        if f > 0 and x_given > params[12] * n:
            n_iter += subsample_prices(s, sgn, p, E, capx[0] // f, f, params)
        passes, x_steps, arcs_done = _steps(
            s, sgn, p, E, capx, params, stop_steps, arcs_below, col, cnt, M, W, M2, W2, own, margin
        )
        n_iter += passes
        if x_steps > params[33] * n:
            n_iter += coarse_prices(s, sgn, p, E, capx, int(params[34]), x_steps, M, W, M2, W2)[0]
            arcs_done = False
        if not arcs_done:
            greedy_arcs(s, sgn, p, E, has_drop, col, cnt, M, W, M2, W2, own, margin)
        given = near = False
        skip_x = direct if x_steps >= 0 else params[9] * n
    excess = _excess(capx, cnt)
    # The auction pays off when the greedy start leaves much to move; from close to the optimum (a warm
    # start, nearly balanced scores) the exact phase alone is faster.
    run_auction = (method == 1 and not no_auction and excess > skip_x and not many_ties) or (method == 2 and tol >= 0.0)
    near = near and not run_auction
    # The state of that full scan, for the certificate (``finalize``): its prices and each row's column.
    # After ``near_exact`` that is ``col`` itself, where the rows it moved have margin -inf.
    p0 = p.copy() if have_M else np.empty(0)
    j0 = col.copy() if have_M and not near else np.empty(0, np.int64)
    if run_auction:
        steps, early = _auction(s, sgn, p, E, has_drop, capx, col, cnt, params, tol, -1)
        n_iter += steps
        exact = not early
        have_M = False  # the auction moved rows
    elif near:
        solved, phases = near_exact(s, sgn, p, E, capx, col, cnt, own, margin, params[29])
        n_iter += phases
        if solved:
            j0 = col
        else:
            # The exact phase on the whole problem, from the same start (``near_exact`` left it as it was).
            greedy_arcs(s, sgn, p, E, has_drop, col, cnt, M, W, M2, W2, own, margin)
            j0 = col.copy()
    if exact and not solved:
        place_dummies(p, capx, cnt, dm, n_dummy)
        every_row = np.empty(0, np.int64)
        status, phases = ssp(
            s, sgn, p, E, capx, col, cnt, dm, n + total + 1, M, W, M2, W2, own, have_M, True, every_row
        )
        n_iter += phases
        if status != STATUS_OK:
            return status, 0.0, 0.0, 0.0, False, n_iter
    for i in range(n):
        assignment[i] = col[i] if col[i] < E else -1
    # Each row's score in its column, kept since the full scan when no auction moved rows (its moves do not
    # keep ``own``; the exact phase's do).
    own_kept = own if have_M else np.empty(0)
    obj, bnd, gap = finalize(s, sgn, p, E, has_drop, capx, col, cnt, prices, u, order, counts, p0, j0, margin, own_kept)
    return STATUS_OK, obj, bnd, gap, True, n_iter


_arc_minima_parallel = parallel_variant(arc_minima)
_sample_excess_parallel = parallel_variant(_sample_excess)
_best_and_margin_parallel = parallel_variant(best_and_margin)
_greedy_arcs_parallel = parallel_variant(
    greedy_arcs,
    greedy_then_arcs=parallel_variant(
        greedy_then_arcs,
        parallel=False,
        best_and_margin=_best_and_margin_parallel,
        arc_minima=_arc_minima_parallel,
    ),
)
_steps_parallel = parallel_variant(
    _steps,
    parallel=False,
    balance_prices=parallel_variant(
        balance_prices,
        parallel=False,
        best_and_margin=_best_and_margin_parallel,
        greedy_arcs=_greedy_arcs_parallel,
    ),
)
# One large problem: the same solver whose full passes over the matrix (the greedy start, the arc minima of
# the exact phase and the certificate's row duals) split their rows over the threads.
solve_one_parallel = parallel_variant(
    solve_one,
    parallel=False,
    greedy_start=parallel_variant(greedy_start),
    _sample_excess=_sample_excess_parallel,
    _auction=parallel_variant(
        _auction,
        parallel=False,
        auction=parallel_variant(auction, parallel=False, initial_bids=parallel_variant(initial_bids)),
    ),
    greedy_arcs=_greedy_arcs_parallel,
    best_and_margin=_best_and_margin_parallel,
    near_exact=parallel_variant(
        near_exact,
        parallel=False,
        arc_minima=_arc_minima_parallel,
        _far_rows_stay=parallel_variant(_far_rows_stay),
        _select_near=parallel_variant(_select_near),
    ),
    _steps=_steps_parallel,
    coarse_prices=parallel_variant(coarse_prices, parallel=False, _sample_excess=_sample_excess_parallel),
    subsample_prices=parallel_variant(subsample_prices, parallel=False, _steps=_steps_parallel),
    finalize=parallel_variant(finalize),
    ssp=parallel_variant(ssp, parallel=False, arc_minima=_arc_minima_parallel),
)


def _solve_batch_py(s, sgn, cap, p0, method, tol, params, assignment, order, counts, prices, u, status, stats):
    """B independent problems, outputs indexed by b; stats (B, 5): objective, bound, gap, converged,
    n_iter."""
    for b in numba.prange(s.shape[0]):
        st, obj, bnd, gap, conv, it = solve_one(
            s[b], sgn, cap, p0[b], method, tol, params, assignment[b], order[b], counts[b], prices[b], u[b]
        )
        status[b] = st
        stats[b, 0] = obj
        stats[b, 1] = bnd
        stats[b, 2] = gap
        stats[b, 3] = 1.0 if conv else 0.0
        stats[b, 4] = it


solve_batch = numba.njit(_solve_batch_py, cache=True, nogil=True, parallel=True)


def _params() -> np.ndarray:
    """The tunables of ``_config.CONFIG`` in the order ``solve_one`` reads them."""
    c = CONFIG
    return np.array(
        [
            c["balanced_auction_eps_first"],
            c["balanced_auction_eps_last"],
            c["balanced_auction_eps_theta"],
            c["balanced_auction_steps_per_column"],
            c["balanced_sinkhorn_reg_first"],
            c["balanced_sinkhorn_reg_last"],
            c["balanced_sinkhorn_reg_theta"],
            c["balanced_sinkhorn_iters_per_level"],
            c["balanced_sinkhorn_tol"],
            c["balanced_auction_skip_below"],
            c["balanced_auction_stop_below"],
            c["balanced_auction_max_ties"],
            c["balanced_sample_min_excess"],
            c["balanced_sample_min_capacity"],
            c["balanced_sample_max_factor"],
            c["balanced_sample_stop_below"],
            c["balanced_auction_stop_per_column"],
            c["balanced_prices_max_passes"],
            c["balanced_prices_damp"],
            c["balanced_prices_width"],
            c["balanced_prices_stop_below"],
            c["balanced_prices_stop_sqrt"],
            c["balanced_prices_min_progress"],
            c["balanced_prices_auction_above"],
            c["balanced_prices_max_ties"],
            c["balanced_prices_arcs_slack"],
            c["balanced_prices_auction_above_per_column"],
            c["balanced_sample_min_factor"],
            c["balanced_auction_work_per_row"],
            c["balanced_warm_near_rows"],
            c["balanced_warm_near_min_size"],
            c["balanced_auction_with_steps"],
            c["balanced_given_prices_steps_above"],
            c["balanced_coarse_above"],
            c["balanced_coarse_ratio"],
        ],
        dtype=np.float64,
    )


def solve_balanced(scores: np.ndarray, capacity: np.ndarray, maximize: bool, method: str, tol, prices) -> dict:
    """Host wrapper. ``scores`` (n, E) or (B, n, E) float32/float64, validated except perhaps for its entries
    (the first pass of the kernels finds NaN and infinities of the wrong sign and this raises the
    validation's errors); ``capacity`` (E,) int64 >= 0; ``tol`` None or >= 0; ``prices`` None or float64 (E,) or
    (B, E) in the caller's sense.

    Returns a dict of numpy arrays in the caller's sense: assignment, order, counts, prices, objective,
    bound, gap, converged, n_iter (Python scalars for one problem). Raises ValueError (invalid entries) or
    InfeasibleError.
    """
    sgn = 1.0 if maximize else -1.0
    s = np.ascontiguousarray(scores)
    cap = np.ascontiguousarray(capacity, dtype=np.int64)
    tol_v = -1.0 if not tol else float(tol)  # None and 0 both mean exact
    m = METHODS[method]
    params = _params()
    if s.ndim == 2:
        # One problem: the kernel's own outputs, no batch axis. The host's share of a 2048 x 128 solve is
        # ~10% of it: each array made and each status test here counts.
        n, E = s.shape
        p0 = np.full(E, np.nan) if prices is None else sgn * np.asarray(prices, dtype=np.float64)
        assignment = np.empty(n, np.int64)
        order = np.empty(n, np.int64)
        counts = np.empty(E, np.int64)
        pr = np.empty(E, np.float64)
        u = np.empty(n, np.float64)
        big = n * E >= CONFIG["balanced_parallel_min_size"] and numba.get_num_threads() > 1
        st, obj, bnd, gap, conv, it = (solve_one_parallel if big else solve_one)(
            s, sgn, cap, p0, m, tol_v, params, assignment, order, counts, pr, u
        )
        if st != STATUS_OK:
            _raise_status(np.array([st]), maximize, False)
        return _outputs(sgn, assignment, order, counts, pr, obj, bnd, gap, bool(conv), int(it))
    bsz, n, E = s.shape
    if prices is None:
        p0 = np.full((bsz, E), np.nan)
    else:
        p0 = np.ascontiguousarray(sgn * np.broadcast_to(np.asarray(prices, dtype=np.float64), (bsz, E)))
    assignment = np.empty((bsz, n), np.int64)
    order = np.empty((bsz, n), np.int64)
    counts = np.empty((bsz, E), np.int64)
    pr = np.empty((bsz, E), np.float64)
    u = np.empty((bsz, n), np.float64)
    status = np.zeros(bsz, np.int64)
    stats = np.zeros((bsz, 5))
    if bsz > 0:
        solve_batch(s, sgn, cap, p0, m, tol_v, params, assignment, order, counts, pr, u, status, stats)
    _raise_status(status, maximize, True)
    obj, bnd, gap, conv, it = stats.T
    return _outputs(sgn, assignment, order, counts, pr, obj, bnd, gap, conv > 0, it.astype(np.int64))


def _outputs(sgn, assignment, order, counts, pr, obj, bnd, gap, converged, n_iter) -> dict:
    """The host wrapper's result in the caller's sense (scalars or per-item arrays alike)."""
    return {
        "assignment": assignment,
        "order": order,
        "counts": counts,
        "prices": sgn * pr + 0.0,  # + 0.0: no negative zeros
        "objective": sgn * obj + 0.0,
        "bound": sgn * bnd + 0.0,
        "gap": gap,
        "converged": converged,
        "n_iter": n_iter,
    }


def _raise_status(status: np.ndarray, maximize: bool, batched: bool) -> None:
    """The error of the worst status code, with the host validation's precedence: NaN, then an infinity of
    the wrong sign, then infeasibility (naming the batch items)."""
    for code, nan in ((STATUS_NAN, True), (STATUS_INVALID, False)):
        if (status == code).any():
            raise invalid_scores_error(nan=nan, maximize=maximize)
    bad = np.flatnonzero(status == STATUS_INFEASIBLE)
    if bad.size:
        where = f" (batch items {bad[:10].tolist()})" if batched else ""
        raise InfeasibleError(_INFEASIBLE_MSG + where)
    assert (status == STATUS_OK).all()
