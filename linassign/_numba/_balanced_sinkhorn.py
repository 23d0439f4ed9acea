"""Log-domain Sinkhorn for the balanced assignment problem: entropic column prices.

The entropic relaxation of the transportation problem (rows of mass 1, columns of mass ``capx[e]``) is
solved by alternating exact row and column updates of the potentials ``f`` (rows) and ``g`` (columns,
which play the role of prices):

    plan[i, e] = exp((S[i, e] - f[i] - g[e]) / reg),   S = sgn * s (maximize orientation)
    f[i] = reg * log sum_e exp((S[i, e] - g[e]) / reg)                        (row i has mass 1)
    g[e] = g[e] + reg * log(sum_i plan[i, e] / capx[e])                        (column e has capx[e])

Every exponent is <= 0 after a row update (``f[i]`` is a log-sum-exp over the row), so nothing overflows
for any ``reg > 0``. ``reg`` is annealed geometrically from ``reg_first`` down to ``reg_last`` (relative to
the spread of the scores) so that the potentials converge to near-optimal prices (the dual of the
unregularized problem is the limit ``reg -> 0``). Capacities summing to more than n get one aggregated
dummy row of mass ``sum(capx) - n`` and score 0; the drop column (capacities summing to less than n) is a
column of score 0. Columns of capacity 0 keep price +inf and receive nothing.

The potentials are only a starting point: the exact phase (``ssp``) then makes the answer optimal, so a few
iterations per level suffice.
"""

import math

import numba
import numpy as np

from ._common import INF, STATUS_INFEASIBLE
from ._sinkhorn import _sinkhorn_serial

FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
CUT = 36.0  # exp(-36) < 2.4e-16


@numba.njit(cache=True, nogil=True)
def _spread(s, sgn):
    """Standard deviation of the finite scores (1 when they are all equal or there are none)."""
    n, E = s.shape
    m = 0
    t = 0.0
    t2 = 0.0
    for i in range(n):
        for e in range(E):
            x = sgn * s[i, e]
            if x > -INF:
                m += 1
                t += x
                t2 += x * x
    if m == 0:
        return 1.0
    mean = t / m
    var = t2 / m - mean * mean
    if not var > 0.0:
        return 1.0
    return math.sqrt(var)


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH)
def _row_pass(s, sgn, g, E, has_drop, reg, f, colsum, colmax):
    """Row update of f, then the column sums of the new plan (relative to g) for the column update.
    Returns the mean absolute row-marginal error before the update."""
    n = s.shape[0]
    Ec = g.shape[0]
    inv = 1.0 / reg
    for e in range(Ec):
        colsum[e] = 0.0
        colmax[e] = -INF
    err = 0.0
    for i in range(n):
        m = -INF
        for e in range(E):
            v = sgn * s[i, e] - g[e]
            m = v if v > m else m
        if has_drop:
            v = -g[E]
            m = v if v > m else m
        # Terms below exp(-CUT) of the largest change no sum at double precision: skip their exponential
        # (at small reg, most of the row).
        acc = 0.0
        for e in range(E):
            z = (sgn * s[i, e] - g[e] - m) * inv
            if z > -CUT:
                acc += math.exp(z)
        if has_drop:
            z = (-g[E] - m) * inv
            if z > -CUT:
                acc += math.exp(z)
        fi = m + reg * math.log(acc)
        err += abs(math.exp((f[i] - fi) * -inv) - 1.0) if f[i] > -INF else 1.0
        f[i] = fi
        for e in range(E):
            t = sgn * s[i, e] - fi - g[e]
            z = t * inv
            if z > -CUT:
                colsum[e] += math.exp(z)
            colmax[e] = t if t > colmax[e] else colmax[e]
        if has_drop:
            t = -fi - g[E]
            colsum[E] += math.exp(t * inv)
            colmax[E] = t if t > colmax[E] else colmax[E]
    return err / n if n > 0 else 0.0


@numba.njit(cache=True, nogil=True)
def _shared_sinkhorn(s, sgn, p, capx, scale, reg_first, reg_last, theta, iters, tol):
    """Capacities summing to n (no drop column, no dummy rows): the log-domain kernel of
    ``linassign.sinkhorn`` (``_sinkhorn.py``: one streaming pass per iteration, a vectorized exponential),
    with row masses 1 and column masses ``capx``. Its convention is ``plan = exp((f + g - h) / reg)`` with
    ``h = -sgn * s``, so the prices are ``-g``."""
    n = s.shape[0]
    E = capx.shape[0]
    a = np.ones(n)
    b = np.empty(E)
    f = np.zeros(n)
    g = np.empty(E)
    for e in range(E):
        b[e] = float(capx[e])
        g[e] = -p[e] if capx[e] > 0 else 0.0
    # Start from the prices given (or 0): f is the row update under them, which the kernel's first step uses.
    for i in range(n):
        m = -INF
        for e in range(E):
            if capx[e] > 0:
                v = sgn * s[i, e] + g[e]
                m = v if v > m else m
        f[i] = -m if m > -INF else 0.0
    reg = reg_first * scale
    last = reg_last * scale
    it = 0
    while True:
        status, k, err, cost = _sinkhorn_serial(s, -sgn, a, b, reg, f, g, tol * n, iters, 1)
        it += k
        if status == STATUS_INFEASIBLE or reg <= last:
            break
        reg /= theta
        if reg < last:
            reg = last
    if status == STATUS_INFEASIBLE:
        return it  # keep the prices: the exact phase reports the infeasibility
    for e in range(E):
        p[e] = -g[e] if capx[e] > 0 else INF
    return it


@numba.njit(cache=True, nogil=True)
def sinkhorn_prices(s, sgn, p, E, has_drop, capx, n_dummy, reg_first, reg_last, theta, iters, tol):
    """Anneal the entropic potentials and leave them in ``p`` (Ec,) as column prices. Returns the number of
    Sinkhorn iterations."""
    n = s.shape[0]
    Ec = p.shape[0]
    scale = _spread(s, sgn)
    if not has_drop and n_dummy == 0 and n > 0:
        return _shared_sinkhorn(s, sgn, p, capx, scale, reg_first, reg_last, theta, iters, tol)
    g = p.copy()
    for e in range(Ec):
        if capx[e] == 0:
            g[e] = INF
    f = np.full(n, -INF)
    colsum = np.empty(Ec)
    colmax = np.empty(Ec)
    reg = reg_first * scale
    last = reg_last * scale
    it = 0
    while True:
        for _ in range(iters):
            err = _row_pass(s, sgn, g, E, has_drop, reg, f, colsum, colmax)
            it += 1
            # Dummy row of mass n_dummy: its potential, then its share of every column.
            fd = INF
            if n_dummy > 0:
                m = INF
                for e in range(Ec):
                    if g[e] < m:
                        m = g[e]
                acc = 0.0
                for e in range(Ec):
                    acc += math.exp(-(g[e] - m) / reg)
                fd = -m + reg * math.log(acc) - reg * math.log(n_dummy)
            for e in range(Ec):
                if capx[e] == 0:
                    continue
                c = colsum[e]
                if fd < INF:
                    c += math.exp((-fd - g[e]) / reg)
                if c > 1e-290:
                    g[e] += reg * math.log(c / capx[e])
                elif colmax[e] > -INF:
                    g[e] += colmax[e] - reg * math.log(capx[e])  # underflow: log-sum-exp ~ max
            if err <= tol:
                break
        if reg <= last:
            break
        reg /= theta
        if reg < last:
            reg = last
    for e in range(Ec):
        p[e] = g[e]
    return it
