"""Explicit SIMD for the row scans of the balanced kernels: a row's best column, its value, its second-best
value and a validity sum, in one pass over the row.

The passes over the matrix (the greedy start, the count-balancing steps, the arc minima's pass, the auction's
bids) each need, per row, the best of ``x[e] = sgn * s[i, e] - p[e]``, the lowest column reaching it and the
best of the other columns. LLVM vectorizes a plain maximum (``fmax``) but not an argmax, nor a second
maximum, so these took three scans per row (maximum, first index at it, maximum except it): 85-90 ns per row
of 128 float64. Written as explicit vector code, one scan keeps per lane the best value, the lowest index at
it and the second-best value, in four independent sets of lanes (so that no iteration waits on the one
before), then merges the sets and the lanes: 40-48 ns per row of 128, about one plain maximum scan.

The exact phase's Dijkstra step (``relax_lanes``) has the same shape: relax a settled column's arcs and find
the lowest column at the least key, an argmin LLVM does not vectorize either; one vector pass does both.

The passes also ask for the rows they will read next (``prefetch_row``, LLVM's ``prefetch``): with their
work per row, the hardware's own prefetching left them waiting on memory for the matrices not in cache.

The vector code is LLVM IR emitted by a numba ``intrinsic`` (llvmlite builds it; numba inlines and caches it
with its caller). The vectors are 8 doubles wide; on a CPU without AVX-512 LLVM splits them in halves.
"""

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from ._common import fmax

LANES = 8  # entries per vector
_SETS = 4  # independent sets of lanes in the main loop
_NONE = 1 << 62  # the index of a lane that has seen no entry above -inf
TIE = 1 << 40  # set in a Dijkstra predecessor (``relax_lanes``): another settled column reached it at its key

_FAST = ("nsz", "arcp", "contract", "afn", "reassoc")  # as FASTMATH: no nnan/ninf, -inf must compare
_MINMAX = ("nnan", "nsz")  # on maxnum/minnum only: they then lower to one instruction (see ``fmax``)


@numba.njit(cache=True, nogil=True, inline="always")
def top2_scalar(s, i, sgn, p, lo, hi, best, second, j, total):
    """``top2_lanes``' state (best, second, j, total) carried on over the entries lo <= e < hi of row i, whose
    indices are above all those already seen: the scalar definition of the vector code, the tail of
    ``row_top2`` and the reference of the tests (from -inf, -inf, ``_NONE``, 0)."""
    for e in range(lo, hi):
        y = sgn * np.float64(s[i, e])  # in float64, as the vector code (python float * float32 is float32)
        x = y - p[e]
        total += y
        if x > best:
            second = best
            best = x
            j = e
        elif x > second:
            second = x
    return best, second, j, total


