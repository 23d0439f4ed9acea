"""Shared pieces of the balanced (capacitated) assignment kernels: row scans, the starting state and the
certificate.

Notation used by every balanced kernel (``_balanced_*.py``):

- ``s`` (n, E) float32/float64, read-only; ``sgn`` is +1.0 to maximize and -1.0 to minimize. The kernels
  always maximize ``sgn * s``: a forbidden pair is ``-inf`` after the sign, NaN never reaches them.
- ``Ec`` columns of the working problem: the E real columns, plus one *drop column* (index E) when the
  capacities sum to less than n. A row in the drop column is unassigned; its score there is 0 and its
  capacity is ``n - sum(capacity)``.
- When the capacities sum to more than n, ``sum(capacity) - n`` *dummy rows* of score 0 everywhere fill the
  spare slots; only their count per column (``dm``) is stored. With the drop column or the dummy rows the
  problem is a transportation problem with equalities: every column receives exactly ``capx[e]`` units.
- ``p`` (Ec,) float64 column prices, the duals of the column constraints. The value of row i in column e is
  ``sgn * s[i, e] - p[e]`` (``-p[E]`` in the drop column). A column of capacity 0 has price +inf inside the
  kernels, so that no row ever wants it.
- ``col`` (n,) int64: column of each row (E = dropped). ``cnt`` (Ec,): real rows per column.

Invariant of the exact phase: every row sits in a column of maximal value, and dummy rows sit in columns of
minimal price. Then ``u[i] = max_e (sgn * s[i, e] - p[e])`` and ``p`` are dual feasible and complementary
slack with the assignment, and the assignment is optimal as soon as no column is over-full.
"""

import types

import numba
import numpy as np

from ._common import INF, STATUS_INFEASIBLE, STATUS_INVALID, STATUS_NAN, STATUS_OK, fmax
from ._simd import LANES, prefetch, prefetch_row, rows_ahead, top2_lanes, top2_scalar

# Compile-time constant: False in the serial kernels (a batch runs them in parallel over its problems), True
# in the variants made by ``parallel_variant`` for one large problem, whose full passes over the matrix then
# split their rows over the threads.
PARALLEL = False


def parallel_variant(dispatcher, parallel=True, **calls):
    """A compilation of a kernel's own source in which ``PARALLEL`` is True, its ``prange`` loops run on
    the threads (``parallel``), and the kernels it calls are replaced by ``calls`` (their own parallel
    variants). One source, two compiled programs: the serial one for batches (which are parallel over their
    problems, never nested), this one for a single large problem."""
    py = getattr(dispatcher, "py_func", dispatcher)  # a plain function under NUMBA_DISABLE_JIT
    glb = dict(py.__globals__, PARALLEL=True, **calls)
    fn = types.FunctionType(py.__code__, glb, py.__name__ + "_parallel", py.__defaults__, py.__closure__)
    fn.__qualname__ = py.__qualname__ + "_parallel"  # its own numba cache entry
    fn.__doc__ = py.__doc__
    return numba.njit(fn, cache=True, nogil=True, parallel=parallel)


_BLOCKS = 4  # row blocks of a pass over the matrix when it runs on the threads


@numba.njit(cache=True, nogil=True)
def row_blocks(n, parallel, min_rows):
    """Row blocks of a pass over n rows that needs private arrays per thread: ``_BLOCKS`` (fewer when there
    are fewer than ``min_rows`` rows per block) when the pass runs on the threads, else one. Callers pass
    their ``PARALLEL`` (a fixed block count: asking numba for its thread count in a kernel would keep the
    kernel out of numba's cache)."""
    return min(_BLOCKS, 1 + n // min_rows) if parallel else 1


# No nnan/ninf: -inf marks forbidden pairs and must compare correctly.
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH)
def _range_max(s, i, sgn, p, lo, hi):
    """max over lo <= e < hi of (sgn * s[i, e] - p[e]), -inf if the range is empty: a SIMD max reduction
    (``fmax``; the row must hold no NaN, which the callers have checked)."""
    m = -INF
    for e in range(lo, hi):
        m = fmax(m, sgn * s[i, e] - p[e])
    return m


