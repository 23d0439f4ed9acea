"""Exact successive shortest paths in column space for the balanced (capacitated) assignment problem.

The working problem is a transportation problem (see ``_balanced_common``): n rows of supply 1, Ec columns
that must each receive exactly ``capx[e]`` units. Its residual graph is never built over rows. Between two
columns a and b the only thing that matters is the cheapest way to move one row from a to b:

    M[a, b] = min over rows i in a of  (score(i, a) - score(i, b))      (price independent)

so that the reduced cost of the arc a -> b is ``M[a, b] - p[a] + p[b] >= 0`` (the invariant: every row sits
in a column of maximal value). Each phase runs Dijkstra over the Ec columns from every over-full column,
raises the prices of the columns it settled so that every shortest-path arc becomes tight (Ahuja, Magnanti
and Orlin, Network Flows, sec. 9.7), and then moves rows along as many tight paths as it finds: a blocking
flow (Dinic) over the arcs that are tight, with the settling order as the levels. A tree arc stays valid
while ``M[a, b]`` has not grown since Dijkstra read it, so validity is checked on the price-independent ``M``
with no floating-point tolerance; an arc off the tree counts where Dijkstra saw a tie (a second column
reaching b at its key, marked in ``pred``) and its sum, the same expression in the same order, still gives
b's distance bit for bit. Each phase moves at least one unit of excess, so the number of phases is at most
the initial excess, whatever the rounding. Real-valued scores give nearly no ties and the search is the walk
up the tree path; small integer scores give many, and a phase moves most of the excess (integer 2048 x 128:
36-40 phases -> 1-6).

``M`` is kept up to date incrementally: a row entering a column can only lower entries of its row of M;
a row leaving marks the entries it might have been the minimum of as stale. A stale entry is still a lower
bound on the true minimum (which only grows when rows leave), so Dijkstra relaxes with it as it is and
makes exact, by a scan over the column's members, only the tree arc of each column it
is about to settle; if that arc grew, the column's distance is recomputed from the settled columns and it
waits its turn again. Relaxing with lower bounds keeps every distance a lower bound, so the price update
keeps every reduced cost >= 0, and the tree arcs used to move rows are exact. ``W[a, b]`` is the row
achieving ``M[a, b]`` (-1: not known yet, -2: a dummy row).

Each fresh arc also keeps its second minimum: ``M2[a, b]``, the least cost over the members of a other than
``W[a, b]``, achieved by row ``W2[a, b]`` (-1: not known). When ``W[a, b]`` leaves a and ``W2[a, b]`` is
known, it takes its place and the arc stays fresh, where it would otherwise be marked stale and rescanned
(a scan of every member of a: most of the exact phase's time went into these). The passes over the matrix
find both minima; a rescan finds both again; a row entering a column can become either; a second that
leaves is forgotten (-1) and not looked for until the next rescan.

Dummy rows (capacities summing to more than n) are counted per column in ``dm``, not listed: one costs
``dv[a] - dv[b]`` to move from a to b (``W`` -2), the same for each, so an arc they achieve stays tight while
it carries them all. ``dv`` is 0 for them; without them, ``ssp`` gives the same treatment to the rows equal to
one repeated row (padding tokens) that crowd one column (``_take_block``), with ``dv`` that row's scores, and
puts them back at the end.
"""

import numba
import numpy as np

from ._balanced_common import (
    FASTMATH,
    PARALLEL,
    best_and_margin,
    checked_argmax,
    greedy_status,
    listed_row,
    listed_rows,
    margin_holds,
    member_slots,
    price_rises,
    row_blocks,
    row_max,
    score,
)
from ._common import INF, STATUS_INFEASIBLE, STATUS_OK, fmin
from ._simd import LANES, TIE, prefetch_row, relax_lanes, relax_scalar, rows_ahead

_UNKNOWN = -1
_DUMMY = -2
_BLOCK_SAMPLE = 32  # members of the most over-full column compared pairwise for identical rows


@numba.njit(cache=True, nogil=True)
def _refresh_arc(a, b, s, sgn, E, mem, lo, hi, own, dm, v, M, W, M2, W2, stale):
    """Recompute M[a, b], its row W[a, b] and the second minimum M2, W2 over the current members of column a
    (no second is kept for a column holding dummy rows; one of them costs ``v[a] - v[b]`` to move).

    M[a, b] is a lower bound of the members' costs (exact, or stale; with dummy rows at most theirs), so once
    two members reach it they are the minimum and the second, the ones the whole scan would find: the scan
    stops there. With tied scores most rescans stop within a few members; all-equal scores made every rescan
    read the whole over-full column, quadratic in n (65536 x 128: 2.7 s, now 28 ms)."""
    lb = M[a, b]
    best = INF
    w = _UNKNOWN
    best2 = INF
    w2 = _UNKNOWN
    for t in range(lo[a], hi[a]):
        i = mem[t]
        x = own[i] - score(s, i, b, sgn, E)
        if x < best:
            best2 = best
            w2 = w
            best = x
            w = i
        elif x < best2:
            best2 = x
            w2 = i
            if x <= lb:
                break  # a second member at the lower bound (best is at it too)
    if dm[a] > 0:
        w2 = _UNKNOWN
        d = v[a] - v[b]
        if d < best:
            best = d
            w = _DUMMY
    M[a, b] = best
    W[a, b] = w
    M2[a, b] = best2
    W2[a, b] = w2
    stale[a, b] = False


