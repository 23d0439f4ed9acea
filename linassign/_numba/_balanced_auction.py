"""Auction for similar objects (Bertsekas and Castanon 1989), column by column, for balanced assignment.

Each column e is a pool of ``capx[e]`` identical slots. A row's *bid* for its column a is its reservation
price ``r_i = score(i, a) - w_i``, where ``w_i`` is its best value outside a: the highest price at which it
still prefers a. An over-full column keeps its best bids and its price becomes the lowest kept bid; the
outbid rows move to the column where they found ``w_i``, which may become over-full in turn. The rows of a
column bid together when the column is over-full (a Jacobi step inside the column, Gauss-Seidel over the
columns), so a column sheds all its excess in one step and the expensive per-row scans happen only for rows
that are outbid or whose recorded bid may have gone stale.

Prices only rise, so every value outside a row's column only falls and a recorded bid is a lower bound on
the row's true reservation price; it is exact while the price of the column where ``w_i`` was found has not
changed (``okc``/``okv``: that column and its price version). A column therefore finds its lowest true bids
with a lazy heap: pop the lowest recorded bid, re-price it if stale and push it back, until the lowest
entry is exact.

Unlike the textbook auction this keeps the invariant of the exact phase at every step: every row sits in a
column of maximal value. When a step must raise a price by less than ``eps`` (near ties, where two columns
would pass rows back and forth), it raises it by ``eps`` and moves every row whose bid falls short, so the
column may end under-full; every step raises one price by at least ``eps``. When no column is over-full the
state is optimal (with equality capacities) and the exact phase has nothing left to do; otherwise, or when
``max_steps`` or ``max_work`` runs out, ``ssp`` finishes exactly from wherever this stopped.
"""

import numba
import numpy as np

from ._balanced_common import PARALLEL, member_slots, row_blocks, row_top2, score
from ._common import INF
from ._simd import prefetch_row, rows_ahead


@numba.njit(cache=True, nogil=True)
def best_outside(s, i, a, sgn, p, E, has_drop):
    """(column, value) of row i's best column other than a (lowest index among ties, the drop column
    last); column -1 and value -inf when every other column is forbidden. One scan (``row_top2``) with
    ``p[a]`` set to +inf for its duration and then restored, bit for bit: callers on several threads give
    each thread its own copy of the prices."""
    if a < E:
        keep = p[a]
        p[a] = INF
        j, v, _, _ = row_top2(s, i, sgn, p, E)
        p[a] = keep
    else:
        j, v, _, _ = row_top2(s, i, sgn, p, E)
    if has_drop and a != E:
        vd = -p[E]
        if vd > v:
            return E, vd
    return j, v


