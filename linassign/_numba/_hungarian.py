"""Exact dense linear assignment: Jonker-Volgenant shortest augmenting paths (numba).

Jonker & Volgenant (1987) "A shortest augmenting path algorithm for dense and sparse linear assignment
problems", Computing 38, with the rectangular treatment of Crouse (2016) "On implementing 2D rectangular
assignment algorithms", IEEE TAES 52. Phases, for an n-by-m cost with n <= m:

1. square only: column reduction, reduction transfer and two passes of augmenting row reduction, which
   usually leave few rows unassigned; rectangular: v = 0 and a greedy match of each row to its cheapest
   column (keeps v <= 0, as the rectangular dual requires);
2. for every row still free, Dijkstra on reduced costs ``c[i, j] - v[j]`` until a free column is reached,
   then an augmentation and a price update of the scanned columns.

The hot loops are branch-free SIMD passes over whole rows (see ``_row_top2`` and ``_augment``): they beat
the scalar top-2 scan and the column lists of the classic implementation at every size measured.

Invariant between phases: every assigned row i sits on a column minimizing ``c[i, j] - v[j]`` (so the
row dual ``u[i] = c[i, x[i]] - v[x[i]]`` is dual feasible and tight), and free columns keep ``v = 0`` in the
rectangular case. The kernel works in the minimize orientation on ``sign * c`` so that maximize needs no copy.
"""

import numba
import numpy as np

from ._common import INF, STATUS_INFEASIBLE, STATUS_INVALID, STATUS_OK, STATUS_RESCALE, fmax, fmin

# ----------------------------------------------------------------------------------------------------------
# Row scans. The augmenting row reduction and the shortest paths spend nearly all their time in scans over
# whole rows (two smallest reduced costs; minimum distance and relaxation). Branchy single passes cannot be
# vectorized, so each scan is split into branch-free SIMD passes: min/max reductions (fmin/fmax), then an
# exact look-up of the winner by integer min reductions, with the tie rule of a sequential scan (the first
# index wins). Each pass is a function of its own: LLVM vectorizes it when it compiles that function.
# ----------------------------------------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _row_min(c, i, v, sign, lo, hi):
    """min over j in [lo, hi) of ``sign * c[i, j] - v[j]`` (INF for an empty range). A SIMD reduction."""
    mn = INF
    for j in range(lo, hi):
        mn = fmin(mn, sign * c[i, j] - v[j])
    return mn


@numba.njit(cache=True, nogil=True)
def _row_top2(c, i, v, sign, h):
    """The two smallest reduced costs ``h[j] = sign * c[i, j] - v[j]`` of row i: (umin, j1, usub) with j1 the
    first index of umin and usub the smallest value at any other index (umin again on a tie, INF if none),
    as a sequential scan with strict comparisons finds them.

    h : (m,) float64 scratch, out: the row's reduced costs (to look up the second index on a tie).
    Two branch-free SIMD passes; a sequential top-2 scan mispredicts its branches on the near-ties that the
    reduction creates and measured 1.6x slower in the kernel. The second minimum is the smallest value above
    umin; the row maximum, not +inf, stands in for the values at umin, because LLVM folds a min with a
    constant +inf arm into a select that it no longer recognizes as a min reduction (no SIMD).
    """
    m = h.size
    umin = INF
    umax = -INF
    for j in range(m):
        hj = sign * c[i, j] - v[j]
        h[j] = hj
        umin = fmin(umin, hj)
        umax = fmax(umax, hj)
    usub = INF
    j1 = m
    ties = 0
    for j in range(m):
        hj = h[j]
        usub = fmin(usub, hj if hj > umin else umax)
        at_min = hj == umin
        j1 = min(j1, j if at_min else m)
        ties += at_min
    if ties > 1:
        usub = umin
    elif m == 1:
        usub = INF
    return umin, j1, usub