@numba.njit(cache=True, nogil=True)
def row_max(s, i, sgn, p, E):
    """max_e (sgn * s[i, e] - p[e]) over the E real columns."""
    return _range_max(s, i, sgn, p, 0, E)


@numba.njit(cache=True, nogil=True, inline="always")
def row_top2(s, i, sgn, p, E):
    """(j, v, w, t) of row i over the E real columns, in one pass (``_simd.top2_lanes``, then the last
    ``E % LANES`` columns): v the best value ``sgn * s[i, e] - p[e]``, j the lowest column reaching it (-1
    when every value is -inf), w the best value over the other columns (-inf if none), t the sum of
    ``sgn * s[i, e]``, finite or -inf on every valid row (see ``checked_argmax``). Inlined: a call would cost
    a quarter of the scan."""
    n = E - E % LANES
    v, w, j, t = top2_lanes(s, i, sgn, p, n)
    v, w, j, t = top2_scalar(s, i, sgn, p, n, E, v, w, j, t)
    if not v > -INF:
        j = -1
    return j, v, w, t


@numba.njit(cache=True, nogil=True)
def checked_argmax(s, i, sgn, p, E, has_drop):
    """(bad, j, v, w): ``row_invalid``'s code for row i and, when it is 0, the row's best column j (lowest
    index among ties, the drop column last; -1 when every value is -inf: no allowed column), its value v,
    and w, the best value over the real columns other than j (-inf if none; meaningless when j is the drop
    column).

    One pass (``row_top2``) finds them and a sum that is finite or -inf on every valid row; only rows whose
    sum is not (invalid ones and overflowing ones) pay ``row_invalid``'s scan."""
    j, v, w, t = row_top2(s, i, sgn, p, E)
    if not t < INF:
        bad = row_invalid(s, i, sgn, E)
        if bad:
            return bad, -1, 0.0, 0.0
    if has_drop and -p[E] > v:
        return 0, E, -p[E], v
    return 0, j, v, w


@numba.njit(cache=True, nogil=True)
def score(s, i, e, sgn, E):
    """Score of row i in column e without the price (0 in the drop column)."""
    if e == E:
        return 0.0
    return sgn * s[i, e]


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH)
def row_invalid(s, i, sgn, E):
    """2 if row i holds a NaN, else 1 if it holds +inf after the sign (only -inf may mark a forbidden pair),
    else 0. Reads the row just read by the caller (in cache); two OR-reductions."""
    nan = False
    inf = False
    for e in range(E):
        x = sgn * s[i, e]
        nan |= x != x
        inf |= x == INF
    return 2 if nan else 1 if inf else 0


@numba.njit(cache=True, nogil=True)
def greedy_start(s, sgn, p, E, has_drop, col, cnt):
    """Every row to its best column under prices ``p``; the first pass over the matrix, so it also checks
    the entries (the host's validation leaves that to it for numpy input). Returns STATUS_OK,
    STATUS_NAN or STATUS_INVALID (an infinity of the wrong sign) if any row holds one, else
    STATUS_INFEASIBLE if some row has no allowed column."""
    n = s.shape[0]
    ahead = rows_ahead(s)
    for i in numba.prange(n):
        prefetch_row(s, i + ahead)
        bad, j, _, _ = checked_argmax(s, i, sgn, p, E, has_drop)
        col[i] = -1 - bad if bad else j
    return greedy_status(col, cnt)


@numba.njit(cache=True, nogil=True)
def best_and_margin(s, sgn, p, E, has_drop, col, margin, own):
    """One pass: col[i] = row i's best column under p, as ``greedy_start`` writes it before counting (-1: no
    allowed column, -2 or less: an invalid entry), and, without a drop column, margin[i] its best value
    minus its second best (+inf: no second) and, unless ``own`` is empty, own[i] its score there. The
    count-balancing steps' pass, the first of ``greedy_then_arcs``' two and the start of ``near_exact``."""
    n = s.shape[0]
    ahead = rows_ahead(s)
    keep = own.shape[0] > 0
    for i in numba.prange(n):
        prefetch_row(s, i + ahead)
        bad, j, v, w = checked_argmax(s, i, sgn, p, E, has_drop)
        col[i] = -1 - bad if bad else j
        if not bad and j >= 0 and not has_drop:
            margin[i] = v - w
            if keep:
                own[i] = sgn * s[i, j]


