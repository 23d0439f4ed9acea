"""Starting prices by damped count-balancing steps: a cheap diagonal Newton method on the dual.

The dual of the balanced assignment problem is ``D(p) = sum_i max_e (score(i, e) - p[e]) + sum_e cap[e] p[e]``,
convex and piecewise linear in the E prices; its (sub)gradient in ``p[e]`` is ``cap[e] - cnt[e](p)``, where
``cnt[e]`` counts the rows whose best column is e. Raising ``p[e]`` by ``t`` moves out of e the rows whose
margin (best value minus second best) is below ``t``, so ``-d cnt[e] / d p[e]`` is about the density of e's
rows near margin 0. Each step takes one pass over the matrix (every row's best column and margin) and
moves every price by ``damp * (cnt[e] - cap[e]) / density[e]``: half a Newton step on each column alone.
The columns interact (rows pushed out of e enter their second column), hence the damping.

The steps only find starting prices: the solve then puts every row in a best column under them and the
auction and the exact phase finish from there, so that nothing here affects the answer, only the time. On
BASE-like scores a few passes take the greedy start from ~20% of the rows in excess to ~1% (16384 x 128:
3043 -> 937 -> 231 -> 123), where the column-by-column auction needs hundreds of steps with a heap each
for the same. Scores mostly tied (small integers) make no progress (margins 0); the steps then stop at
once and leave the prices as they were.

Rows that are copies of one row (padding tokens) leave a column together at one price, so the counts jump
by the whole block and the steps stalled with its column far over-full. The first pass looks for such a
block in the most over-full column (``find_block``); every pass then counts it as spread over the columns
by a softmax of its values (``_spread_block``), at a temperature of the density window (half or twice it
measured slower). Base scores with 30% of the rows one repeated row, whole solves: 65536 x 128 73-77 ->
45-51 ms, 16384 x 128 11.6 -> 6.7-7.0 ms (after the exact phase's block); against neither: 16384 x 128 with
10, 50, 90% of the rows 6.5 -> 4.4, 18.5 -> 7.3, 45 -> 13 ms.
"""

import numba
import numpy as np

from ._balanced_common import best_and_margin
from ._balanced_ssp import find_block, greedy_arcs
from ._common import INF