@numba.njit(cache=True, nogil=True, inline="always")
def _leave_arcs(s, i, sgn, a, oa, lo, hi, real, M, W, M2, W2, stale):
    """Row i (score ``oa`` in its column a) leaves a: the fresh arcs a -> c, lo <= c < hi, whose minimum it was
    take their known second minimum (and stay fresh) or are marked stale, as are those whose row is not known
    and which i may have been the minimum of; a second minimum that was i is forgotten. Selects, not
    branches: a loop over the row that vectorizes. The columns are the real ones (``real``) or the drop column
    alone (score 0)."""
    for c in range(lo, hi):
        x = sgn * s[i, c] if real else 0.0
        w = W[a, c]
        w2 = W2[a, c]
        live = (c != a) & (not stale[a, c])
        mine = live & (w == i)
        take = mine & (w2 >= 0)  # the second minimum takes over: the arc stays fresh
        mark = live & ((mine & (w2 < 0)) | ((w == _UNKNOWN) & (oa - x <= M[a, c])))
        forget = live & (w != i) & (w2 == i) & (not mark)
        M[a, c] = M2[a, c] if take else M[a, c]
        W[a, c] = w2 if take else w
        W2[a, c] = _UNKNOWN if (take | forget) else w2
        stale[a, c] = stale[a, c] | mark


@numba.njit(cache=True, nogil=True, inline="always")
def _move_row(i, a, b, s, sgn, E, col, cnt, mem, lo, hi, pos, own, M, W, M2, W2, stale):
    """Move real row i from column a to column b and keep the members, M, W, M2, W2 and the stale marks
    consistent."""
    Ec = M.shape[0]
    last = mem[hi[a] - 1]  # the last member of a takes i's slot
    mem[pos[i]] = last
    pos[last] = pos[i]
    hi[a] -= 1
    mem[hi[b]] = i
    pos[i] = hi[b]
    hi[b] += 1
    col[i] = b
    cnt[a] -= 1
    cnt[b] += 1
    oa = own[i]
    _leave_arcs(s, i, sgn, a, oa, 0, E, True, M, W, M2, W2, stale)
    if Ec > E:
        _leave_arcs(s, i, sgn, a, oa, E, Ec, False, M, W, M2, W2, stale)
    ob = score(s, i, b, sgn, E)
    own[i] = ob
    # Also on stale entries: they must stay lower bounds (their W, M2 and W2 are rewritten by the rescan that
    # makes them fresh, and never read before it).
    _arc_row(s, i, sgn, E, Ec, b, ob, M, W, M2, W2, False)
    M[b, b] = INF


@numba.njit(cache=True, nogil=True)
def _move_dummy(a, b, dm, v, M, W, W2, stale):
    """Move one dummy row (score ``v[e]`` in column e) from column a to column b (which then keeps no
    second minima)."""
    Ec = M.shape[0]
    dm[a] -= 1
    dm[b] += 1
    if dm[a] == 0:
        for c in range(Ec):
            if c != a and not stale[a, c]:
                w = W[a, c]
                if w == _DUMMY or (w == _UNKNOWN and M[a, c] >= v[a] - v[c]):
                    stale[a, c] = True
    for c in range(Ec):
        W2[b, c] = _UNKNOWN
        d = v[b] - v[c]
        if c != b and d < M[b, c]:
            M[b, c] = d
            W[b, c] = _DUMMY


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH)
def _first_equal(key, v):
    """The lowest index e with key[e] == v (key.size if none): a branch-free integer min reduction."""
    m = key.shape[0]
    j = m
    for e in range(m):
        c = e if key[e] == v else m
        j = c if c < j else j
    return j


@numba.njit(cache=True, nogil=True, inline="always")
def _lower(t, i, m, w, m2, w2, scratch):
    """(m, w, m2, w2), an arc's minimum, its row, its second minimum and that row, after row i of cost t joins
    the column: where it beats the minimum, the minimum becomes the second and i the minimum; where it beats
    only the second, it becomes the second. ``scratch``: a pass building the minima from +inf and -1 (no row
    yet); otherwise a second that is not known (w2 < 0) stays unknown: some member not seen here may be
    lower. Selects, not branches: loops over it vectorize."""
    first = t < m
    second = (t < m2) & (scratch | (w2 >= 0))
    return (
        t if first else m,
        i if first else w,
        m if first else (t if second else m2),
        w if first else (i if second else w2),
    )


@numba.njit(cache=True, nogil=True)
def _arc_drop(i, a, oa, M, W, M2, W2, scratch):
    """``_arc_row`` for the drop column E (score 0). Apart: in the same function, even untaken, this tail
    slows the loop over the real columns by a third."""
    E = M.shape[0] - 1
    M[a, E], W[a, E], M2[a, E], W2[a, E] = _lower(oa, i, M[a, E], W[a, E], M2[a, E], W2[a, E], scratch)


@numba.njit(cache=True, nogil=True, inline="always")
def _arc_row(s, i, sgn, E, Ec, a, oa, M, W, M2, W2, scratch):
    """Add row i of column a, whose score there is ``oa``, to the minima of M[a, :] (``_lower``)."""
    for b in range(E):
        M[a, b], W[a, b], M2[a, b], W2[a, b] = _lower(
            oa - sgn * s[i, b], i, M[a, b], W[a, b], M2[a, b], W2[a, b], scratch
        )
    if Ec > E:
        _arc_drop(i, a, oa, M, W, M2, W2, scratch)