@numba.njit(cache=True, nogil=True)
def greedy_status(col, cnt):
    """The serial tail of a greedy pass that wrote ``col[i] = -1 - row_invalid(...)`` for invalid rows and
    -1 for rows without an allowed column: the status (invalid entries first, NaN before infinity) and,
    when OK, the column counts."""
    n = col.shape[0]
    worst = 0
    for i in range(n):
        if col[i] < -1 and -1 - col[i] > worst:
            worst = -1 - col[i]
    if worst:
        return STATUS_NAN if worst == 2 else STATUS_INVALID
    cnt[:] = 0
    for i in range(n):
        j = col[i]
        if j < 0:
            return STATUS_INFEASIBLE
        cnt[j] += 1
    return STATUS_OK


@numba.njit(cache=True, nogil=True, inline="always")
def listed_rows(rows, n):
    """How many rows a loop over ``rows`` visits: a list of row indices, or all n rows when it is empty (the
    loop's k-th row is ``rows[k]``, or k). The exact phase of a warm start works on a smaller problem whose
    rows lie among all n (``_balanced_ssp.near_exact``): its loops over rows visit those alone."""
    return rows.shape[0] if rows.shape[0] > 0 else n


@numba.njit(cache=True, nogil=True, inline="always")
def listed_row(rows, k):
    """The k-th row of a loop over ``rows`` (``listed_rows``): rows[k], or k when the list is empty."""
    return rows[k] if rows.shape[0] > 0 else k


@numba.njit(cache=True, nogil=True)
def member_slots(col, cnt, capx, grow, rows):
    """Members of each column in contiguous slots: (mem, lo, hi, end, pos), the rows of column a in
    ``mem[lo[a]:hi[a]]`` in row order, room up to ``end[a]``, ``pos[i]`` the slot of row i (rows with
    col[i] < 0 are left out). A scan of a column's members then loads their rows in parallel, where a linked
    list waits for each. Room for max(cnt[a], capx[a]) members, twice that plus 8 with ``grow`` (a column that
    may grow past it). ``rows``: the only rows that may be members, in row order (empty: every row; see
    ``listed_rows``)."""
    Ec = cnt.shape[0]
    lo = np.empty(Ec, np.int64)
    hi = np.empty(Ec, np.int64)
    end = np.empty(Ec, np.int64)
    t = 0
    for a in range(Ec):
        lo[a] = t
        hi[a] = t
        room = max(cnt[a], capx[a])
        t += 2 * room + 8 if grow else room
        end[a] = t
    mem = np.empty(t, np.int64)
    pos = np.empty(col.shape[0], np.int64)
    for k in range(listed_rows(rows, col.shape[0])):
        i = listed_row(rows, k)
        a = col[i]
        if a < 0:
            continue  # not a member of any column (``_balanced_ssp.near_exact``)
        mem[hi[a]] = i
        pos[i] = hi[a]
        hi[a] += 1
    return mem, lo, hi, end, pos


@numba.njit(cache=True, nogil=True)
def place_dummies(p, capx, cnt, dm, n_dummy):
    """Put the ``n_dummy`` dummy rows (score 0 everywhere) in columns of minimal price, filling free slots
    first; any left over go to the first such column (the exact phase then moves them on)."""
    Ec = p.shape[0]
    dm[:] = 0
    if n_dummy == 0:
        return
    pmin = INF
    for e in range(Ec):
        if capx[e] > 0 and p[e] < pmin:
            pmin = p[e]
    first = -1
    left = n_dummy
    for e in range(Ec):
        if capx[e] > 0 and p[e] == pmin:
            if first < 0:
                first = e
            room = capx[e] - cnt[e]
            if room > 0:
                put = room if room < left else left
                dm[e] += put
                left -= put
    if left > 0 and first >= 0:
        dm[first] += left


