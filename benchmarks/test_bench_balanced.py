"""Balanced assignment (the BASE routing problem): linassign's three methods beside POT, the paper's auction
and plain argmax, same run, one group per family and size.

    python -m pytest benchmarks/test_bench_balanced.py --benchmark-only --benchmark-group-by=group \
        --benchmark-columns=median,iqr,rounds

Every benchmark checks its answer: linassign's results must carry a zero gap recomputed from the input
(``verify_balanced`` with the capacities) and match the optimum certified once per matrix; POT must reach
the same optimum; the paper's auction must be feasible and no better than the optimum (its relative
shortfall is recorded in ``extra_info``); argmax must put every row in a column of its largest score.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numba
import numpy as np
import pytest

import linassign
from benchmarks._balanced_peers import (
    FAMILIES,
    argmax_assignment,
    drifting_scores,
    make_scores,
    objective,
    paper_baseline,
    pot_emd,
)
from linassign._certificate_balanced import verify_balanced

SIZES = ((2048, 128), (4096, 32), (16384, 128), (65536, 128))
METHODS = ("auction", "hungarian", "sinkhorn")
PEERS = ("pot_emd", "paper", "argmax")
# Peers taking seconds per call get a fixed 3 rounds.
SLOW = {"pot_emd", "paper"}

_cache: OrderedDict[tuple, np.ndarray] = OrderedDict()
_optimum: dict[tuple, float] = {}


def scores_for(kind: str, n: int, n_cols: int, dtype=np.float64) -> np.ndarray:
    """The matrix of (kind, n, E), shared by the peers of a group (two kept in memory)."""
    key = (kind, n, n_cols, np.dtype(dtype).str)
    if key not in _cache:
        while len(_cache) >= 2:
            _cache.popitem(last=False)
        _cache[key] = make_scores(kind, n, n_cols, dtype=dtype)
    return _cache[key]


def certified_optimum(kind: str, s: np.ndarray) -> float:
    """The optimum of the matrix, found once by the exact method and certified by its recomputed gap."""
    key = (kind, s.shape, s.dtype.str)
    if key not in _optimum:
        res = linassign.balanced_assignment(s, method="hungarian")
        assert verify_balanced(s, res, np.asarray, capacity=s.shape[0] // s.shape[1]) <= _tol(s, res.objective)
        _optimum[key] = res.objective
    return _optimum[key]


def _tol(s: np.ndarray, value: float) -> float:
    return 1e-9 * max(1.0, abs(value), float(np.abs(s).max()))


@pytest.fixture(scope="module", autouse=True)
def _compiled() -> None:
    """Compile (or load from numba's cache) every kernel outside the timers."""
    for dtype in (np.float64, np.float32):
        s = make_scores("base", 64, 8, dtype=dtype)
        for method in METHODS:
            linassign.balanced_assignment(s, method=method)
            linassign.balanced_assignment(np.stack([s, s]), method=method)


def _run(benchmark, fn, *args, slow: bool = False):
    if slow:
        return benchmark.pedantic(fn, args=args, rounds=3, iterations=1, warmup_rounds=0)
    return benchmark(fn, *args)


def _assert_row_best(s: np.ndarray, a: np.ndarray) -> None:
    """Every row sits in a column of its largest score (checked against ``max``, not ``argmax`` itself)."""
    assert a.shape == (s.shape[0],)
    assert np.array_equal(s[np.arange(s.shape[0]), a], s.max(axis=1))


def _skip_reason(solver: str, kind: str, n: int) -> str | None:
    if solver in ("pot_emd", "paper") and n == 65536 and kind != "base":
        return "peers at 65536 x 128 take ~5-10 s per call: measured on the base family only"
    return None


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("kind", FAMILIES)
@pytest.mark.parametrize("solver", METHODS + PEERS)
def test_bench_balanced(benchmark, solver, kind, size):
    n, n_cols = size
    reason = _skip_reason(solver, kind, n)
    if reason:
        pytest.skip(reason)
    s = scores_for(kind, n, n_cols)
    k = n // n_cols
    benchmark.group = f"balanced {kind} {n}x{n_cols}"
    want = certified_optimum(kind, s)
    tol = _tol(s, want)
    if solver in METHODS:
        res = _run(benchmark, lambda x: linassign.balanced_assignment(x, method=solver), s, slow=solver in SLOW)
        assert np.array_equal(res.counts, np.full(n_cols, k))
        assert math.isclose(res.objective, want, rel_tol=0, abs_tol=tol)
        assert verify_balanced(s, res, np.asarray, capacity=k) <= tol
        benchmark.extra_info["gap"] = float(res.gap)
    elif solver == "pot_emd":
        a = _run(benchmark, pot_emd, s, np.full(n_cols, k), slow=True)
        assert np.array_equal(np.bincount(a, minlength=n_cols), np.full(n_cols, k))
        assert math.isclose(objective(s, a), want, rel_tol=0, abs_tol=tol)
    elif solver == "paper":
        a = _run(benchmark, paper_baseline, s, slow=True)
        assert np.array_equal(np.bincount(a, minlength=n_cols), np.full(n_cols, k))
        got = objective(s, a)
        assert got <= want + tol
        benchmark.extra_info["relative_shortfall"] = (want - got) / abs(want)
    else:
        a = _run(benchmark, argmax_assignment, s)
        _assert_row_best(s, a)


def _degenerate_scores(kind: str, n: int, n_cols: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    if kind == "all-equal":
        return np.zeros((n, n_cols))
    if kind == "zero-one":
        return rng.integers(0, 2, (n, n_cols)).astype(np.float64)
    if kind in ("rank-one", "rank-two"):  # every column ranks the rows alike
        x = rng.standard_normal((n, 1 if kind == "rank-one" else 2))
        return x @ (np.abs(rng.standard_normal((x.shape[1], n_cols))) + 0.5)
    s = make_scores("base", n, n_cols).copy()
    if kind == "zero-rows":  # padding tokens every expert scores 0
        s[rng.choice(n, n // 10, replace=False)] = 0.0
        return s
    rows = rng.choice(n, n if kind == "one-row" else int(0.3 * n), replace=False)
    s[rows] = s[rows[0]]
    return s


@pytest.mark.parametrize("solver", ["auction", "hungarian", "argmax"])
@pytest.mark.parametrize("kind", ["all-equal", "zero-one", "one-row", "padded", "zero-rows", "rank-one", "rank-two"])
def test_bench_balanced_degenerate(benchmark, solver, kind):
    """Degenerate scores at 65536 x 128. Ties everywhere: all scores equal (a router before training) and
    scores of 0 or 1; the greedy start puts each row in its lowest tied column, so the exact phase moves most
    rows out of a few columns, whose rescans were once quadratic in n (all-equal: 2.7 s, now ~25 ms).
    Identical rows: one row repeated n times (``one-row``), or base scores with 30% of the rows one repeated
    row (``padded``: padding tokens); they bid alike, and the auction once took thousands of steps over a
    column holding most of them (16384 x 128 one-row: 76 s) before its work budget. ``zero-rows``: base
    scores with 10% of the rows 0 (padding tokens every expert scores 0), tied over every column at equal
    prices (153 ms before the steps stopped counting them as tied scores). Low-rank scores (every
    column ranks the rows alike: ``rank-one``, ``rank-two``) crowd a few columns at any prices the
    count-balancing steps reach; the solve then starts from exact subsample solves (rank-two 1.1 s before)."""
    n, n_cols = 65536, 128
    s = _degenerate_scores(kind, n, n_cols)
    benchmark.group = f"balanced {kind} {n}x{n_cols}"
    want = _bench_checked(benchmark, solver, kind, s)
    if kind in ("all-equal", "zero-one"):
        assert want == (0.0 if kind == "all-equal" else n)  # 0/1: enough ones for every row


def _bench_checked(benchmark, solver: str, kind: str, s: np.ndarray) -> float:
    """Time a linassign method (its answer balanced, optimal and certified) or argmax (every row in a column of
    its largest score) on ``s``; returns the certified optimum."""
    n, n_cols = s.shape
    k = n // n_cols
    want = certified_optimum(kind, s)
    if solver == "argmax":
        _assert_row_best(s, _run(benchmark, argmax_assignment, s))
        return want
    res = _run(benchmark, lambda x: linassign.balanced_assignment(x, method=solver), s)
    assert np.array_equal(res.counts, np.full(n_cols, k))
    assert math.isclose(res.objective, want, rel_tol=0, abs_tol=_tol(s, want))
    assert verify_balanced(s, res, np.asarray, capacity=k) <= _tol(s, want)
    return want


@pytest.mark.parametrize("size", [(16384, 512), (16384, 1024), (65536, 1024)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("solver", ["auction", "hungarian", "argmax"])
def test_bench_balanced_many_experts(benchmark, solver, size):
    """``base`` scores with many experts (fine-grained mixtures of experts): the exact phase's column graph
    has E^2 arcs, and the greedy pass's arc minima take two passes beyond 256 columns."""
    n, n_cols = size
    benchmark.group = f"balanced base {n}x{n_cols}"
    _bench_checked(benchmark, solver, "base", scores_for("base", n, n_cols))


@pytest.mark.parametrize("method", ["auction", "hungarian"])
def test_bench_balanced_float32(benchmark, method):
    """float32 scores are read as they are (half the memory traffic of float64)."""
    s = scores_for("base", 16384, 128, dtype=np.float32)
    benchmark.group = "balanced base 16384x128"
    benchmark.name = f"{method}-float32"
    res = benchmark(lambda x: linassign.balanced_assignment(x, method=method), s)
    want = certified_optimum("base", s)
    assert math.isclose(res.objective, want, rel_tol=0, abs_tol=_tol(s, want))
    assert verify_balanced(s, res, np.asarray, capacity=128) <= _tol(s, want)


@pytest.mark.parametrize("start", ["cold", "warm", "oracle", "argmax"])
def test_bench_balanced_warm_start(benchmark, start):
    """20 successive base problems (16384 x 128) whose tokens and centroids drift by 1% per step, solved
    from scratch or from the previous step's prices, beside ``argmax`` on the same matrices (each row to its
    best column, no capacities: the speed floor of the other groups, numpy on one thread) and ``oracle``: the
    first problem from scratch, each other one from its own optimal prices (found before the timer), the
    best any warm start could do, so that cold / oracle bounds the warm start's ratio."""
    seq = drifting_scores(16384, 128, steps=20)
    benchmark.group = "balanced warm start: 20 drifting base 16384x128"
    own = [None] + [linassign.balanced_assignment(s).prices for s in seq[1:]] if start == "oracle" else []

    def cold():
        return [linassign.balanced_assignment(s) for s in seq]

    def warm():
        out, prices = [], None
        for s in seq:
            res = linassign.balanced_assignment(s, prices=prices)
            prices = res.prices
            out.append(res)
        return out

    def floor():
        return [argmax_assignment(s) for s in seq]

    def oracle():
        return [linassign.balanced_assignment(s, prices=p) for s, p in zip(seq, own, strict=True)]

    # 7 rounds after one unmeasured: with 3 and none, one slow round (first touch of fresh arrays, the
    # machine's drift) made the IQR 50-70% of the median.
    run = {"cold": cold, "warm": warm, "oracle": oracle, "argmax": floor}[start]
    results = benchmark.pedantic(run, rounds=7, iterations=1, warmup_rounds=1)
    if start == "argmax":
        for s, a in zip(seq, results, strict=True):
            _assert_row_best(s, a)
        return
    wants = [certified_optimum(f"drift{t}", s) for t, s in enumerate(seq)]
    for s, res, want in zip(seq, results, wants, strict=True):
        assert math.isclose(res.objective, want, rel_tol=0, abs_tol=_tol(s, want))


@pytest.mark.parametrize("threads", [1, 2])
def test_bench_balanced_batched_threads(benchmark, threads):
    """64 problems of 2048 x 128 (base) in one call, on 1 and 2 numba threads."""
    if threads > numba.config.NUMBA_NUM_THREADS:
        pytest.skip(f"numba has {numba.config.NUMBA_NUM_THREADS} thread(s) here")
    batch = np.stack([make_scores("base", 2048, 128, seed=b) for b in range(64)])
    benchmark.group = "balanced batched 64 x base 2048x128"
    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        res = benchmark(linassign.balanced_assignment, batch)
    finally:
        numba.set_num_threads(before)
    gaps = verify_balanced(batch, res, np.asarray, capacity=16)
    assert (gaps <= 1e-9 * np.maximum(1.0, np.abs(res.objective))).all()