@numba.njit(cache=True, nogil=True)
def _arc_rows4(s, sgn, E, Ec, a, mem, t, own, M, W, M2, W2):
    """``_arc_row`` of a pass for the members mem[t:t + 4] of column a, in that order: each entry of the
    minima is loaded and stored once for the four rows (the pass is bound by those loads and stores: 1.29 ->
    0.74 ms at 16384 x 128 on two threads)."""
    r0 = mem[t]
    r1 = mem[t + 1]
    r2 = mem[t + 2]
    r3 = mem[t + 3]
    o0 = own[r0]
    o1 = own[r1]
    o2 = own[r2]
    o3 = own[r3]
    for b in range(E):
        m, w, m2, w2 = _lower(o0 - sgn * s[r0, b], r0, M[a, b], W[a, b], M2[a, b], W2[a, b], True)
        m, w, m2, w2 = _lower(o1 - sgn * s[r1, b], r1, m, w, m2, w2, True)
        m, w, m2, w2 = _lower(o2 - sgn * s[r2, b], r2, m, w, m2, w2, True)
        m, w, m2, w2 = _lower(o3 - sgn * s[r3, b], r3, m, w, m2, w2, True)
        M[a, b] = m
        W[a, b] = w
        M2[a, b] = m2
        W2[a, b] = w2
    if Ec > E:
        for r, o in ((r0, o0), (r1, o1), (r2, o2), (r3, o3)):
            _arc_drop(r, a, o, M, W, M2, W2, True)


@numba.njit(cache=True, nogil=True)
def _arc_blocks(n, Ec, parallel):
    """Per-block arc minima, their rows, second minima and their rows for a pass over n rows in
    ``row_blocks``: (M, W, M2, W2), each with the block first, uninitialized (``_clear_block``: each thread
    clears its own block, so that the first touch of the fresh pages runs on the threads)."""
    # Private (Ec, Ec) arrays, merged after the pass: one block per 16384 rows (a block costs more to clear and
    # merge than splitting that pass further gains; 20 warm problems at 16384 x 128: 88.4 -> 82.8 ms with two
    # blocks instead of four).
    nb = row_blocks(n, parallel, 16384)
    return (
        np.empty((nb, Ec, Ec)),
        np.empty((nb, Ec, Ec), np.int64),
        np.empty((nb, Ec, Ec)),
        np.empty((nb, Ec, Ec), np.int64),
    )


@numba.njit(cache=True, nogil=True)
def _clear_block(M, W, M2, W2):
    """No row yet: minima +inf, rows -1."""
    M[:, :] = INF
    W[:, :] = _UNKNOWN
    M2[:, :] = INF
    W2[:, :] = _UNKNOWN


@numba.njit(cache=True, nogil=True)
def _merge_blocks(bm, bw, bm2, bw2, M, W, M2, W2):
    """M, W, M2, W2 of the whole pass from those of its blocks: the two lowest (cost, row) pairs, in that
    order, of each arc, which is what a serial pass in row order finds (a later row must be strictly lower
    to win, and every row of a later block comes later)."""
    M[:, :] = bm[0]
    W[:, :] = bw[0]
    M2[:, :] = bm2[0]
    W2[:, :] = bw2[0]
    for c in range(1, bm.shape[0]):
        for a in range(M.shape[0]):
            for b in range(M.shape[1]):
                m, w, m2, w2 = _lower(bm[c, a, b], bw[c, a, b], M[a, b], W[a, b], M2[a, b], W2[a, b], True)
                M[a, b], W[a, b], M2[a, b], W2[a, b] = _lower(bm2[c, a, b], bw2[c, a, b], m, w, m2, w2, True)


@numba.njit(cache=True, nogil=True)
def arc_minima(s, sgn, E, Ec, mem, lo, hi, own, M, W, M2, W2):
    """M[a, b] = min over the rows i in column a of (own[i] - score(i, b)) (+inf where a has no row) and
    W[a, b] the lowest row achieving it (-1 if none), and the second minima M2, W2; writes own[i], the score
    of each row in its column. One pass over the matrix, column by column over the members
    ``mem[lo[a]:hi[a]]`` (in row order), the columns split over the threads when ``PARALLEL`` (each row of
    M written by one thread: no private copies to merge)."""
    ahead = rows_ahead(s)
    for a in numba.prange(Ec):
        _clear_block(M[a : a + 1], W[a : a + 1], M2[a : a + 1], W2[a : a + 1])
        for t in range(lo[a], hi[a]):
            i = mem[t]
            own[i] = score(s, i, a, sgn, E)
        for t in range(lo[a], min(lo[a] + ahead, hi[a])):
            prefetch_row(s, mem[t])
        t = lo[a]
        while t + 4 <= hi[a]:
            # A column's members lie anywhere in the matrix: the hardware cannot guess them.
            for k in range(t + ahead, min(t + ahead + 4, hi[a])):
                prefetch_row(s, mem[k])
            _arc_rows4(s, sgn, E, Ec, a, mem, t, own, M, W, M2, W2)
            t += 4
        while t < hi[a]:
            i = mem[t]
            _arc_row(s, i, sgn, E, Ec, a, own[i], M, W, M2, W2, True)
            t += 1