_SUM_BLOCKS = 4  # row blocks of the certificate's sums, in both compilations
_IN_CACHE_BYTES = 4 << 20  # a matrix up to this size is taken to be in cache (L2 here is 2 MiB per core)


@numba.njit(cache=True, nogil=True, inline="always")
def _neumaier(total, comp, x):
    """(total + x, comp + the rounding error of that addition): Neumaier's compensated summation step."""
    t = total + x
    comp += (total - t) + x if abs(total) >= abs(x) else (x - t) + total
    return t, comp


@numba.njit(cache=True, nogil=True)
def price_rises(p, p0, capx, E):
    """(ok, least, scale) of the prices' changes since ``p0`` over the columns with room: ok when none fell
    and every one is finite, least the smallest rise, scale the largest ``|p| + |p0|`` (for the rounding
    allowance of ``margin_holds``)."""
    ok = True
    least = INF
    scale = 0.0
    for e in range(E):
        if capx[e] > 0:
            rise = p[e] - p0[e]
            ok = ok and rise >= 0.0 and rise < INF
            least = min(least, rise)
            scale = max(scale, abs(p[e]) + abs(p0[e]))
    return ok, least, scale


@numba.njit(cache=True, nogil=True, inline="always")
def margin_holds(margin_i, rise_j, least, x, scale):
    """Whether a row whose best column j, found at the prices ``p0`` with ``margin_i`` over its second best,
    still has j as its best column now that p[j] rose by ``rise_j`` and no price by less than ``least``: the
    margin must exceed the difference by a rounding allowance wide against the row's score ``x`` and the
    prices' ``scale`` (``price_rises``)."""
    return margin_i - (rise_j - least) > 1e-9 * (abs(x) + scale)