@numba.njit(cache=True, nogil=True)
def _first_at(key, y, mn):
    """(first j with key[j] == mn, first such j with y[j] < 0), m where there is none. SIMD integer min
    reductions (a function of its own: written inline in the Dijkstra loop, LLVM left it scalar, 2x slower)."""
    m = key.size
    jmin = m
    jfree = m
    for j in range(m):
        at = key[j] == mn
        jmin = min(jmin, j if at else m)
        jfree = min(jfree, j if at & (y[j] < 0) else m)
    return jmin, jfree


@numba.njit(cache=True, nogil=True)
def _augment(c, sign, f, x, y, v, key, pred, todo, scols, sdist):
    """One shortest augmenting path from free row f (Dijkstra on reduced costs ``c[i, j] - v[j]``), then the
    price update of the scanned columns and the augmentation. Returns False if no free column is reachable.

    Each scanned column costs two branch-free SIMD passes over all m columns (find the first column at the
    minimum distance, preferring a free one; relax the arcs of its row while computing the next minimum).
    JV's column lists touch only the unscanned columns but in scalar, branchy code: the dense passes measured
    1.4-2.5x faster at every size from 64 to 4000 (uniform and geometric costs). Same arithmetic as JV, so
    the same exact duals; ties go to the lowest column index.

    key : (m,) float64, distance of each unscanned column (+INF once scanned).  pred : (m,) int64, the row
    that reached each column.  todo : (m,) int64, 1 while a column is unscanned.  scols, sdist : (m,) the
    scanned columns and their distances. All scratch.
    """
    m = key.size
    mn = INF  # the smallest key, kept up to date by the pass that changes the keys
    for j in range(m):
        kj = sign * c[f, j] - v[j]
        key[j] = kj
        pred[j] = f
        todo[j] = 1
        mn = fmin(mn, kj)
    nscan = 0
    while True:
        if mn == INF:
            return False
        jmin, jfree = _first_at(key, y, mn)
        if jfree < m:
            break
        # Scan jmin: relax the arcs out of the row that holds it, and find the next minimum in the same pass.
        j1 = jmin
        scols[nscan] = j1
        sdist[nscan] = mn
        nscan += 1
        key[j1] = INF
        todo[j1] = 0
        i = y[j1]
        h = sign * c[i, j1] - v[j1] - mn
        mn_next = INF
        for j in range(m):
            v2 = sign * c[i, j] - v[j] - h
            kj = key[j]
            upd = (todo[j] != 0) & (v2 < kj)
            kj = v2 if upd else kj
            key[j] = kj
            pred[j] = i if upd else pred[j]
            mn_next = fmin(mn_next, kj)
        mn = mn_next
    # Price update of the scanned columns keeps every assigned row on a cheapest column.
    for t in range(nscan):
        v[scols[t]] += sdist[t] - mn
    # Augment along the alternating path back to f.
    endofpath = jfree
    while True:
        i = pred[endofpath]
        y[endofpath] = i
        j1 = endofpath
        endofpath = x[i]
        x[i] = j1
        if i == f:
            break
    return True


@numba.njit(cache=True, nogil=True)
def lapjv(c, sign, arr_steps_per_row, limit, x, y, u, v):
    """Solve min sum sign*c[i, x[i]] over injective x, for c of shape (n, m), n <= m.

    c : (n, m) float32/float64, read-only; +inf (after ``sign``) marks a forbidden pair.
    sign : 1.0 to minimize, -1.0 to maximize.
    arr_steps_per_row : cap on the augmenting row reduction steps per pass, as a multiple of n.
    limit : largest finite |c| that reduced costs can take without overflow; the first full pass over ``c``
        returns STATUS_RESCALE, without solving, when an entry exceeds it (the host rescales and reruns).
    The first pass also returns STATUS_INVALID, before anything else, if ``sign * c`` holds a NaN or a -inf
    (the host's validation is left to it), then STATUS_INFEASIBLE if a row or column has no allowed entry.
    x : (n,) int64, out: column of each row.  y : (m,) int64, out: row of each column or -1.
    u : (n,) float64, out: row duals.  v : (m,) float64, out: column duals (minimize orientation).
    Returns (status, n_augmentations).
    """
    n, m = c.shape
    iw, fw = workspace(n, m)
    return lapjv_ws(c, sign, arr_steps_per_row, limit, x, y, u, v, iw, fw)