class _Emitter:
    """Helpers to emit vector IR into the function being built: constants, splats, intrinsic calls and
    counted loops whose state is a list of values."""

    def __init__(self, builder):
        self.b = builder
        self.i32 = ir.IntType(32)
        self.i64 = ir.IntType(64)
        self.dbl = ir.DoubleType()
        self.vd = ir.VectorType(self.dbl, LANES)
        self.vi = ir.VectorType(self.i64, LANES)
        self.lane = ir.Constant(self.vi, list(range(LANES)))

    def vconst(self, vt, v):
        return ir.Constant(vt, [v] * LANES)

    def fn(self, name, ret, *arg_types):
        return cgutils.get_or_insert_function(self.b.module, ir.FunctionType(ret, list(arg_types)), name)

    def splat(self, v, vt):
        b = self.b
        one = b.insert_element(ir.Constant(vt, ir.Undefined), v, ir.Constant(self.i32, 0))
        zeros = ir.Constant(ir.VectorType(self.i32, LANES), [0] * LANES)
        return b.shuffle_vector(one, ir.Constant(vt, ir.Undefined), zeros)

    def vmax(self, x, y):
        return self.b.call(self.fn(f"llvm.maxnum.v{LANES}f64", self.vd, self.vd, self.vd), [x, y], fastmath=_MINMAX)

    def vmin(self, x, y):
        return self.b.call(self.fn(f"llvm.minnum.v{LANES}f64", self.vd, self.vd, self.vd), [x, y], fastmath=_MINMAX)

    def reduce_max(self, v):
        return self.b.call(self.fn(f"llvm.vector.reduce.fmax.v{LANES}f64", self.dbl, self.vd), [v], fastmath=_MINMAX)

    def reduce_min(self, v):
        return self.b.call(self.fn(f"llvm.vector.reduce.fmin.v{LANES}f64", self.dbl, self.vd), [v], fastmath=_MINMAX)

    def reduce_smin(self, v):
        return self.b.call(self.fn(f"llvm.vector.reduce.smin.v{LANES}i64", self.i64, self.vi), [v])

    def load(self, ptr, e, vt, align):
        """The vector of ``vt`` at ``ptr + e`` (element pointer, element offset)."""
        return self.b.load(self.b.bitcast(self.b.gep(ptr, [e]), vt.as_pointer()), align=align)

    def store(self, v, ptr, e, align):
        self.b.store(v, self.b.bitcast(self.b.gep(ptr, [e]), v.type.as_pointer()), align=align)

    def row(self, context, ary_ty, ary, i):
        """Pointer to the first element of row i of a C-contiguous 2-D array."""
        b = self.b
        a = context.make_array(ary_ty)(context, b, ary)
        stride = cgutils.unpack_tuple(b, a.strides, 2)[0]
        ptr = b.gep(b.bitcast(a.data, ir.IntType(8).as_pointer()), [b.mul(i, stride)])
        return b.bitcast(ptr, context.get_data_type(ary_ty.dtype).as_pointer())

    def data(self, context, ary_ty, ary):
        return context.make_array(ary_ty)(context, self.b, ary).data

    def loop(self, name, start, stop, stride, inits, body):
        """``for e in range(start, stop - stride + 1, stride): state = body(e, state)``; the final state."""
        b = self.b
        i64 = self.i64

        def more(e):
            return b.icmp_signed("<", b.add(e, ir.Constant(i64, stride - 1)), stop)

        before = b.block
        head = b.append_basic_block(name)
        out = b.append_basic_block(name + ".out")
        b.cbranch(more(start), head, out)
        b.position_at_end(head)
        e = b.phi(i64)
        state = [b.phi(v.type) for v in inits]
        new = body(e, state)
        nxt = b.add(e, ir.Constant(i64, stride))
        e.add_incoming(start, before)
        e.add_incoming(nxt, b.block)
        for phi, x, y in zip(state, inits, new, strict=True):
            phi.add_incoming(x, before)
            phi.add_incoming(y, b.block)
        last = b.block
        b.cbranch(more(nxt), head, out)
        b.position_at_end(out)
        final = []
        for x, y in zip(inits, new, strict=True):
            phi = b.phi(x.type)
            phi.add_incoming(x, before)
            phi.add_incoming(y, last)
            final.append(phi)
        return final

    def branches(self, cond, body):
        """``body(True)`` where ``cond`` holds, else ``body(False)``: the values it returns, merged."""
        b = self.b
        yes = b.append_basic_block("if.true")
        no = b.append_basic_block("if.false")
        join = b.append_basic_block("if.join")
        b.cbranch(cond, yes, no)
        ends = []
        for block, flag in ((yes, True), (no, False)):
            b.position_at_end(block)
            vals = body(flag)
            ends.append((b.block, vals))
            b.branch(join)
        b.position_at_end(join)
        merged = []
        for k in range(len(ends[0][1])):
            phi = b.phi(ends[0][1][k].type)
            for block, vals in ends:
                phi.add_incoming(vals[k], block)
            merged.append(phi)
        return merged

    def sets_loop(self, name, n, nsets, init, step):
        """``step(e, state)`` over the vectors of e < n (n a multiple of LANES): ``nsets`` independent states
        in the main loop (so that no iteration waits on the one before), then the whole vectors left into
        the first; returns the list of states (the first one last updated)."""
        b = self.b
        width = ir.Constant(self.i64, LANES * nsets)

        def body(e, state):
            new = []
            k = len(init)
            for t in range(nsets):
                new += step(b.add(e, ir.Constant(self.i64, t * LANES)), state[k * t : k * t + k])
            return new

        final = self.loop(name + ".sets", ir.Constant(self.i64, 0), n, LANES * nsets, init * nsets, body)
        k = len(init)
        return [final[k * t : k * t + k] for t in range(nsets)], b.mul(b.sdiv(n, width), width)


