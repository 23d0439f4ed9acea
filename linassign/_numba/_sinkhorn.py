"""Log-domain Sinkhorn for entropic optimal transport (numba).

Problem, in the minimize orientation of ``h = sign * c`` (``sign = -1`` maximizes ``c``)::

    min_P  <P, h> - reg * H(P)   s.t.  P 1 = a,  P^T 1 = b,  P >= 0,   H(P) = -sum P_ij (log P_ij - 1)

Dual convention (the one of POT's ``sinkhorn_log`` with ``f = reg * log_u``, ``g = reg * log_v``, and of
ott-jax)::

    P_ij = exp((f_i + g_j - h_ij) / reg)

Each iteration is a column update (``g`` such that ``P^T 1 = b``) followed by a row update (``f`` such that
``P 1 = a``), in that order, as POT does, so that ``n`` iterations from the same start give POT's iterate.

Stability without a max pass. Kernels work on the scaled potentials ``phi = f / reg``, ``psi = g / reg`` and
evaluate the log-plan entries ``phi_i + psi_j - h_ij / reg`` directly, shifted by the target marginal's log,
so that at (near) convergence every exponent is <= 0 and the largest is close to 0: the potentials of the
previous half-iteration are a good log-sum-exp shift. One branch-free pass sums the shifted exponentials (our
own vectorizable polynomial, ``exp_fast``), and the sum itself tells whether the shift was good: inside
``[e^-WINDOW, e^WINDOW]`` nothing overflowed and the largest term is a normal double. Otherwise (far from
convergence: a cold start at small ``reg``, a poor warm start) the row is recomputed with its exact max as shift,
and a column sum that came out too small is recomputed in the log domain. This has the stability of the online
log-sum-exp without its per-element rescaling branch; a running max in the same loop, the other single-pass
option, stops LLVM from vectorizing it (measured 8x slower).

Memory traffic. A row update needs only that row; the column sums of the *updated* plan can be accumulated
from the same row while it sits in L1 cache. So one streaming pass over the matrix does the row update of
iteration k and the column sums that the column update of iteration k+1 needs (per-block partial sums, blocks
of rows in parallel); the column sums also give the exact marginal error and the transport cost of the current
plan for free. One pass per iteration instead of two (POT makes about ten, with temporaries).
"""

import math

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from ._common import STATUS_INFEASIBLE, STATUS_MAX_ITER, STATUS_OK

# reassoc lets LLVM vectorize the sum reductions; no nnan/ninf: -inf marks zero mass and forbidden pairs.
_FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
# The exponential must not be reassociated: that would merge the two halves of the Cody-Waite split of ln 2.
_EXP_FASTMATH = {"nsz", "arcp", "contract", "afn"}

# A shifted sum outside [e^-WINDOW, e^WINDOW] is recomputed with the exact max as shift: inside it no term
# overflowed and the largest (exponent >= -WINDOW - log m) is a normal double, so the sum is exact to rounding.
WINDOW = 600.0
_EXP_LO = math.exp(-WINDOW)
_EXP_HI = math.exp(WINDOW)

_LOG2E = 1.4426950408889634
_LN2_HI = 0.6931471803691238  # 32 trailing zero bits: k * _LN2_HI is exact for |k| <= 2**20
_LN2_LO = 1.9082149292705877e-10


if numba.config.DISABLE_JIT:  # pure Python (coverage runs): the same bits through a numpy view

    def _int64_bits_as_float64(x):
        return np.array(x, dtype=np.int64).view(np.float64)[()]

else:

    @intrinsic
    def _int64_bits_as_float64(typingctx, x):
        """Reinterpret the bits of an int64 as a float64 (LLVM bitcast, free in SIMD registers)."""
        sig = types.float64(types.int64)

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir.DoubleType())

        return sig, codegen