@numba.njit(cache=True, nogil=True)
def workspace(n, m):
    """Scratch for ``lapjv_ws`` on (n, m) problems: (int64 (2n + 4m,), float64 (3m,))."""
    return np.empty(2 * n + 4 * m, np.int64), np.empty(3 * m, np.float64)


@numba.njit(cache=True, nogil=True)
def lapjv_ws(c, sign, arr_steps_per_row, limit, x, y, u, v, iw, fw):
    """``lapjv`` with its scratch from ``workspace`` (reused across the problems of a batch: allocations cost
    ~3% of a 64x64 solve). Contents of iw, fw on entry do not matter."""
    n, m = c.shape
    x[:] = -1
    y[:] = -1
    v[:] = 0.0
    free = iw[:n]
    nfree = 0
    if n == 0:
        return STATUS_OK, 0

    # Largest finite |entry| and invalid entries, found in the first full pass (SIMD reductions in a loop that
    # reads c anyway). No NaN may reach fmin/fmax (flagged nnan): the passes guard them, and the kernel stops
    # right after the first pass if it saw one.
    big = 0.0
    bad = False
    if n == m:
        # 1a. Column reduction: v[j] = min_i c[i, j], scanned row by row (contiguous reads), first row wins ties.
        # Branch-free (selects), so that it vectorizes.
        matches = iw[n : 2 * n]
        arg = iw[2 * n : 2 * n + m]
        matches[:] = 0
        arg[:] = -1
        for j in range(m):
            v[j] = INF
        for i in range(n):
            for j in range(m):
                h = sign * c[i, j]
                vj = v[j]
                better = h < vj
                v[j] = h if better else vj
                arg[j] = i if better else arg[j]
                a = abs(h)
                big = fmax(big, a if a < INF else 0.0)  # NaN: a < INF is False
                bad |= (h != h) | (h == -INF)
        if bad:
            return STATUS_INVALID, 0
        if big > limit:
            return STATUS_RESCALE, 0
        for j in range(m):
            i = arg[j]
            if i < 0:
                return STATUS_INFEASIBLE, 0  # a column with no allowed row
            if matches[i] > 0 and matches[j] == 0 and sign * c[j, j] == v[j]:
                i = j  # a tie on the diagonal goes to its own row, so a constant cost gives the identity
            matches[i] += 1
            if matches[i] == 1:
                x[i] = j
                y[j] = i
            elif v[j] < v[x[i]]:
                y[x[i]] = -1
                x[i] = j
                y[j] = i

        # 1b. Reduction transfer: a row matched once gives its slack to its column, so u[i] = 2nd-best.
        for i in range(n):
            if matches[i] == 0:
                free[nfree] = i
                nfree += 1
            elif matches[i] == 1:
                j1 = x[i]
                mn = fmin(_row_min(c, i, v, sign, 0, j1), _row_min(c, i, v, sign, j1 + 1, m))
                if mn < INF:
                    v[j1] -= mn

        # 1c. Augmenting row reduction, two passes. Steps are capped: near-ties of huge magnitude can
        # make it ping-pong with price decrements lost to rounding; leftover rows go to phase 2.
        cap = arr_steps_per_row * n + 16
        hrow = fw[:m]
        for _ in range(2):
            k = 0
            prv = nfree
            nfree = 0
            steps = 0
            while k < prv:
                steps += 1
                if steps > cap:
                    while k < prv:  # keep the rest free; nfree <= k so this only shifts left
                        free[nfree] = free[k]
                        nfree += 1
                        k += 1
                    break
                i = free[k]
                k += 1
                # Two smallest reduced costs of row i: umin at j1 (first index), usub at j2 (first other index).
                umin, j1, usub = _row_top2(c, i, v, sign, hrow)
                if umin == INF:
                    return STATUS_INFEASIBLE, 0  # a row with no allowed column
                if usub == INF:
                    # Only one allowed column under these prices: leave the row to phase 2.
                    free[nfree] = i
                    nfree += 1
                    continue
                i0 = y[j1]
                if umin < usub:
                    v[j1] -= usub - umin
                elif i0 >= 0:
                    # A tie: take the second column instead of evicting j1's row for no price change.
                    j2 = 0
                    while j2 == j1 or hrow[j2] != usub:
                        j2 += 1
                    j1 = j2
                    i0 = y[j2]
                x[i] = j1
                y[j1] = i
                if i0 >= 0:
                    x[i0] = -1
                    if umin < usub:
                        k -= 1
                        free[k] = i0  # reassign the evicted row at once
                    else:
                        free[nfree] = i0
                        nfree += 1
    else:
        # 1. Rectangular: v = 0; each row to its cheapest column if that column is free (ties prefer the first
        # free column, so a constant cost gives the identity).
        infeasible = False  # a row with no allowed column; reported after the whole pass (invalid entries first)
        for i in range(n):
            best = INF
            for j in range(m):
                h = sign * c[i, j]
                best = h if h < best else best  # not fmin: NaN must not reach it
                a = abs(h)
                big = fmax(big, a if a < INF else 0.0)
                bad |= (h != h) | (h == -INF)
            if best == INF:
                infeasible = True
                continue
            jbest = -1
            for j in range(m):
                if y[j] < 0 and sign * c[i, j] == best:
                    jbest = j
                    break
            if jbest >= 0:
                x[i] = jbest
                y[jbest] = i
            else:
                free[nfree] = i
                nfree += 1
        if bad:
            return STATUS_INVALID, 0
        if big > limit:
            return STATUS_RESCALE, 0
        if infeasible:
            return STATUS_INFEASIBLE, 0

    # 2. Shortest augmenting paths from each free row.
    n_aug = 0
    if nfree:
        key = fw[m : 2 * m]
        sdist = fw[2 * m : 3 * m]
        pred = iw[2 * n + m : 2 * n + 2 * m]
        todo = iw[2 * n + 2 * m : 2 * n + 3 * m]
        scols = iw[2 * n + 3 * m : 2 * n + 4 * m]
        for fk in range(nfree):
            if not _augment(c, sign, free[fk], x, y, v, key, pred, todo, scols, sdist):
                return STATUS_INFEASIBLE, n_aug  # no free column reachable through allowed pairs
            n_aug += 1
    # Row duals: every row sits on a cheapest column of its reduced costs (tight and feasible).
    for i in range(n):
        u[i] = sign * c[i, x[i]] - v[x[i]]
    return STATUS_OK, n_aug


def _lapjv_batch_py(c, sign, arr_steps_per_row, limit, x, u, v, status, n_aug, n_chunks):
    """B independent problems c[b] (n, m), n <= m; outputs indexed by b (no y: it stays in the scratch).
    Parallel over n_chunks contiguous chunks of the batch, one scratch per chunk (the host passes a few per
    thread: numba.get_num_threads() in here would make the function uncacheable)."""
    bsz, n, m = c.shape
    n_chunks = max(1, min(bsz, n_chunks))
    for k in numba.prange(n_chunks):
        iw, fw = workspace(n, m)
        y = np.empty(m, np.int64)
        for b in range(k * bsz // n_chunks, (k + 1) * bsz // n_chunks):
            s, a = lapjv_ws(c[b], sign, arr_steps_per_row, limit, x[b], y, u[b], v[b], iw, fw)
            status[b] = s
            n_aug[b] = a


lapjv_batch = numba.njit(_lapjv_batch_py, cache=True, nogil=True, parallel=True)