def _codegen_top2(s_ty):
    """The IR of ``top2_lanes`` for a C-contiguous 2-D float32/float64 ``s``."""
    f32 = s_ty.dtype == types.float32

    def codegen(context, builder, signature, args):
        s, i, sgn, p, n = args
        em = _Emitter(builder)
        vd, vi = em.vd, em.vi
        ve = ir.VectorType(ir.FloatType() if f32 else em.dbl, LANES)
        i = context.cast(builder, i, signature.args[1], types.int64)
        sgn = context.cast(builder, sgn, signature.args[2], types.float64)
        n = context.cast(builder, n, signature.args[4], types.int64)
        row = em.row(context, signature.args[0], s, i)
        pp = em.data(context, signature.args[3], p)
        vsgn = em.splat(sgn, vd)

        def lanes(plus):
            """The lanes (best, index, second, sum) after the scan, with sgn known to be +1 (``plus``: no
            multiply per entry) or not."""

            def step(e, state):
                """One vector of entries e .. e + LANES - 1 into a set of lanes."""
                m1, j1, m2, t = state
                y = em.load(row, e, ve, 4 if f32 else 8)
                if f32:
                    y = builder.fpext(y, vd)
                if not plus:
                    y = builder.fmul(vsgn, y, flags=_FAST)
                x = builder.fsub(y, em.load(pp, e, vd, 8), flags=_FAST)
                above = builder.fcmp_ordered(">", x, m1)  # strictly: a lane keeps its first index at its best
                return [
                    em.vmax(m1, x),
                    builder.select(above, builder.add(em.splat(e, vi), em.lane), j1),
                    em.vmax(m2, em.vmin(x, m1)),  # the old best when x beats it, else x when x beats the second
                    builder.fadd(t, y, flags=_FAST),
                ]

            empty = [em.vconst(vd, -np.inf), em.vconst(vi, _NONE), em.vconst(vd, -np.inf), em.vconst(vd, 0.0)]
            sets, done = em.sets_loop("top2", n, _SETS, empty, step)
            # Merge the sets lane by lane: the higher best (the lower index on equal ones), the higher second
            # among both seconds and the lower best.
            m1, j1, m2, t = sets[0]
            for b1, bj, b2, bt in sets[1:]:
                take = builder.or_(
                    builder.fcmp_ordered(">", b1, m1),
                    builder.and_(builder.fcmp_ordered("==", b1, m1), builder.icmp_signed("<", bj, j1)),
                )
                m2 = em.vmax(em.vmax(m2, b2), em.vmin(m1, b1))
                j1 = builder.select(take, bj, j1)
                m1 = em.vmax(m1, b1)
                t = builder.fadd(t, bt, flags=_FAST)
            # The whole vectors left (n not a multiple of LANES * _SETS): their indices are above all others.
            return em.loop("top2.rest", done, n, LANES, [m1, j1, m2, t], step)

        # sgn is +1 (maximize) or -1: the common case without a multiply per entry (9% of the scan).
        m1, j1, m2, t = em.branches(builder.fcmp_ordered("==", sgn, ir.Constant(em.dbl, 1.0)), lanes)
        # Merge the lanes: the best, the lowest index reaching it, and the best of that lane's second and
        # the other lanes' bests.
        best = em.reduce_max(m1)
        at_best = builder.fcmp_ordered("==", m1, em.splat(best, vd))
        j = em.reduce_smin(builder.select(at_best, j1, em.vconst(vi, _NONE)))
        mine = builder.icmp_signed("==", j1, em.splat(j, vi))
        second = em.reduce_max(builder.select(mine, m2, m1))
        radd = em.fn(f"llvm.vector.reduce.fadd.v{LANES}f64", em.dbl, em.dbl, vd)
        total = builder.call(radd, [ir.Constant(em.dbl, 0.0), t], fastmath=_FAST)
        return cgutils.make_anonymous_struct(builder, [best, second, j, total])

    return codegen


@numba.njit(cache=True, nogil=True, inline="always")
def relax_scalar(M, e, de, pe, p, key, pred, lo, hi, mn, j, ties):
    """``relax_lanes`` over the columns lo <= b < hi, carrying on its (mn, j) from columns below lo: the scalar
    definition of the vector code, the tail of ``_balanced_ssp._relax`` and the reference of the tests
    (from +inf, ``_NONE``)."""
    for b in range(lo, hi):
        nd = de + fmax(M[e, b] - pe + p[b], 0.0)
        if nd < key[b]:  # never for a settled column: its key is NaN
            key[b] = nd
            pred[b] = e
        elif ties and nd == key[b]:
            pred[b] |= TIE  # -1 (no predecessor) stays -1
        if key[b] < mn:
            mn = key[b]
            j = b
    return mn, j