@numba.njit(cache=True, nogil=True, fastmath=_EXP_FASTMATH)
def exp_fast(x):
    """exp(x) for float64 x, relative error < 1e-15; exactly 0 for x < -708 (incl. -inf); x > 709 saturates.

    numba calls libm's scalar exp, which blocks vectorization; this branch-free version (Cody-Waite range
    reduction x = k ln2 + r, |r| <= ln2/2, a degree-12 Taylor polynomial in r, 2**k built from its bits)
    vectorizes and is 3-4x faster here. NaN never reaches it (inputs are validated).
    """
    xc = min(max(x, -708.0), 709.0)
    k = np.rint(xc * _LOG2E)
    r = (xc - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    e = p * _int64_bits_as_float64((np.int64(k) + 1023) << 52)
    return e if x > -708.0 else 0.0


@numba.njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _row_sums(c, i, buf):
    """(sum_j buf[j], sum_j buf[j] * c[i, j]) over the terms > 0 (forbidden pairs: 0), in a loop that only
    reads. Summed in the loop that writes ``buf``, the sums were vectorized or not by a runtime check of
    whether ``buf`` overlaps the other arrays, which depends on where they were allocated: the same input
    gave results differing in the last bit from call to call (found by a flaky test, fourteenth session)."""
    s = 0.0
    t = 0.0
    for j in range(c.shape[1]):
        e = buf[j]
        s += e
        t += e * c[i, j] if e > 0.0 else 0.0
    return s, t


@numba.njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _row_pass(c, i, scale, a_i, lga_i, phi, psi, buf, do_row):
    """Exponentials of row i, once: ``buf[j] = exp(y_j)``, ``y_j = shift + psi_j - h_ij / reg``.

    The shift is ``phi_i - log a_i`` (so ``y_j = log(P_ij / a_i)``, about <= 0 near convergence), or the row's
    exact max when the sum leaves ``[e^-W, e^W]``. ``do_row`` then sets ``phi_i`` so that the row sums to a_i
    (the row update). Returns ``(w, s, t)`` with ``P_ij = w * buf[j]`` for the (updated) potentials,
    ``s = sum_j buf[j]``, ``t = sum_j buf[j] * c_ij`` (forbidden pairs: 0); ``s == 0`` means the row has no
    allowed column of positive mass.
    """
    m = c.shape[1]
    p_i = phi[i]
    shift = p_i - lga_i if math.isfinite(p_i) else -lga_i  # a row without a usable warm start: shift 0
    for j in range(m):
        buf[j] = exp_fast(shift + psi[j] - c[i, j] * scale)
    s, t = _row_sums(c, i, buf)
    # s in [e^-W, e^W]: no overflow, and the largest term (exponent >= -W - log m) is a normal double.
    # (A running max in the loop above would be a second reduction, which stops LLVM from vectorizing it.)
    if not (_EXP_LO <= s <= _EXP_HI):
        ymax = -np.inf
        for j in range(m):
            ymax = max(ymax, shift + psi[j] - c[i, j] * scale)
        if ymax == -np.inf:
            return 0.0, 0.0, 0.0
        shift -= ymax
        for j in range(m):
            buf[j] = exp_fast(shift + psi[j] - c[i, j] * scale)
        s, t = _row_sums(c, i, buf)
    if do_row:
        phi[i] = (shift - math.log(s)) + lga_i
        return a_i / s, s, t
    return math.exp(p_i - shift), s, t  # P_ij = exp(phi_i + psi_j - h_ij / reg) = exp(p_i - shift) * buf[j]


@numba.njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _block_pass(c, scale, a, lga, phi, psi, r0, r1, do_rows, acc, out):
    """One streaming pass over rows r0:r1 (one thread's block): each row's exponentials are computed once
    (``_row_pass``), used for its row update when ``do_rows``, then, scaled to plan entries while the row is
    in L1, added to the partial column sums ``acc`` (m,) (``acc = P^T 1`` over the block).

    out[0] += sum_i |sum_j P_ij - a_i|, out[1] += sum_ij P_ij c_ij (forbidden pairs: 0),
    out[2] = 1 if a positive-mass row has no allowed column of positive mass (infeasible).
    """
    m = c.shape[1]
    buf = np.empty(m)
    row_err = 0.0
    cost = 0.0
    for i in range(r0, r1):
        if a[i] == 0.0:
            continue  # zero-mass row: phi = -inf, no mass
        w, s, t = _row_pass(c, i, scale, a[i], lga[i], phi, psi, buf, do_rows)
        if s == 0.0:
            out[2] = 1.0
            return
        for j in range(m):
            acc[j] += buf[j] * w
        row_err += abs(w * s - a[i])
        cost += w * t
    out[0] += row_err
    out[1] += cost


@numba.njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _col_lse_block(c, scale, phi, psi, r0, r1, colmax, acc, second):
    """Exact column log-sum-exp over rows r0:r1, in two passes (rare: a column sum out of range).

    With ``x_ij = phi_i + psi_j - h_ij / reg``: ``second`` False sets colmax[j] = max_i x_ij,
    ``second`` True adds exp(x_ij - colmax[j]) to acc[j].
    """
    m = c.shape[1]
    for i in range(r0, r1):
        p = phi[i]
        if p == -np.inf:
            continue
        if not second:
            for j in range(m):
                colmax[j] = max(colmax[j], p + psi[j] - c[i, j] * scale)
        else:
            for j in range(m):
                shift = colmax[j] if colmax[j] > -np.inf else 0.0  # -inf: no allowed row (infeasible), sum 0
                acc[j] += exp_fast(p + psi[j] - c[i, j] * scale - shift)


def _sinkhorn_py(c, sign, a, b, reg, f, g, tol, max_iter, nblk):
    """Log-domain Sinkhorn on one problem: the kernel shared by ``sinkhorn`` and balanced assignment.

    Parameters (all validated by the caller)
    ----------
    c : (n, m) float32 or float64, read-only. ``h = sign * c`` is minimized; ``h = +inf`` forbids a pair.
    sign : 1.0 to minimize, -1.0 to maximize.
    a : (n,) float64 >= 0, b : (m,) float64 >= 0, row and column marginals with equal sums (any total mass).
        Zero-mass rows and columns get potential -inf and no mass.
    reg : float > 0, the entropic regularization, in units of c.
    f : (n,) float64, g : (m,) float64, in/out. On entry the warm start (zeros: a cold start, as POT); on exit
        the potentials, with plan ``P_ij = exp((f_i + g_j - h_ij) / reg)``. The first step is a column update,
        so the answer depends on the entry ``f`` only (as with POT's warm start); the entry ``g`` is only used
        to measure the starting plan's marginal error (``n_iter = 0`` if it is already within ``tol``).
        Entries of ``f`` for rows with ``a_i > 0`` must be finite (``g`` likewise).
    tol : float >= 0. Stop when ``err = ||P 1 - a||_1 + ||P^T 1 - b||_1 <= tol``; checked every iteration at
        no extra cost (the column sums of each pass give it). After a row update ``P 1 = a`` up to rounding.
    max_iter : int >= 0, cap on iterations (one column update then one row update each, as POT counts).
    nblk : row blocks processed in parallel with their own partial column sums (the number of threads to use;
        1 when the caller is itself parallel, e.g. over a batch).

    Returns
    -------
    status : STATUS_OK (err <= tol), STATUS_MAX_ITER (stopped at max_iter with err > tol) or STATUS_INFEASIBLE
        (a positive-mass row or column has no allowed partner of positive mass); then f, g are unspecified.
    n_iter : iterations done.
    err : the L1 marginal error of the returned plan.
    cost : ``sum_ij P_ij c_ij`` of the returned plan (the caller's sense: c, not h); forbidden pairs add 0.
    """
    n, m = c.shape
    scale = sign / reg
    lga = np.empty(n)  # log a, -inf for zero mass (no log(0) warning in pure-Python runs)
    lgb = np.empty(m)
    for i in range(n):
        lga[i] = math.log(a[i]) if a[i] > 0.0 else -np.inf
    for j in range(m):
        lgb[j] = math.log(b[j]) if b[j] > 0.0 else -np.inf
    phi = np.empty(n)
    psi = np.empty(m)
    for i in range(n):
        phi[i] = f[i] / reg if a[i] > 0.0 else -np.inf
    for j in range(m):
        psi[j] = g[j] / reg if b[j] > 0.0 else -np.inf
    nblk = max(1, min(nblk, n))
    acc = np.empty((nblk, m))
    colmax = np.empty((nblk, m))
    outs = np.empty((nblk, 3))
    lcs = np.empty(m)  # log of the column sums P^T 1 of the current plan
    n_iter = 0
    do_rows = False  # the first pass only measures the starting plan
    while True:
        acc[:] = 0.0
        outs[:] = 0.0
        for blk in numba.prange(nblk):
            r0, r1 = blk * n // nblk, (blk + 1) * n // nblk
            _block_pass(c, scale, a, lga, phi, psi, r0, r1, do_rows, acc[blk], outs[blk])
        if outs[:, 2].sum() > 0.0:
            return STATUS_INFEASIBLE, n_iter, np.inf, np.nan
        exact = True
        for j in range(m):
            s = 0.0
            for blk in range(nblk):
                s += acc[blk, j]
            lcs[j] = math.log(s) if s > 0.0 else -np.inf
            # Plan entries are at most a_i, so a column sum can only be too small, never overflow; below
            # b_j e^-W it may be made of flushed or subnormal terms: recompute it in the log domain.
            if b[j] > 0.0 and not (lcs[j] - lgb[j] >= -WINDOW and lcs[j] < np.inf):
                exact = False
        if not exact:
            colmax[:] = -np.inf
            acc[:] = 0.0
            for blk in numba.prange(nblk):
                r0, r1 = blk * n // nblk, (blk + 1) * n // nblk
                _col_lse_block(c, scale, phi, psi, r0, r1, colmax[blk], acc[blk], False)
            for blk in range(1, nblk):
                for j in range(m):
                    colmax[0, j] = max(colmax[0, j], colmax[blk, j])
            for blk in range(1, nblk):
                colmax[blk, :] = colmax[0, :]
            for blk in numba.prange(nblk):
                r0, r1 = blk * n // nblk, (blk + 1) * n // nblk
                _col_lse_block(c, scale, phi, psi, r0, r1, colmax[blk], acc[blk], True)
            for j in range(m):
                if b[j] > 0.0:
                    if colmax[0, j] == -np.inf:
                        return STATUS_INFEASIBLE, n_iter, np.inf, np.nan
                    s = 0.0
                    for blk in range(nblk):
                        s += acc[blk, j]
                    lcs[j] = colmax[0, j] + math.log(s)
        err = outs[:, 0].sum()
        for j in range(m):
            err += abs(math.exp(lcs[j]) - b[j]) if b[j] > 0.0 else math.exp(lcs[j])
        cost = outs[:, 1].sum()
        if err <= tol:
            status = STATUS_OK
            break
        if n_iter >= max_iter:
            status = STATUS_MAX_ITER
            break
        # Column update of iteration n_iter + 1 (psi += log b - log P^T 1); its row update is the next pass.
        for j in range(m):
            if b[j] > 0.0:
                psi[j] += lgb[j] - lcs[j]
        do_rows = True
        n_iter += 1
    for i in range(n):
        f[i] = reg * phi[i]
    for j in range(m):
        g[j] = reg * psi[j]
    return status, n_iter, err, cost


sinkhorn_log = numba.njit(_sinkhorn_py, cache=True, nogil=True, parallel=True)
_sinkhorn_serial = numba.njit(_sinkhorn_py, cache=True, nogil=True)


def _sinkhorn_batch_py(c, sign, a, b, reg, f, g, tol, max_iter, status, n_iter, err, cost):
    """B independent problems c[k] (n, m) with marginals a[k], b[k]; outputs indexed by k. Parallel over k."""
    for k in numba.prange(c.shape[0]):
        s, it, e, co = _sinkhorn_serial(c[k], sign, a[k], b[k], reg, f[k], g[k], tol, max_iter, 1)
        status[k] = s
        n_iter[k] = it
        err[k] = e
        cost[k] = co


sinkhorn_log_batch = numba.njit(_sinkhorn_batch_py, cache=True, nogil=True, parallel=True)


@numba.njit(cache=True, nogil=True, parallel=True, fastmath=_FASTMATH)
def sinkhorn_plan(c, sign, f, g, reg, plan):
    """plan[i, j] = exp((f_i + g_j - sign * c_ij) / reg) in place; c (n, m), plan (n, m) float32/float64."""
    n, m = c.shape
    scale = sign / reg
    psi = g / reg
    for i in numba.prange(n):
        p = f[i] / reg
        for j in range(m):
            plan[i, j] = exp_fast(p + psi[j] - c[i, j] * scale)


# ----------------------------------------------------------------------------------------------------------
# Host wrappers: validated arrays in, numpy arrays out (f, g in the caller's sense), status -> exception
# ----------------------------------------------------------------------------------------------------------

from .._config import CONFIG  # noqa: E402

_INFEASIBLE_MSG = "cost matrix is infeasible"


def _schedule(h_spread, reg, anneal, max_iter):
    """(reg, iterations) stages: geometric decrease from the cost spread down to reg when ``anneal``."""
    stages = []
    if anneal and h_spread > 0.0:
        r = CONFIG["sinkhorn_anneal_start"] * h_spread
        while r > reg:
            stages.append((r, CONFIG["sinkhorn_anneal_iters"]))
            r *= CONFIG["sinkhorn_anneal_factor"]
    stages.append((reg, max_iter))
    return stages


def _spread(c, sign):
    """max - min of the allowed entries of h = sign * c (the scale the annealing starts from)."""
    h = sign * c
    finite = h[np.isfinite(h)]
    return float(finite.max() - finite.min()) if finite.size else 0.0


def solve_sinkhorn(cost, a, b, reg, maximize, tol, max_iter, init, return_plan, anneal):
    """Entropic OT on one (n, m) matrix. ``a`` (n,), ``b`` (m,) float64 with equal sums; ``init`` None or
    (f, g) float64 in the caller's sense. Returns f, g (caller's sense), plan (or None), cost, marginal_error,
    converged, n_iter."""
    c = np.ascontiguousarray(cost)
    n, m = c.shape
    sign = -1.0 if maximize else 1.0
    if init is None:
        f = np.zeros(n)
        g = np.zeros(m)
    else:
        f = sign * np.asarray(init[0], dtype=np.float64)  # to the minimize orientation of h = sign * c
        g = sign * np.asarray(init[1], dtype=np.float64)
    if n == 0 or m == 0:
        plan = np.zeros(c.shape, c.dtype) if return_plan else None
        out = {"f": f, "g": g, "plan": plan, "cost": 0.0, "marginal_error": 0.0}
        return {**out, "converged": True, "n_iter": 0}
    stages = _schedule(_spread(c, sign), reg, anneal and init is None, max_iter)
    # Small problems run serially: a parallel region per pass costs more than the pass itself.
    parallel = c.size >= CONFIG["sinkhorn_parallel_min_size"] and numba.get_num_threads() > 1
    kernel, nblk = (sinkhorn_log, numba.get_num_threads()) if parallel else (_sinkhorn_serial, 1)
    n_iter = 0
    for k, (r, iters) in enumerate(stages):
        last = k == len(stages) - 1
        budget = max_iter - n_iter if last else min(iters, max_iter - n_iter)
        status, it, err, tcost = kernel(c, sign, a, b, r, f, g, tol, budget, nblk)
        if status == STATUS_INFEASIBLE:
            raise ValueError(_INFEASIBLE_MSG)
        n_iter += it
    plan = None
    if return_plan:
        plan = np.empty(c.shape, c.dtype)
        sinkhorn_plan(c, sign, f, g, reg, plan)
    return {
        "f": sign * f,
        "g": sign * g,
        "plan": plan,
        "cost": float(tcost),
        "marginal_error": float(err),
        "converged": bool(status == STATUS_OK),
        "n_iter": int(n_iter),
    }


def solve_sinkhorn_batch(cost, a, b, reg, maximize, tol, max_iter, init, return_plan, anneal):
    """B problems (B, n, m) at once, in parallel over the batch. ``a`` (B, n), ``b`` (B, m); ``init`` None or
    (f (B, n), g (B, m)). Same outputs as ``solve_sinkhorn``, batched."""
    c = np.ascontiguousarray(cost)
    bsz, n, m = c.shape
    sign = -1.0 if maximize else 1.0
    if init is None:
        f = np.zeros((bsz, n))
        g = np.zeros((bsz, m))
    else:
        f = sign * np.asarray(init[0], dtype=np.float64)
        g = sign * np.asarray(init[1], dtype=np.float64)
    status = np.full(bsz, STATUS_OK, np.int64)
    n_iter = np.zeros(bsz, np.int64)
    err = np.zeros(bsz)
    tcost = np.zeros(bsz)
    if bsz and n and m:
        a = np.ascontiguousarray(a)
        b = np.ascontiguousarray(b)
        stages = _schedule(_spread(c, sign), reg, anneal and init is None, max_iter)
        it = np.zeros(bsz, np.int64)
        for k, (r, iters) in enumerate(stages):
            last = k == len(stages) - 1
            # Items share a schedule; an item's budget is what it has left (all have the same here).
            budget = int(max_iter - n_iter.max()) if last else int(min(iters, max_iter - n_iter.max()))
            sinkhorn_log_batch(c, sign, a, b, r, f, g, tol, max(budget, 0), status, it, err, tcost)
            bad = np.flatnonzero(status == STATUS_INFEASIBLE)
            if bad.size:
                raise ValueError(f"{_INFEASIBLE_MSG} (batch items {bad[:10].tolist()})")
            n_iter += it
    plan = None
    if return_plan:
        plan = np.empty(c.shape, c.dtype)
        for k in range(bsz):
            sinkhorn_plan(c[k], sign, f[k], g[k], reg, plan[k])
    return {
        "f": sign * f,
        "g": sign * g,
        "plan": plan,
        "cost": tcost,
        "marginal_error": err,
        "converged": status == STATUS_OK,
        "n_iter": n_iter,
    }