@numba.njit(cache=True, nogil=True)
def finalize(s, sgn, p, E, has_drop, capx, col, cnt, prices_out, u_out, order_out, counts_out, p0, j0, margin, own):
    """Certificate and outputs of a finished state, all in the maximize orientation of ``sgn * s``.

    Normalizes the prices (the drop column's price to 0 when rows may be dropped, else the smallest price to
    0, which makes them >= 0 as "at most" capacities require), gives capacity-0 columns the smallest price
    that keeps the duals feasible, and computes the row duals ``u`` by a fresh scan or a proof from an earlier
    one (below), never from the invariant, so that the bound is honest. Returns (objective, bound, gap) where
    ``gap`` is summed from non-negative per-row and per-column slacks, so it does not suffer the cancellation
    of ``bound - objective`` on large values.

    ``p0``, ``j0``, ``margin`` (empty: none): the prices, each row's best column and the margin of its best
    value over its second best, from a full scan earlier in the solve (``greedy_arcs``). If no price has
    fallen since (the solvers only raise prices; checked here), a row still in column j0 whose margin exceeds
    the rise of p[j0] over the least rise still has j0 as its best column, and its u is read off that one
    entry instead of a scan of its row: the value the scan would find, bit for bit (the margin must clear
    the rounding by a wide factor, else the row is scanned).

    ``own`` (empty: none): each row's score in its column, ``sgn * s[i, col[i]]``, kept by the exact phase
    since the same scan (``greedy_arcs`` writes it, each row move updates it). With it, a row the proof
    covers is not read from the matrix at all: on a warm start that is ~95% of the rows, and their reads,
    one cache line per row anywhere in the matrix, were most of the certificate's time.
    """
    n = s.shape[0]
    if has_drop:
        shift = p[E]
    else:
        shift = INF
        for e in range(E):
            if capx[e] > 0 and p[e] < shift:
                shift = p[e]
        if shift == INF:
            shift = 0.0
    for e in range(E):
        prices_out[e] = p[e] - shift if capx[e] > 0 else INF
    for e in range(E):
        counts_out[e] = cnt[e]
    # Row duals; capacity-0 columns still have price +inf here, so they do not count.
    known = p0.shape[0] > 0 and not has_drop
    least = INF
    scale = 0.0
    if known:
        known, least, scale = price_rises(p, p0, capx, E)
    # The rows in _SUM_BLOCKS fixed blocks (on the threads when PARALLEL), each summing its rows' objective,
    # bound and gap terms as it goes, with Neumaier compensation; the blocks' sums are then added in order.
    # The same arithmetic in both compilations, and no serial pass over the rows.
    kept = own.shape[0] == n
    # A large matrix is likely not in cache. With ``own`` only the rows the proof does not cover are read
    # there (~5% on a warm start): each is asked for whole, far enough ahead (8x: the rows between cost
    # little). Otherwise each row's entry in its column is asked for, as before ``own`` (at 2048 x 128, in
    # cache, that measured within noise of asking for nothing or for the rows to scan).
    far = kept and n * E * s.itemsize > _IN_CACHE_BYTES
    ahead = rows_ahead(s) * (8 if far else 1)
    part = np.zeros((_SUM_BLOCKS, 5))
    for c in numba.prange(_SUM_BLOCKS):
        o, co, bd, cbd, gp = 0.0, 0.0, 0.0, 0.0, 0.0
        for i in range(c * n // _SUM_BLOCKS, (c + 1) * n // _SUM_BLOCKS):
            k = i + ahead
            if k < n and col[k] < E:
                jk = col[k]
                if not far:
                    prefetch(s, k, jk)
                elif not (known and jk == j0[k] and margin[k] - (p[jk] - p0[jk] - least) > 0.0):
                    prefetch_row(s, k)
            j = col[i]
            if j < E:
                x = own[i] if kept else sgn * s[i, j]
            else:
                x = 0.0
            if known and j == j0[i] and margin_holds(margin[i], p[j] - p0[j], least, x, scale):
                u = x - prices_out[j]
            else:
                u = row_max(s, i, sgn, prices_out, E)
                if has_drop and u < 0.0:
                    u = 0.0
            u_out[i] = u
            bd, cbd = _neumaier(bd, cbd, u)
            if j < E:
                o, co = _neumaier(o, co, x)
                gp += u - (x - prices_out[j])  # >= 0: the row's shortfall from its best value
            else:
                gp += u  # a dropped row forgoes u >= 0
        part[c, 0] = o
        part[c, 1] = co
        part[c, 2] = bd
        part[c, 3] = cbd
        part[c, 4] = gp
    obj, cobj, bnd, cb, gap = 0.0, 0.0, 0.0, 0.0, 0.0
    for c in range(_SUM_BLOCKS):
        obj, cobj = _neumaier(obj, cobj, part[c, 0])
        cobj += part[c, 1]
        bnd, cb = _neumaier(bnd, cb, part[c, 2])
        cb += part[c, 3]
        gap += part[c, 4]
    # Capacity-0 columns: the least price with u[i] + p[e] >= score (>= 0 unless rows are dropped).
    for e in range(E):
        if capx[e] == 0:
            need = -INF
            for i in range(n):
                t = sgn * s[i, e] - u_out[i]
                if t > need:
                    need = t
            if not has_drop and need < 0.0:
                need = 0.0
            if need == -INF:
                need = 0.0
            prices_out[e] = need
    for e in range(E):
        if capx[e] > 0:
            bnd, cb = _neumaier(bnd, cb, capx[e] * prices_out[e])
            gap += (capx[e] - cnt[e]) * prices_out[e]  # free slots of a priced column
    # Stable counting sort: rows grouped by column in ascending order, dropped rows last.
    start = np.zeros(E + 1, np.int64)
    for e in range(E):
        start[e + 1] = start[e] + cnt[e]
    nd = start[E]
    for i in range(n):
        j = col[i]
        if j < E:
            order_out[start[j]] = i
            start[j] += 1
        else:
            order_out[nd] = i
            nd += 1
    return obj + cobj, bnd + cb, abs(gap)