def _codegen_relax(context, builder, signature, args):
    """The IR of ``relax_lanes``."""
    M, e, de, pe, p, key, pred, n, ties = args
    em = _Emitter(builder)
    vd, vi = em.vd, em.vi
    e = context.cast(builder, e, signature.args[1], types.int64)
    de = context.cast(builder, de, signature.args[2], types.float64)
    pe = context.cast(builder, pe, signature.args[3], types.float64)
    n = context.cast(builder, n, signature.args[7], types.int64)
    ties = context.cast(builder, ties, signature.args[8], types.boolean)
    row = em.row(context, signature.args[0], M, e)
    pp, kp, qp = (em.data(context, signature.args[k], a) for k, a in ((4, p), (5, key), (6, pred)))
    vde = em.splat(de, vd)
    vpe = em.splat(pe, vd)
    ve = em.splat(e, vi)
    vtie = em.vconst(vi, TIE)
    zero = em.vconst(vd, 0.0)

    def lanes(mark):
        """The lanes (min, index) after the pass, marking ties in ``pred`` (``mark``) or not."""

        def step(b, state):
            """Relax the arcs e -> b .. b + LANES - 1 and fold the new keys into a set of lanes (min, index)."""
            lmin, lidx = state
            # As the scalar loop: (M[e, b] - pe) + p[b], no reassociation, so that keys are bit for bit the same.
            rc = builder.fadd(builder.fsub(em.load(row, b, vd, 8), vpe), em.load(pp, b, vd, 8))
            nd = builder.fadd(vde, em.vmax(rc, zero))
            kb = em.load(kp, b, vd, 8)
            upd = builder.fcmp_ordered("<", nd, kb)  # false on a settled column's NaN
            nk = builder.select(upd, nd, kb)
            em.store(nk, kp, b, 8)
            q = em.load(qp, b, vi, 8)
            if mark:  # the bit rides on the predecessor already loaded and stored
                q = builder.or_(q, builder.select(builder.fcmp_ordered("==", nd, kb), vtie, em.vconst(vi, 0)))
            em.store(builder.select(upd, ve, q), qp, b, 8)
            # Strictly below: a lane keeps its first index at its minimum, and never takes a NaN.
            below = builder.fcmp_ordered("<", nk, lmin)
            return [builder.select(below, nk, lmin), builder.select(below, builder.add(em.splat(b, vi), em.lane), lidx)]

        empty = [em.vconst(vd, np.inf), em.vconst(vi, _NONE)]
        sets, done = em.sets_loop("relax", n, 2, empty, step)
        lmin, lidx = sets[0]
        for bmin, bidx in sets[1:]:
            take = builder.or_(
                builder.fcmp_ordered("<", bmin, lmin),
                builder.and_(builder.fcmp_ordered("==", bmin, lmin), builder.icmp_signed("<", bidx, lidx)),
            )
            lidx = builder.select(take, bidx, lidx)
            lmin = em.vmin(lmin, bmin)
        return em.loop("relax.rest", done, n, LANES, [lmin, lidx], step)

    # The tie marks cost ~5% of the exact phase (base 2048 x 128): a loop without them for phases that need none.
    lmin, lidx = em.branches(ties, lanes)
    mn = em.reduce_min(lmin)
    at_min = builder.fcmp_ordered("==", lmin, em.splat(mn, vd))
    j = em.reduce_smin(builder.select(at_min, lidx, em.vconst(vi, _NONE)))
    return cgutils.make_anonymous_struct(builder, [mn, j])


def _codegen_prefetch(context, builder, signature, args):
    """The IR of ``prefetch``: ``llvm.prefetch`` (read, keep in all cache levels, data) of &s[i, e]."""
    s, i, e = args
    em = _Emitter(builder)
    i = context.cast(builder, i, signature.args[1], types.int64)
    e = context.cast(builder, e, signature.args[2], types.int64)
    i8p = ir.IntType(8).as_pointer()
    ptr = builder.bitcast(builder.gep(em.row(context, signature.args[0], s, i), [e]), i8p)
    fn = em.fn("llvm.prefetch.p0i8", ir.VoidType(), i8p, em.i32, em.i32, em.i32)
    builder.call(fn, [ptr, ir.Constant(em.i32, 0), ir.Constant(em.i32, 3), ir.Constant(em.i32, 1)])
    return context.get_dummy_value()


def _c_array(t, ndim, *dtypes):
    """Whether numba type ``t`` is a C-contiguous array of ``ndim`` dimensions and one of ``dtypes``."""
    return isinstance(t, types.Array) and t.ndim == ndim and t.layout == "C" and t.dtype in dtypes