@numba.njit(cache=True, nogil=True)
def greedy_then_arcs(s, sgn, p, E, has_drop, col, cnt, M, W, M2, W2, own, margin):
    """``greedy_arcs`` in two passes that split over the threads: the greedy start over the rows, then
    ``arc_minima`` over the columns. For one problem too small for ``greedy_arcs``' private blocks (fewer
    than 16384 rows: it would run on one thread) whose matrix is in cache: 2048 x 128 0.38 -> 0.17 ms, 8192 x
    128 1.37 -> 0.75 ms. The same output: arc_minima takes each column's members in row order, as the single
    pass does."""
    best_and_margin(s, sgn, p, E, has_drop, col, margin, own[:0])
    status = greedy_status(col, cnt)
    if status == STATUS_OK:
        mem, lo, hi, _, _ = member_slots(col, cnt, cnt, False, np.empty(0, np.int64))
        arc_minima(s, sgn, E, M.shape[0], mem, lo, hi, own, M, W, M2, W2)
    return status


# The fused pass updates the arcs out of each row's column as it reads the row: the (Ec, Ec) minima, their rows
# and second minima, 32 Ec^2 bytes per block, must stay in cache. Beyond 256 columns (2 MB) the two passes of
# ``greedy_then_arcs``, whose arc pass reads the rows column by column, measured faster (medians of 7,
# interleaved, seventeenth session; on the threads: 16384 x 384 7.3 -> 5.8 ms, x 512 8.7 -> 4.6, x 1024
# 27.3 -> 9.9, 65536 x 512 23.5 -> 18.8, x 1024 73.6 -> 31.1; serial: 2048 x 512 4.2 -> 0.8, 8192 x 1024
# 23.6 -> 8.9), at 256 columns mixed (16384 x 256 1.78 -> 1.58 ms, 65536 x 256 6.8 -> 10.7).
_FUSED_MAX_COLUMNS = 256