@numba.njit(cache=True, nogil=True)
def initial_bids(s, sgn, p, E, has_drop, col, key, okc, okv):
    """Bid of every row for the column it sits in (greedy state), with the column of its best outside value.

    Returns the mean gap between a row's best and second-best value, the scale of ``eps`` (when every row
    is tied, the largest magnitude of a score, or 1), and the number of rows tied between two columns.
    The rows split over the threads when ``PARALLEL``; the sums run in row order either way, so both
    compilations return the same."""
    n = s.shape[0]
    g = np.empty(n)  # the gap of each row, +inf when it has nowhere else to go
    nb = row_blocks(n, PARALLEL, 256)
    ahead = rows_ahead(s)
    for c in numba.prange(nb):
        q = p.copy()  # best_outside writes the prices it is given
        for i in range(c * n // nb, (c + 1) * n // nb):
            prefetch_row(s, i + ahead)
            a = col[i]
            j, w = best_outside(s, i, a, sgn, q, E, has_drop)
            own = score(s, i, a, sgn, E)
            okc[i] = j
            okv[i] = 0
            if j < 0:
                key[i] = INF
                g[i] = INF
            else:
                key[i] = own - w
                g[i] = own - p[a] - w
    total = 0.0
    m = 0
    ties = 0
    for i in range(n):
        x = g[i]
        if x < INF:
            total += x
            m += 1
            if x == 0.0:
                ties += 1
    if m > 0 and total > 0.0:
        return total / m, ties
    big = 0.0
    for i in range(n):
        own = score(s, i, col[i], sgn, E)
        if abs(own) > big:
            big = abs(own)
    return (big if big > 0.0 else 1.0), ties  # every row tied: any positive scale will do


@numba.njit(cache=True, nogil=True)
def _reprice(s, i, a, sgn, p, E, has_drop, key, okc, okv, pver):
    """Exact bid of row i for its column a at the current prices."""
    j, w = best_outside(s, i, a, sgn, p, E, has_drop)
    okc[i] = j
    okv[i] = pver[j] if j >= 0 else 0
    key[i] = score(s, i, a, sgn, E) - w if j >= 0 else INF


@numba.njit(cache=True, nogil=True)
def _relayout(mem, lo, hi, end, pos):
    """A new member array with room for each column to double (plus a few rows): called when a column has
    filled its room, which happens a few times per solve at most."""
    Ec = lo.shape[0]
    total = 0
    for a in range(Ec):
        total += 2 * (hi[a] - lo[a]) + 8
    new = np.empty(total, np.int64)
    t = 0
    for a in range(Ec):
        size = hi[a] - lo[a]
        for k in range(size):
            i = mem[lo[a] + k]
            new[t + k] = i
            pos[i] = t + k
        lo[a] = t
        hi[a] = t + size
        t += 2 * size + 8
        end[a] = t
    return new


@numba.njit(cache=True, nogil=True)
def _move_member(i, a, b, mem, lo, hi, end, pos):
    """Move row i from column a's members to column b's (the last member of a takes i's slot); returns the
    member array, a new one if b had no room left."""
    last = mem[hi[a] - 1]
    mem[pos[i]] = last
    pos[last] = pos[i]
    hi[a] -= 1
    if hi[b] == end[b]:
        mem = _relayout(mem, lo, hi, end, pos)
    mem[hi[b]] = i
    pos[i] = hi[b]
    hi[b] += 1
    return mem


@numba.njit(cache=True, nogil=True)
def _sift_down(hk, hr, k, size):
    while True:
        c = 2 * k + 1
        if c >= size:
            return
        if c + 1 < size and hk[c + 1] < hk[c]:
            c += 1
        if hk[c] < hk[k]:
            t = hk[c]
            hk[c] = hk[k]
            hk[k] = t
            u = hr[c]
            hr[c] = hr[k]
            hr[k] = u
            k = c
        else:
            return


@numba.njit(cache=True, nogil=True)
def _enqueue(b, queue, inq, qh, ql):
    """Append column b to the circular queue (each column at most once); returns the new length."""
    if inq[b]:
        return ql
    Ec = queue.shape[0]
    tail = qh + ql
    if tail >= Ec:
        tail -= Ec
    queue[tail] = b
    inq[b] = True
    return ql + 1


@numba.njit(cache=True, nogil=True)
def auction(
    s, sgn, p, E, has_drop, capx, col, cnt, eps_first, eps_last, theta, max_steps, max_work, stop_excess, max_ties, tol
):
    """Column-by-column auction with eps-scaling from the greedy state ``col``/``cnt`` under prices ``p``.

    eps runs from ``eps_first`` down to ``eps_last`` by factors of ``theta``, all relative to the mean gap
    between the rows' best and second-best values. Each eps phase runs column steps until no column is
    over-full (or ``max_steps`` column steps, or ``max_work`` members heaped by the steps, have been spent in
    all, or the excess of the over-full columns is down to ``stop_excess``: the exact phase is cheaper from
    there), then moves the rows it left within eps of their best value to a best column, which may make
    columns over-full for the next phase. On exit every row sits in a column of maximal value under ``p``
    (the invariant of the exact phase); ``p``, ``col`` and ``cnt`` are updated in place.

    ``tol >= 0`` (with capacities summing to n, so that no free slot carries a price): stop early, without
    restoring the invariant, as soon as a phase ends with no over-full column and the rows it left within
    eps of their best value lose at most ``tol`` in all (then ``gap <= tol``). Returns (steps, early).
    """
    n = s.shape[0]
    Ec = p.shape[0]
    key = np.empty(n)
    okc = np.empty(n, np.int64)
    okv = np.empty(n, np.int64)
    scale, ties = initial_bids(s, sgn, p, E, has_drop, col, key, okc, okv)
    if ties > max_ties:
        # Mostly tied rows (small integer scores): eps-steps shuffle tied rows back and forth, and the exact
        # phase, which moves tied rows at no price change, is faster on its own.
        return 0, False
    pver = np.zeros(Ec, np.int64)
    # Members of each column in contiguous slots, so that building a column's heap reads them in one sweep;
    # columns may grow past their room (``_move_member``).
    mem, lo, hi, end, pos = member_slots(col, cnt, capx, True, np.empty(0, np.int64))
    queue = np.empty(Ec, np.int64)  # circular; a column is queued at most once
    inq = np.zeros(Ec, np.bool_)
    qh = 0
    ql = 0
    excess = 0
    for e in range(Ec):
        if cnt[e] > capx[e]:
            ql = _enqueue(e, queue, inq, qh, ql)
            excess += cnt[e] - capx[e]
    hk = np.empty(n)
    hr = np.empty(n, np.int64)
    out = np.empty(n, np.int64)
    loose = np.zeros(n, np.bool_)
    loose_list = np.empty(n, np.int64)
    steps = 0
    work = 0
    eps = eps_first * scale
    while True:
        n_loose = 0
        while ql > 0 and steps < max_steps and work < max_work and excess > stop_excess:
            a = queue[qh]
            qh = qh + 1 if qh + 1 < Ec else 0
            ql -= 1
            inq[a] = False
            m = cnt[a] - capx[a]
            if m <= 0:
                continue
            steps += 1
            # Heap of the members' recorded bids.
            size = hi[a] - lo[a]
            work += size
            for k in range(size):
                i = mem[lo[a] + k]
                hk[k] = key[i]
                hr[k] = i
            for k in range(size // 2 - 1, -1, -1):
                _sift_down(hk, hr, k, size)
            # Pop the m lowest exact bids (stale ones are re-priced and pushed back first).
            n_out = 0
            stuck = False
            while n_out < m:
                i = hr[0]
                if okc[i] >= 0 and okv[i] != pver[okc[i]]:
                    _reprice(s, i, a, sgn, p, E, has_drop, key, okc, okv, pver)
                    hk[0] = key[i]
                    _sift_down(hk, hr, 0, size)
                    continue
                if hk[0] == INF:
                    stuck = True  # a row with nowhere else to go: leave this column to the exact phase
                    break
                out[n_out] = i
                n_out += 1
                size -= 1
                hk[0] = hk[size]
                hr[0] = hr[size]
                _sift_down(hk, hr, 0, size)
            if stuck:
                continue
            # New price: the lowest kept bid, but at least eps above the highest outbid one and never
            # lower than before (rows left within eps by an earlier step may be the ones outbid). Kept
            # rows whose bid is below it are within eps of their best value (eps-complementary slackness).
            newp = key[out[m - 1]] + eps
            if newp < p[a]:
                newp = p[a]
            while size > 0:
                i = hr[0]
                if okc[i] >= 0 and okv[i] != pver[okc[i]]:
                    _reprice(s, i, a, sgn, p, E, has_drop, key, okc, okv, pver)
                    hk[0] = key[i]
                    _sift_down(hk, hr, 0, size)
                    continue
                r = hk[0]
                if r >= newp:
                    if r < INF:
                        newp = r
                    break
                if not loose[i]:
                    loose[i] = True
                    loose_list[n_loose] = i
                    n_loose += 1
                size -= 1
                hk[0] = hk[size]
                hr[0] = hr[size]
                _sift_down(hk, hr, 0, size)
            p[a] = newp
            pver[a] += 1
            excess -= n_out
            # Outbid rows move to the column of their best outside value; their bid there is only known
            # to be at least min(score(b) - score(a) + p[a], p[b]) until it is re-priced.
            for q in range(n_out):
                i = out[q]
                b = okc[i]
                mem = _move_member(i, a, b, mem, lo, hi, end, pos)
                col[i] = b
                cnt[a] -= 1
                cnt[b] += 1
                lb = score(s, i, b, sgn, E) - score(s, i, a, sgn, E) + newp
                key[i] = lb if lb < p[b] else p[b]
                okc[i] = a
                okv[i] = -1  # stale
                if cnt[b] > capx[b]:
                    excess += 1
                    ql = _enqueue(b, queue, inq, qh, ql)
        if tol >= 0.0:
            over = False
            for e in range(Ec):
                over = over or cnt[e] > capx[e]
            total_cap = 0
            for e in range(Ec):
                total_cap += capx[e]
            if not over and total_cap == n:
                loss = 0.0
                for q in range(n_loose):
                    i = loose_list[q]
                    a = col[i]
                    if okc[i] >= 0 and okv[i] != pver[okc[i]]:
                        _reprice(s, i, a, sgn, p, E, has_drop, key, okc, okv, pver)
                    if key[i] < p[a]:
                        loss += p[a] - key[i]
                if loss <= tol:
                    return steps, True
        # Rows left within eps of their best value move to a best column, restoring the invariant.
        for q in range(n_loose):
            i = loose_list[q]
            loose[i] = False
            a = col[i]
            if okc[i] >= 0 and okv[i] != pver[okc[i]]:
                _reprice(s, i, a, sgn, p, E, has_drop, key, okc, okv, pver)
            if key[i] < p[a]:
                b = okc[i]
                mem = _move_member(i, a, b, mem, lo, hi, end, pos)
                col[i] = b
                cnt[a] -= 1
                cnt[b] += 1
                key[i] = p[b]  # a lower bound: b is now a best column of the row
                okc[i] = a
                okv[i] = -1
                if cnt[a] >= capx[a]:
                    excess -= 1  # the row leaves an over-full column
                if cnt[b] > capx[b]:
                    excess += 1
                    ql = _enqueue(b, queue, inq, qh, ql)
        if eps <= eps_last * scale or steps >= max_steps or work >= max_work or excess <= stop_excess:
            break
        eps = eps / theta
        if eps < eps_last * scale:
            eps = eps_last * scale
    return steps, False