if numba.config.DISABLE_JIT:  # pure Python (coverage runs)

    def top2_lanes(s, i, sgn, p, n):
        return top2_scalar(s, i, sgn, p, 0, n, -np.inf, -np.inf, _NONE, 0.0)

    def relax_lanes(M, e, de, pe, p, key, pred, n, ties):
        return relax_scalar(M, e, de, pe, p, key, pred, 0, n, np.inf, _NONE, ties)

    def prefetch(s, i, e):
        pass

else:

    @intrinsic
    def top2_lanes(typingctx, s_ty, i_ty, sgn_ty, p_ty, n_ty):
        """(best, second, j, total) over the entries e < n of row i, n a multiple of ``LANES``: the best and
        second-best values of ``x[e] = sgn * s[i, e] - p[e]`` (equal ones on a tie; -inf when there are
        fewer than two entries above -inf), j the lowest index reaching the best (``_NONE`` when none is
        above -inf) and ``total``, the sum of ``sgn * s[i, e]`` in some order (NaN or +inf when the row
        holds a NaN or a +inf after the sign; it may also overflow). On a row holding a NaN only ``total``
        is meaningful. ``s`` C-contiguous 2-D float32 or float64, ``p`` C-contiguous float64."""
        if not (_c_array(s_ty, 2, types.float32, types.float64) and _c_array(p_ty, 1, types.float64)):
            return None
        out = types.Tuple((types.float64, types.float64, types.int64, types.float64))
        return out(s_ty, i_ty, sgn_ty, p_ty, n_ty), _codegen_top2(s_ty)

    @intrinsic
    def relax_lanes(typingctx, M_ty, e_ty, de_ty, pe_ty, p_ty, key_ty, pred_ty, n_ty, ties_ty):
        """One step of a dense Dijkstra over the columns b < n (n a multiple of ``LANES``) from the column e
        just settled at distance ``de``, with price ``pe``: where ``nd = de + max(M[e, b] - pe + p[b], 0)`` is
        below ``key[b]``, key[b] = nd and pred[b] = e; where it equals key[b] and ``ties``, pred[b] |= ``TIE``
        (a second shortest path; the bit goes with the predecessor when a key falls). A settled column has key
        NaN, which no comparison passes (this saves a mask array). Returns (mn, j): the least key after the
        step and the lowest b holding it (+inf and ``_NONE`` when no key is below +inf or n is 0). ``M``
        C-contiguous 2-D float64; ``p``, ``key`` float64 and ``pred`` int64, all C-contiguous 1-D."""
        f64 = types.float64
        i64 = types.int64
        ok = _c_array(M_ty, 2, f64) and _c_array(p_ty, 1, f64) and _c_array(key_ty, 1, f64)
        if not (ok and _c_array(pred_ty, 1, i64)):
            return None
        sig = types.Tuple((f64, i64))(M_ty, e_ty, de_ty, pe_ty, p_ty, key_ty, pred_ty, n_ty, ties_ty)
        return sig, _codegen_relax

    @intrinsic
    def prefetch(typingctx, s_ty, i_ty, e_ty):
        """A hint to load the cache line holding s[i, e] (which must lie inside the array); no effect on
        the results. ``s`` C-contiguous 2-D float32 or float64."""
        if not _c_array(s_ty, 2, types.float32, types.float64):
            return None
        return types.none(s_ty, i_ty, e_ty), _codegen_prefetch


# How far ahead a pass over the matrix asks for rows: about 8 KiB (8 rows of 128 float64; 4, 12, 16, 32 and
# 64 KiB measured no better). The hardware's own prefetching left a pass that computes per row waiting on
# memory: the greedy pass over a 16384 x 128 float64 matrix not in cache took 1.07 ms (0.42 ms in cache, 0.54
# ms for a bare sum over it), 0.63 ms asking for the rows ahead.
_AHEAD_BYTES = 8192
_LINE = 64


@numba.njit(cache=True, nogil=True, inline="always")
def rows_ahead(s):
    """How many rows ahead of the one it reads a pass over ``s`` asks for: about ``_AHEAD_BYTES``."""
    return max(1, _AHEAD_BYTES // max(1, s.shape[1] * s.itemsize))


@numba.njit(cache=True, nogil=True, inline="always")
def prefetch_row(s, k):
    """Ask for row k of ``s`` to be loaded into cache, if there is such a row (a hint: no effect on results)."""
    if k < s.shape[0]:
        for e in range(0, s.shape[1], _LINE // s.itemsize):
            prefetch(s, k, e)