@numba.njit(cache=True, nogil=True)
def greedy_arcs(s, sgn, p, E, has_drop, col, cnt, M, W, M2, W2, own, margin):
    """``greedy_start`` and the ``arc_minima`` of the state it makes, in one pass (each row is read from
    memory once): for a warm start or the hungarian method, where the exact phase follows the greedy start
    directly. Writes M, W, M2, W2 (Ec, Ec), ``own`` (n,), each row's score in its column, and, without a drop
    column, ``margin`` (n,), how far its best value exceeds its second best (for ``finalize``); returns
    greedy_start's status. On the threads with fewer than 16384 rows (one private block), and with more than
    ``_FUSED_MAX_COLUMNS`` columns, it runs as ``greedy_then_arcs`` instead: the same output from two passes
    (that both split over the threads)."""
    n = s.shape[0]
    Ec = M.shape[0]
    if Ec > _FUSED_MAX_COLUMNS or (PARALLEL and row_blocks(n, PARALLEL, 16384) == 1):
        return greedy_then_arcs(s, sgn, p, E, has_drop, col, cnt, M, W, M2, W2, own, margin)
    bm, bw, bm2, bw2 = _arc_blocks(n, Ec, PARALLEL)
    nb = bm.shape[0]
    ahead = rows_ahead(s)
    for c in numba.prange(nb):
        _clear_block(bm[c], bw[c], bm2[c], bw2[c])
        # Rows wait in a column's queue until it holds four, which then join the minima together
        # (``_arc_rows4``: a quarter of the loads and stores) while still in cache; in row order per column,
        # so the minima are those of a pass one row at a time.
        queue = np.empty((Ec, 4), np.int64)
        nq = np.zeros(Ec, np.int64)
        for i in range(c * n // nb, (c + 1) * n // nb):
            prefetch_row(s, i + ahead)
            bad, j, v, w = checked_argmax(s, i, sgn, p, E, has_drop)
            if bad:
                col[i] = -1 - bad
                continue
            col[i] = j
            if j >= 0:
                own[i] = score(s, i, j, sgn, E)
                if not has_drop:
                    margin[i] = v - w
                queue[j, nq[j]] = i
                nq[j] += 1
                if nq[j] == 4:
                    _arc_rows4(s, sgn, E, Ec, j, queue[j], 0, own, bm[c], bw[c], bm2[c], bw2[c])
                    nq[j] = 0
        for a in range(Ec):
            for k in range(nq[a]):
                i = queue[a, k]
                _arc_row(s, i, sgn, E, Ec, a, own[i], bm[c], bw[c], bm2[c], bw2[c], True)
    _merge_blocks(bm, bw, bm2, bw2, M, W, M2, W2)
    return greedy_status(col, cnt)


@numba.njit(cache=True, nogil=True)
def _margin_quantile(margin, q):
    """About the q-quantile of ``margin``, from 1024 of its entries: 128 runs of 8 consecutive ones (a cache
    line each) spread over it. The pass that wrote ``margin`` ran on the threads, so half of its lines sit in
    another core's cache: 4096 entries one in four (every line) took ~40 us in a warm solve at 16384 x 128,
    most of it fetching those lines."""
    n = margin.shape[0]
    run = 8
    runs = 128
    if n <= run * runs:
        x = margin.copy()
    else:
        x = np.empty(run * runs)
        step = n // runs
        for r in range(runs):
            at = (r * step) // run * run
            for t in range(run):
                x[r * run + t] = margin[at + t]
    m = x.shape[0]
    k = min(m - 1, int(q * m))
    return np.partition(x, k)[k]


@numba.njit(cache=True, nogil=True)
def _far_rows_stay(s, sgn, p, p0, E, capx, col, own, margin, col_near):
    """Whether every row i with ``col_near[i] < 0`` is still in a column of maximal value under ``p``. Such a
    row has not moved since the scan that found its margin at ``p0``: where ``margin_holds`` (the proof
    ``finalize`` uses) it still is; elsewhere a scan of its row tells."""
    n = s.shape[0]
    _, least, scale = price_rises(p, p0, capx, E)  # the exact phase only raises prices
    bad = 0
    for i in numba.prange(n):
        if col_near[i] < 0:
            a = col[i]
            x = own[i]
            if not margin_holds(margin[i], p[a] - p0[a], least, x, scale):
                bad += row_max(s, i, sgn, p, E) > x - p[a]
    return bad == 0


@numba.njit(cache=True, nogil=True)
def _select_near(col, margin, theta, E, col_near, rows, cnt_near):
    """The rows of ``near_exact``'s smaller problem, those whose margin is at most ``theta``: col_near[i] =
    col[i] for them and -1 for the others, rows[:m] the m of them in row order, cnt_near their count per
    column. Returns m. In row blocks on the threads when ``PARALLEL``, split as the pass that wrote ``col``
    and ``margin`` split them, so that each thread reads the lines it wrote (one serial loop over 16384 rows,
    half of them in the other core's cache, took ~20 us)."""
    n = col.shape[0]
    nb = row_blocks(n, PARALLEL, 2048)
    counts = np.zeros((nb, E), np.int64)
    found = np.empty(nb, np.int64)
    for c in numba.prange(nb):
        start = c * n // nb
        k = start
        for i in range(start, (c + 1) * n // nb):
            a = col[i]
            if margin[i] <= theta:
                col_near[i] = a
                rows[k] = i
                k += 1
                counts[c, a] += 1
            else:
                col_near[i] = -1
        found[c] = k - start
    m = 0
    for c in range(nb):
        start = c * n // nb
        for t in range(found[c]):
            rows[m] = rows[start + t]  # m <= start + t: a forward copy
            m += 1
    cnt_near[:] = 0
    for c in range(nb):
        for e in range(E):
            cnt_near[e] += counts[c, e]
    return m


@numba.njit(cache=True, nogil=True)
def near_exact(s, sgn, p, E, capx, col, cnt, own, margin, q):
    """The exact phase from prices close to optimal (a warm start), on the rows near a change of column alone.

    Precondition: ``best_and_margin`` (with ``own``) and ``greedy_status`` at ``p``; E columns whose
    capacities ``capx`` sum to n (no drop column, no dummy rows). A row whose margin, best value minus second
    best, exceeds every price change of the solve stays in its column. So ``ssp`` solves from ``p`` the
    smaller problem of the rows whose margin is at most the q-quantile of the margins, with the capacities
    the others leave (its arc minima over those rows alone: 16384 x 128 from warm prices, an eighth of the
    rows); then every other row is checked to be still in a column of maximal value under the new prices
    (``_far_rows_stay``). If so, the state is optimal for the whole problem: with the prices, every row in a
    best column, every column full. If not (or if the other rows over-fill a column, or the smaller problem
    is infeasible), the same from the initial state with twice the quantile, up to half of the rows.

    Returns (done, phases). ``done``: ``col``, ``cnt``, ``own`` and ``p`` hold that optimal state, and the
    rows it moved have ``margin`` -inf (no longer in their best column at the initial prices: ``finalize``
    scans them rather than trust a margin); else all of these are as they were and the caller runs the exact
    phase on the whole problem."""
    n = s.shape[0]
    if n == 0:
        return True, 0
    p0 = p.copy()
    # The smaller problem in place: its rows keep their column in ``col_near``, the others have -1 there, and
    # ``rows`` lists them (no copy of its rows, which ``ssp`` reads where they are).
    col_near = np.empty(n, np.int64)
    rows_all = np.empty(n, np.int64)
    cnt_near = np.empty(E, np.int64)
    cap_near = np.empty(E, np.int64)
    M = np.empty((E, E))
    W = np.empty((E, E), np.int64)
    M2 = np.empty((E, E))
    W2 = np.empty((E, E), np.int64)
    dm = np.zeros(E, np.int64)
    phases = 0
    while q < 0.5:
        theta = _margin_quantile(margin, q)
        q *= 2.0
        m = _select_near(col, margin, theta, E, col_near, rows_all, cnt_near)
        rows = rows_all[:m]
        fits = True
        for e in range(E):
            cap_near[e] = capx[e] - (cnt[e] - cnt_near[e])
            fits = fits and cap_near[e] >= 0
        if not fits:
            continue  # the other rows alone over-fill a column
        if m == 0:
            return True, phases  # every column full with rows that stay
        mem, lo, hi, _, _ = member_slots(col_near, cnt_near, cnt_near, False, rows)
        arc_minima(s, sgn, E, E, mem, lo, hi, own, M, W, M2, W2)
        status, ph = ssp(s, sgn, p, E, cap_near, col_near, cnt_near, dm, m + 1, M, W, M2, W2, own, True, True, rows)
        phases += ph
        if status == STATUS_OK and _far_rows_stay(s, sgn, p, p0, E, capx, col, own, margin, col_near):
            for i in rows:
                if col_near[i] != col[i]:
                    col[i] = col_near[i]
                    margin[i] = -INF  # no longer in its best column at p0: ``finalize`` scans its row
            cnt[:] = capx
            return True, phases
        # Back to the initial state (``ssp`` moved rows in ``col_near`` and ``own``, and raised prices).
        p[:] = p0
        for i in rows:
            own[i] = score(s, i, col[i], sgn, E)
    return False, phases


@numba.njit(cache=True, nogil=True, inline="always")
def _relax(M, e, de, pe, p, key, pred, ties):
    """Dijkstra's step from column e, settled at distance ``de`` with price ``pe``: relax its arcs to the
    columns not settled (key not NaN) over reduced costs ``M[e, b] - pe + p[b]`` (clipped at 0: stale entries
    are lower bounds), updating ``key`` and ``pred``. Returns (mn, j): the least key and the lowest column
    holding it, the next to settle; ``ties``: marks the columns reached again at their key (``TIE`` in
    ``pred``). One vector pass (``_simd.relax_lanes``), then the last ``Ec % LANES`` columns; it replaced a
    select-based loop and a second pass for the minimum's index (per settled column at 2048 x 128: ~250 ->
    ~170 cycles with the NaN keys)."""
    Ec = key.shape[0]
    n = Ec - Ec % LANES
    mn, j = relax_lanes(M, e, de, pe, p, key, pred, n, ties)
    return relax_scalar(M, e, de, pe, p, key, pred, n, Ec, mn, j, ties)


@numba.njit(cache=True, nogil=True)
def _same_row(s, i, r, E):
    """Whether rows i and r of ``s`` hold equal entries (stops at the first that differs)."""
    for e in range(E):
        if s[i, e] != s[r, e]:
            return False
    return True


@numba.njit(cache=True, nogil=True)
def find_block(s, E, capx, col, cnt, rows):
    """(a, r, m): a column holding rows equal to one repeated row (padding tokens) in excess, r the first of
    them and m their number (r = -1: none). Looked for only in the most over-full column, when it holds a
    quarter of its capacity or more in excess, among its first ``_BLOCK_SAMPLE`` members (compared
    pairwise): on other scores it costs a few comparisons at most. ``rows``: where to look, in row order
    (empty: every row; ``listed_rows``)."""
    n = listed_rows(rows, s.shape[0])
    Ec = capx.shape[0]
    a = 0
    for e in range(Ec):
        if cnt[e] - capx[e] > cnt[a] - capx[a]:
            a = e
    x = cnt[a] - capx[a]
    if x < 2 or 4 * x < capx[a] or a >= E:
        return a, -1, 0
    first = np.empty(_BLOCK_SAMPLE, np.int64)
    k = 0
    for t in range(n):
        i = listed_row(rows, t)
        if col[i] == a:
            first[k] = i
            k += 1
            if k == _BLOCK_SAMPLE:
                break
    r = -1
    for j in range(k):
        for j2 in range(j + 1, k):
            if r < 0 and _same_row(s, first[j], first[j2], E):
                r = first[j]
    if r < 0:
        return a, -1, 0
    m = 0
    for t in range(_place_of(rows, r), n):
        i = listed_row(rows, t)
        m += col[i] == a and _same_row(s, i, r, E)
    return a, r, m


@numba.njit(cache=True, nogil=True, inline="always")
def _place_of(rows, r):
    """The place of row r in a loop over ``rows`` (``listed_rows``; r must be listed)."""
    return np.searchsorted(rows, r) if rows.shape[0] > 0 else r


@numba.njit(cache=True, nogil=True)
def _take_block(s, sgn, E, capx, col, cnt, dm, v, rows):
    """Identical rows (padding tokens, a repeated row; ``find_block``) as dummy rows: they leave the real
    rows (``col`` -1, ``cnt`` lowered) and are counted in ``dm``, with scores ``v`` (their row; 0 in the drop
    column). Returns their rows, in row order (empty: none).

    Rescans of their column then read its real members only. As real rows, every rescan of an arc out of
    it read all of them, and found no two at the lower bound (a real row was the minimum): 65536 x 128 with
    30% of the rows one repeated row read ~390 million members in ~1760 phases, most of its 200 ms. The
    phases stay as many (the shortest paths leave the column through its real rows); they cost a third."""
    a, r, m = find_block(s, E, capx, col, cnt, rows)
    block = np.empty(m, np.int64)
    if r < 0:
        return block
    m = 0
    for t in range(_place_of(rows, r), listed_rows(rows, s.shape[0])):
        i = listed_row(rows, t)
        if col[i] == a and _same_row(s, i, r, E):
            block[m] = i
            m += 1
            col[i] = -1
    cnt[a] -= m
    dm[a] = m
    for e in range(E):
        v[e] = sgn * s[r, e]
    return block


@numba.njit(cache=True, nogil=True)
def ssp(
    s, sgn, p, E, capx, col, cnt, dm, max_phases, M_given, W_given, M2_given, W2_given, own_given, have_M, blocks, rows
):
    """Make the state optimal: move rows between columns along shortest paths until no column is over-full.

    Precondition: the invariant of ``_balanced_common`` (every row in a column of maximal value, dummy rows
    in columns of minimal price) and ``sum(cnt + dm) == sum(capx)``. ``p``, ``col``, ``cnt`` and ``dm`` are
    updated in place. ``M_given``, ``W_given``, ``M2_given``, ``W2_given`` (Ec, Ec) and ``own_given`` (n,),
    used and overwritten when ``have_M``: the arc minima of this very state, their rows, the second minima
    and each row's score in its column (``greedy_arcs``). Returns (status, phases): STATUS_INFEASIBLE
    when an over-full column can reach no column with room through allowed pairs; ``max_phases`` only guards
    against bugs (the number of phases is at most the initial excess). ``blocks``: without dummy rows,
    identical rows crowding one column move as dummy rows (``_take_block``), put back in row order at the end.
    ``rows``: the rows of the problem, in row order, the others having ``col`` -1 (empty: every row; the
    smaller problem of ``near_exact``).
    """
    n = s.shape[0]
    Ec = p.shape[0]
    excess = 0
    for e in range(Ec):
        x = cnt[e] + dm[e] - capx[e]
        if x > 0:
            excess += x
    if excess == 0:
        return STATUS_OK, 0
    dv = np.zeros(Ec)  # the dummy rows' scores: 0, or a block of identical rows'
    block = np.empty(0, np.int64)
    if blocks:
        none = True
        for e in range(Ec):
            none = none and dm[e] == 0
        if none:
            block = _take_block(s, sgn, E, capx, col, cnt, dm, dv, rows)

    # Members of each column in contiguous slots with room for max(cnt[a], capx[a]) of them: a column on a
    # path gives a row for each one it takes and a target only fills up to its capacity, so no column ever
    # holds more. own[i] = score of row i in its column.
    mem, lo, hi, _, pos = member_slots(col, cnt, capx, False, rows)
    own = own_given if have_M else np.empty(n, np.float64)

    # M and the rows W achieving it from one pass over the matrix, or from the greedy pass that made this
    # state (``have_M``: greedy_arcs).
    if have_M:
        M, W, M2, W2 = M_given, W_given, M2_given, W2_given
    else:
        M = np.empty((Ec, Ec))
        W = np.empty((Ec, Ec), np.int64)
        M2 = np.empty((Ec, Ec))
        W2 = np.empty((Ec, Ec), np.int64)
        arc_minima(s, sgn, E, Ec, mem, lo, hi, own, M, W, M2, W2)
    stale = np.zeros((Ec, Ec), np.bool_)
    for a in range(Ec):
        if dm[a] > 0:
            for b in range(Ec):
                W2[a, b] = _UNKNOWN
                w = W[a, b]
                d = dv[a] - dv[b]
                if d < M[a, b] or (w >= 0 and col[w] < 0):  # (a block's row: the same cost)
                    M[a, b] = d
                    W[a, b] = _DUMMY
        M[a, a] = INF

    key = np.empty(Ec)  # distance of each column not settled yet (+inf: not reached), NaN once settled
    tight = np.empty(Ec)
    pred = np.empty(Ec, np.int64)
    targets = np.empty(Ec, np.int64)
    settled = np.empty(Ec, np.int64)
    sdist = np.empty(Ec)  # distance of each settled column, in settling order
    # The moves' search (step 3), over the settled columns: the place of each in the settling order (its
    # distance is ``sdist[rank[b]]``), its price in Dijkstra, the next arc into it to try and whether it can
    # still be reached.
    rank = np.empty(Ec, np.int64)
    pold = np.empty(Ec)
    cur = np.empty(Ec, np.int64)
    dead = np.empty(Ec, np.bool_)
    path = np.empty(Ec, np.int64)
    # Dijkstra marks ties (``TIE``) from the first phase on, and again after each phase that saw some: real-valued
    # scores give about one in a thousand settled columns, and then the marks (~5% of the exact phase) stop.
    ties = True
    phases = 0
    while excess > 0:
        if phases >= max_phases:
            return STATUS_INFEASIBLE, phases  # pragma: no cover - unreachable by the bound above
        phases += 1
        # 1. Dijkstra from all over-full columns over reduced costs M[a, b] - p[a] + p[b] >= 0. As in the
        # Hungarian kernel, each settled column costs one branch-free pass over the columns that relaxes its
        # arcs and finds the next minimum (ties go to the lowest column index).
        mn = INF
        for e in range(Ec):
            x = 0.0 if cnt[e] + dm[e] > capx[e] else INF
            key[e] = x
            pred[e] = -1
            mn = fmin(mn, x)
        n_targets = 0
        n_settled = 0
        n_ties = 0
        room = 0
        e = _first_equal(key, mn)
        while mn < INF:
            a = pred[e]
            if a >= TIE:
                a -= TIE
                n_ties += 1
            if a >= 0:
                # Stale entries of M are lower bounds (a minimum only grows when rows leave), which Dijkstra
                # may relax with; before e is settled its tree arc is made exact, and if it grew, e's
                # distance is recomputed over the settled columns and e waits its turn again. (No other
                # entry of M changes during Dijkstra: its tree arc still holds the value e was relaxed with.)
                if stale[a, e]:
                    relaxed = M[a, e]
                    _refresh_arc(a, e, s, sgn, E, mem, lo, hi, own, dm, dv, M, W, M2, W2, stale)
                    if M[a, e] > relaxed:
                        best = INF
                        a = -1
                        tie = 0
                        pe = p[e]
                        for k in range(n_settled):
                            c = settled[k]
                            rc = M[c, e] - p[c] + pe
                            v = sdist[k] + (rc if rc > 0.0 else 0.0)
                            if v < best:
                                best = v
                                a = c
                                tie = 0
                            elif v == best:
                                tie = TIE
                        key[e] = best
                        pred[e] = a + tie if a >= 0 else a
                        mn = INF
                        for b in range(Ec):
                            mn = key[b] if key[b] < mn else mn  # NaN (settled) never below
                        e = _first_equal(key, mn)
                        continue
                tight[e] = M[a, e]  # the arc's cost when e is settled, for the moves' check
            de = mn
            key[e] = np.nan
            settled[n_settled] = e
            sdist[n_settled] = de
            n_settled += 1
            r = capx[e] - cnt[e] - dm[e]
            if r > 0:
                targets[n_targets] = e
                n_targets += 1
                room += r
                if room >= excess:
                    break  # enough room found for every unit of excess
            mn, e = _relax(M, e, de, p[e], p, key, pred, ties)
        if n_targets == 0:
            return STATUS_INFEASIBLE, phases
        ties = n_ties > 0
        # 2. Prices: every arc on a shortest path to a settled column becomes tight, all others stay >= 0.
        for k in range(n_settled):
            b = settled[k]
            rank[b] = k
            pold[b] = p[b]
            cur[b] = -1
            dead[b] = False
        dmax = sdist[n_settled - 1]
        for k in range(n_settled):
            p[settled[k]] += dmax - sdist[k]
        # 3. Moves (Dinic's blocking flow, with the settling order as the levels): for each target, a search
        # back from it over arcs still tight to a column still over-full, then one unit along the path found.
        # The arcs into a column b are tried in turn from ``cur[b]`` (-1: its tree arc, k >= 0: the arc from
        # the k-th settled column), which stays on an arc while it carries units; a column with no arc left is
        # dead for the phase. The tree arc is tight while M[a, b] has not grown past ``tight[b]``. The others,
        # tried only where Dijkstra marked a tie at b, when Dijkstra's own sum gives b's distance, bit for
        # bit: with small integer scores most are (integer 2048 x 128: ~40 -> 1-6 phases), with real-valued
        # ones nearly none (1-3 per solve at base 2048 x 128), and the search is the walk up the tree path.
        # Written out: a call per arc of a function with many array arguments cost ~400 cycles, a third of
        # the exact phase at 2048 x 128.
        for k in range(n_targets):
            t = targets[k]
            while capx[t] - cnt[t] - dm[t] > 0 and excess > 0 and not dead[t]:
                depth = 0
                path[0] = t
                while depth >= 0:
                    b = path[depth]
                    if depth > 0 and cnt[b] + dm[b] > capx[b]:
                        break  # the path is found
                    q = pred[b]
                    tree = q - TIE if q >= TIE else q
                    last = rank[b] if q >= TIE else 0
                    a = -1
                    while a < 0 and cur[b] < last:
                        kk = cur[b]
                        c = tree if kk < 0 else settled[kk]
                        if kk < 0 and c >= 0 and not dead[c]:
                            if stale[c, b] or W[c, b] == _UNKNOWN:
                                _refresh_arc(c, b, s, sgn, E, mem, lo, hi, own, dm, dv, M, W, M2, W2, stale)
                            if M[c, b] <= tight[b]:
                                a = c
                        elif kk >= 0 and c != tree and not dead[c]:
                            dc = sdist[rank[c]]
                            db = sdist[rank[b]]
                            rc = M[c, b] - pold[c] + pold[b]
                            if dc + (rc if rc > 0.0 else 0.0) == db and (stale[c, b] or W[c, b] == _UNKNOWN):
                                # A lower bound that looks tight: made exact, then tested again.
                                _refresh_arc(c, b, s, sgn, E, mem, lo, hi, own, dm, dv, M, W, M2, W2, stale)
                                rc = M[c, b] - pold[c] + pold[b]
                            if dc + (rc if rc > 0.0 else 0.0) == db:
                                a = c
                        if a < 0:
                            cur[b] = kk + 1
                    if a < 0:
                        dead[b] = True  # the search backs up
                        depth -= 1
                    else:
                        if W[a, b] >= 0:
                            prefetch_row(s, W[a, b])  # the rows of a path then load together, not in turn
                        depth += 1
                        path[depth] = a
                if depth < 0:
                    break
                for d in range(depth):
                    b = path[d]
                    a = path[d + 1]
                    w = W[a, b]
                    if w == _DUMMY:
                        _move_dummy(a, b, dm, dv, M, W, W2, stale)
                    else:
                        _move_row(w, a, b, s, sgn, E, col, cnt, mem, lo, hi, pos, own, M, W, M2, W2, stale)
                excess -= 1
    if block.shape[0] > 0:
        # The block's rows back, in row order over the columns in order.
        k = 0
        for e in range(Ec):
            for _ in range(dm[e]):
                i = block[k]
                k += 1
                col[i] = e
                own[i] = dv[e]
                cnt[e] += 1
            dm[e] = 0
    return STATUS_OK, phases