@numba.njit(cache=True, nogil=True)
def balance_prices(
    s,
    sgn,
    p,
    E,
    capx,
    damp,
    width,
    stop,
    max_passes,
    min_progress,
    max_ties,
    arcs_below,
    slack,
    col,
    cnt,
    M,
    W,
    M2,
    W2,
    own,
    margin,
):
    """Damped count-balancing steps on prices ``p`` (E,), in place; capacities ``capx`` (E,) summing to n
    (no drop column, no dummy rows). Each pass finds every row's best column and margin; the step raises
    each column's price by ``damp * (cnt[e] - capx[e]) / density[e]``, where density[e] counts e's rows with a
    margin below ``width`` times the mean margin, per unit of price (at least capx[e] / 4 per mean margin).

    Stops once the excess (rows over the capacities) is at most ``stop``, after ``max_passes`` passes, or
    when a pass did not cut the excess to below ``min_progress`` times the previous one; ``p`` is then the
    prices of the pass with the least excess.

    A pass expected to leave at most ``slack`` times ``stop`` rows in excess, and at most ``arcs_below`` (the
    exact phase then follows directly), by the ratio of the pass before (0.4 after the first), is
    ``greedy_arcs``: the greedy start and the exact phase's arc minima, written to col, cnt, M, W, M2, W2, own
    and margin, which the solve needs next anyway (a pass saved). If it does leave that little, the steps end
    there: the exact phase takes the rest for less than another two passes would cost. Otherwise col and
    margin are work arrays (``arcs_below`` < 0: never).

    Returns (passes, x, arcs_done): x the excess at p, -1 when a pass found an invalid entry or a row without
    an allowed column (p is then left as given; the greedy pass reports it), or when the first pass finds more
    than ``max_ties`` rows tied between their two best columns (copies of one row, ``find_block``'s, not
    counted) or the margins all zero or infinite (tied
    scores: the steps cannot move them, and prices off the integers would set the auction on price wars
    between the tied columns); arcs_done when the arrays hold ``greedy_arcs``' output at the returned p."""
    n = s.shape[0]
    cnt_f = np.empty(E)
    near = np.empty(E)
    best = p.copy()
    best_x = -1
    passes = 0
    last_arcs = False
    ratio = 0.4
    blk_r = -1  # a block of identical rows (first row), found by the first pass
    blk_m = 0
    while passes < max_passes:
        last_arcs = best_x >= 0 and best_x * ratio <= min(slack * stop, arcs_below)
        if last_arcs:
            greedy_arcs(s, sgn, p, E, False, col, cnt, M, W, M2, W2, own, margin)
        else:
            best_and_margin(s, sgn, p, E, False, col, margin, own[:0])
        passes += 1
        total = 0.0
        m = 0
        ties = 0
        for i in range(n):
            if col[i] < 0:  # the same rows on every pass: only the first one finds them
                return passes, -1, False
            if margin[i] < INF:
                total += margin[i]
                m += 1
                ties += margin[i] == 0.0
        if m == 0 or not total > 0.0:
            return passes, (-1 if best_x < 0 else _restore(p, best, best_x)), False
        g = total / m
        d = width * g
        cnt_f[:] = 0.0
        near[:] = 0.0
        for i in range(n):
            cnt_f[col[i]] += 1.0
            if margin[i] < d:
                near[col[i]] += 1.0
        if passes == 1:
            for e in range(E):
                cnt[e] = int(cnt_f[e])
            _, blk_r, blk_m = find_block(s, E, capx, col, cnt, np.empty(0, np.int64))
            if blk_m == n:
                return passes, -1, False  # one row n times: any prices that tie it are optimal, no step helps
            # Copies of one row whose columns tie (constant rows: padding tokens scored 0 by every expert) tie
            # only at equal prices, the first pass's: they are the block, not tied scores.
            if blk_r >= 0 and margin[blk_r] == 0.0:
                ties -= blk_m
            if ties > max_ties:
                return passes, -1, False
        if blk_r >= 0:
            _spread_block(s, sgn, p, E, capx, col, margin, d, blk_r, blk_m, cnt_f, near)
        x = 0
        for e in range(E):
            if cnt_f[e] > capx[e]:
                x += int(cnt_f[e]) - capx[e]
        if best_x >= 0 and x >= best_x:
            return passes, _restore(p, best, best_x), False
        last = best_x
        best[:] = p
        best_x = x
        if x <= stop or (last_arcs and x <= min(slack * stop, arcs_below)) or (last >= 0 and x > min_progress * last):
            return passes, x, last_arcs
        if last > 0:
            ratio = x / last
        for e in range(E):
            if capx[e] > 0:
                dens = max(near[e] / d, capx[e] / (4.0 * g))
                p[e] += damp * (cnt_f[e] - capx[e]) / dens
    return passes, _restore(p, best, best_x), False


@numba.njit(cache=True, nogil=True)
def _spread_block(s, sgn, p, E, capx, col, margin, d, r, m, cnt_f, near):
    """Count the m rows equal to row r (padding tokens: ``find_block``) as spread over the columns by a
    softmax of their values at temperature d, instead of all in their best column: the copies of one row
    leave a column together at one price, so the steps' counts jumped by m and the block's price never
    settled; spread, their counts and densities vary smoothly with the prices."""
    a = col[r]
    cnt_f[a] -= m
    if margin[r] < d:
        near[a] -= m
    top = -INF
    for e in range(E):
        if capx[e] > 0:
            top = max(top, sgn * s[r, e] - p[e])
    z = 0.0
    for e in range(E):
        if capx[e] > 0:
            z += np.exp((sgn * s[r, e] - p[e] - top) / d)
    for e in range(E):
        if capx[e] > 0:
            w = np.exp((sgn * s[r, e] - p[e] - top) / d) / z
            cnt_f[e] += m * w
            near[e] += m * w * (1.0 - w)


@numba.njit(cache=True, nogil=True)
def _restore(p, best, best_x):
    p[:] = best
    return best_x
