"""Explicit SIMD for the row scans of the balanced kernels: a row's best column, its value, its second-best
value and a validity sum, in one pass over the row.

The passes over the matrix (the greedy start, the count-balancing steps, the arc minima's pass, the auction's
bids) each need, per row, the best of ``x[e] = sgn * s[i, e] - p[e]``, the lowest column reaching it and the
best of the other columns. LLVM vectorizes a plain maximum (``fmax``) but not an argmax, nor a second
maximum, so these took three scans per row (maximum, first index at it, maximum except it): 85-90 ns per row
of 128 float64. Written as explicit vector code, one scan keeps per lane the best value, the lowest index at
it and the second-best value, in four independent sets of lanes (so that no iteration waits on the one
before), then merges the sets and the lanes: 40-48 ns per row of 128, about one plain maximum scan.

The vector code is LLVM IR emitted by a numba ``intrinsic`` (llvmlite builds it; numba inlines and caches it
with its caller). The vectors are 8 doubles wide; on a CPU without AVX-512 LLVM splits them in halves.
"""

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

LANES = 8  # entries per vector
_SETS = 4  # independent sets of lanes in the main loop
_NONE = 1 << 62  # the index of a lane that has seen no entry above -inf

_FAST = ("nsz", "arcp", "contract", "afn", "reassoc")  # as FASTMATH: no nnan/ninf, -inf must compare
_MINMAX = ("nnan", "nsz")  # on maxnum/minnum only: they then lower to one instruction (see ``fmax``)


def _top2_lanes_py(s, i, sgn, p, n):
    """The reference semantics of ``top2_lanes`` (and its pure-Python form for coverage runs)."""
    best = -np.inf
    second = -np.inf
    j = _NONE
    total = 0.0
    for e in range(n):
        y = sgn * float(s[i, e])  # in float64, as the vector code (python float * float32 is float32)
        x = y - p[e]
        total += y
        if x > best:
            second = best
            best = x
            j = e
        elif x > second:
            second = x
    return best, second, j, total


def _codegen_top2(s_ty):
    """The IR of ``top2_lanes`` for a C-contiguous 2-D float32/float64 ``s``."""
    f32 = s_ty.dtype == types.float32

    def codegen(context, builder, signature, args):
        s, i, sgn, p, n = args
        i32 = ir.IntType(32)
        i64 = ir.IntType(64)
        dbl = ir.DoubleType()
        elt = ir.FloatType() if f32 else dbl
        vd = ir.VectorType(dbl, LANES)
        ve = ir.VectorType(elt, LANES)
        vi = ir.VectorType(i64, LANES)
        i = context.cast(builder, i, signature.args[1], types.int64)
        sgn = context.cast(builder, sgn, signature.args[2], types.float64)
        n = context.cast(builder, n, signature.args[4], types.int64)
        sa = context.make_array(signature.args[0])(context, builder, s)
        pa = context.make_array(signature.args[3])(context, builder, p)
        stride = cgutils.unpack_tuple(builder, sa.strides, 2)[0]
        row = builder.gep(builder.bitcast(sa.data, ir.IntType(8).as_pointer()), [builder.mul(i, stride)])
        row = builder.bitcast(row, elt.as_pointer())
        mod = builder.module

        def fn(name, ret, *arg_types):
            return cgutils.get_or_insert_function(mod, ir.FunctionType(ret, list(arg_types)), name)

        vmax = fn(f"llvm.maxnum.v{LANES}f64", vd, vd, vd)
        vmin = fn(f"llvm.minnum.v{LANES}f64", vd, vd, vd)
        rmax = fn(f"llvm.vector.reduce.fmax.v{LANES}f64", dbl, vd)
        rmin = fn(f"llvm.vector.reduce.smin.v{LANES}i64", i64, vi)
        radd = fn(f"llvm.vector.reduce.fadd.v{LANES}f64", dbl, dbl, vd)

        def splat(v, vt):
            one = builder.insert_element(ir.Constant(vt, ir.Undefined), v, ir.Constant(i32, 0))
            zeros = ir.Constant(ir.VectorType(i32, LANES), [0] * LANES)
            return builder.shuffle_vector(one, ir.Constant(vt, ir.Undefined), zeros)

        def vmax_(a, b):
            return builder.call(vmax, [a, b], fastmath=_MINMAX)

        def vmin_(a, b):
            return builder.call(vmin, [a, b], fastmath=_MINMAX)

        vsgn = splat(sgn, vd)
        lane = ir.Constant(vi, list(range(LANES)))

        def step(e, state):
            """One vector of entries e .. e + LANES - 1 into a set of lanes (best, index, second, sum)."""
            m1, j1, m2, t = state
            ptr = builder.bitcast(builder.gep(row, [e]), ve.as_pointer())
            y = builder.load(ptr, align=4 if f32 else 8)
            if f32:
                y = builder.fpext(y, vd)
            y = builder.fmul(vsgn, y, flags=_FAST)
            pv = builder.load(builder.bitcast(builder.gep(pa.data, [e]), vd.as_pointer()), align=8)
            x = builder.fsub(y, pv, flags=_FAST)
            above = builder.fcmp_ordered(">", x, m1)  # strictly: a lane keeps its first index at its best
            return (
                vmax_(m1, x),
                builder.select(above, builder.add(splat(e, vi), lane), j1),
                vmax_(m2, vmin_(x, m1)),  # the old best when x beats it, else x when x beats the second
                builder.fadd(t, y, flags=_FAST),
            )

        def loop(name, start, stop, stride, inits, body):
            """``for e in range(start, stop - stride + 1, stride): state = body(e, state)``; the final state."""
            before = builder.block
            head = builder.append_basic_block(name)
            out = builder.append_basic_block(name + ".out")
            builder.cbranch(builder.icmp_signed("<", builder.add(start, ir.Constant(i64, stride - 1)), stop), head, out)
            builder.position_at_end(head)
            e = builder.phi(i64)
            state = [builder.phi(v.type) for v in inits]
            new = body(e, state)
            nxt = builder.add(e, ir.Constant(i64, stride))
            e.add_incoming(start, before)
            e.add_incoming(nxt, head)
            for phi, a, b in zip(state, inits, new, strict=True):
                phi.add_incoming(a, before)
                phi.add_incoming(b, head)
            more = builder.icmp_signed("<", builder.add(nxt, ir.Constant(i64, stride - 1)), stop)
            builder.cbranch(more, head, out)
            builder.position_at_end(out)
            final = []
            for a, b in zip(inits, new, strict=True):
                phi = builder.phi(a.type)
                phi.add_incoming(a, before)
                phi.add_incoming(b, head)
                final.append(phi)
            return final

        empty = [
            ir.Constant(vd, [-np.inf] * LANES),
            ir.Constant(vi, [_NONE] * LANES),
            ir.Constant(vd, [-np.inf] * LANES),
            ir.Constant(vd, [0.0] * LANES),
        ]

        def main_body(e, state):
            new = []
            for k in range(_SETS):
                new += step(builder.add(e, ir.Constant(i64, k * LANES)), state[4 * k : 4 * k + 4])
            return new

        zero = ir.Constant(i64, 0)
        final = loop("top2.sets", zero, n, LANES * _SETS, empty * _SETS, main_body)
        # Merge the sets lane by lane: the higher best (the lower index on equal ones), the higher second
        # among both seconds and the lower best.
        m1, j1, m2, t = final[0:4]
        for k in range(1, _SETS):
            b1, bj, b2, bt = final[4 * k : 4 * k + 4]
            take = builder.or_(
                builder.fcmp_ordered(">", b1, m1),
                builder.and_(builder.fcmp_ordered("==", b1, m1), builder.icmp_signed("<", bj, j1)),
            )
            m2 = vmax_(vmax_(m2, b2), vmin_(m1, b1))
            j1 = builder.select(take, bj, j1)
            m1 = vmax_(m1, b1)
            t = builder.fadd(t, bt, flags=_FAST)
        # The whole vectors left (n not a multiple of LANES * _SETS): their indices are above all others.
        nsets = builder.mul(builder.sdiv(n, ir.Constant(i64, LANES * _SETS)), ir.Constant(i64, LANES * _SETS))
        m1, j1, m2, t = loop("top2.rest", nsets, n, LANES, [m1, j1, m2, t], step)
        # Merge the lanes: the best, the lowest index reaching it, and the best of that lane's second and
        # the other lanes' bests.
        best = builder.call(rmax, [m1], fastmath=_MINMAX)
        at_best = builder.fcmp_ordered("==", m1, splat(best, vd))
        j = builder.call(rmin, [builder.select(at_best, j1, ir.Constant(vi, [_NONE] * LANES))])
        mine = builder.icmp_signed("==", j1, splat(j, vi))
        second = builder.call(rmax, [builder.select(mine, m2, m1)], fastmath=_MINMAX)
        total = builder.call(radd, [ir.Constant(dbl, 0.0), t], fastmath=_FAST)
        return cgutils.make_anonymous_struct(builder, [best, second, j, total])

    return codegen


if numba.config.DISABLE_JIT:  # pure Python (coverage runs)
    top2_lanes = _top2_lanes_py

else:

    @intrinsic
    def top2_lanes(typingctx, s_ty, i_ty, sgn_ty, p_ty, n_ty):
        """(best, second, j, total) over the entries e < n of row i, n a multiple of ``LANES``: the best and
        second-best values of ``x[e] = sgn * s[i, e] - p[e]`` (equal ones on a tie; -inf when there are
        fewer than two entries above -inf), j the lowest index reaching the best (``_NONE`` when none is
        above -inf) and ``total``, the sum of ``sgn * s[i, e]`` in some order (NaN or +inf when the row
        holds a NaN or a +inf after the sign; it may also overflow). On a row holding a NaN only ``total``
        is meaningful. ``s`` C-contiguous 2-D float32 or float64, ``p`` C-contiguous float64."""
        ok = (
            isinstance(s_ty, types.Array)
            and s_ty.ndim == 2
            and s_ty.layout == "C"
            and s_ty.dtype in (types.float32, types.float64)
            and isinstance(p_ty, types.Array)
            and p_ty.ndim == 1
            and p_ty.layout == "C"
            and p_ty.dtype == types.float64
        )
        if not ok:
            return None
        out = types.Tuple((types.float64, types.float64, types.int64, types.float64))
        return out(s_ty, i_ty, sgn_ty, p_ty, n_ty), _codegen_top2(s_ty)
