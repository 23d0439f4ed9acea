"""Square and batched linear assignment: linassign.hungarian beside scipy and lapx, same run, same group.

    python -m pytest benchmarks/test_bench_lap.py --benchmark-only --benchmark-group-by=group \
        --benchmark-columns=median,iqr,rounds

One group per family and size, so the table shows the peers together. Every benchmark also checks that
its answer is an optimal assignment (objective equal to scipy's, up to float rounding).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

import linassign
from linassign._cli import FAMILIES

lap = pytest.importorskip("lap", reason="lapx is not installed: pip install 'linassign[bench]'")

SIZES = (256, 1000, 4000)
BATCH = (256, 64, 64)
# scipy takes ~3 s per call at n = 4000 here: a fixed 3 rounds keeps the whole suite to a few minutes.
PEDANTIC_FROM = 4000

Pairs = list[tuple[np.ndarray, np.ndarray]]


def _pairs_linassign(res: Any) -> Pairs:
    if np.ndim(res.row_ind) == 1:
        return [(res.row_ind, res.col_ind)]
    return list(zip(res.row_ind, res.col_ind, strict=True))


def _pairs_lapjv(out: Any) -> Pairs:
    """lap.lapjv returns (total, x, y); x[i] is the column of row i."""
    outs = out if isinstance(out, list) else [out]
    return [(np.arange(o[1].size), np.asarray(o[1], np.int64)) for o in outs]


# name -> (timed call, its (row_ind, col_ind) per problem)
SQUARE: dict[str, tuple[Callable[[np.ndarray], Any], Callable[[Any], Pairs]]] = {
    "linassign": (linassign.hungarian, _pairs_linassign),
    "scipy": (linear_sum_assignment, lambda out: [out]),
    "lapx": (lambda c: lap.lapjv(c, extend_cost=True), _pairs_lapjv),
}
BATCHED: dict[str, tuple[Callable[[np.ndarray], Any], Callable[[Any], Pairs]]] = {
    "linassign": (linassign.hungarian, _pairs_linassign),
    "scipy-loop": (lambda b: [linear_sum_assignment(c) for c in b], lambda out: out),
    "lapx-loop": (lambda b: [lap.lapjv(c, extend_cost=True) for c in b], _pairs_lapjv),
    # lapx's own threaded batch (lap.lapjvx_batch): the strongest peer for batches.
    "lapx-batch-threads": (
        lambda b: lap.lapjvx_batch(b, extend_cost=True, n_threads=0, return_cost=False),
        lambda out: list(zip(*out, strict=True)),
    ),
}


def assert_optimal(cost: np.ndarray, pairs: Pairs, expected: float | np.ndarray) -> None:
    """Each (row_ind, col_ind) is a complete matching whose fsum objective equals scipy's optimum."""
    costs = [cost] if cost.ndim == 2 else list(cost)
    expected = np.atleast_1d(expected)
    assert len(pairs) == len(costs) == expected.size
    for c, (r, k), want in zip(costs, pairs, expected, strict=True):
        r, k = np.asarray(r), np.asarray(k)
        n = min(c.shape)
        assert r.shape == k.shape == (n,)
        assert np.unique(r).size == n and np.unique(k).size == n
        got = math.fsum(c[r, k].astype(np.float64).tolist())
        assert got == pytest.approx(want, rel=1e-12, abs=1e-12)


def _run(benchmark, fn: Callable[[np.ndarray], Any], cost: np.ndarray, pedantic: bool) -> Any:
    if pedantic:
        return benchmark.pedantic(fn, args=(cost,), rounds=3, iterations=1, warmup_rounds=0)
    return benchmark(fn, cost)


# Parametrize order: solver varies fastest, so the peers of one problem run back to back (shared matrix).
@pytest.mark.parametrize("solver", list(SQUARE))
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("kind", FAMILIES)
def test_bench_lap(benchmark, make_cost, scipy_objective, kind: str, n: int, solver: str) -> None:
    cost = make_cost(kind, (n, n))
    expected = scipy_objective(cost)  # before timing: scipy's reference is not part of any benchmark
    fn, pairs = SQUARE[solver]
    benchmark.group = f"{kind} {n}x{n}"
    benchmark.extra_info.update(solver=solver, family=kind, n=n)
    out = _run(benchmark, fn, cost, pedantic=n >= PEDANTIC_FROM)
    assert_optimal(cost, pairs(out), expected)
    if solver == "linassign":
        assert linassign.verify(cost, out) <= 1e-9 * max(1.0, abs(out.objective))


@pytest.mark.parametrize("solver", list(BATCHED))
def test_bench_lap_batch(benchmark, make_cost, scipy_objective, solver: str) -> None:
    cost = make_cost("uniform", BATCH)
    expected = scipy_objective(cost)
    fn, pairs = BATCHED[solver]
    benchmark.group = f"uniform batch {BATCH[0]}x({BATCH[1]}x{BATCH[2]})"
    benchmark.extra_info.update(solver=solver, family="uniform", batch=list(BATCH))
    out = _run(benchmark, fn, cost, pedantic=False)
    assert_optimal(cost, pairs(out), expected)
    if solver == "linassign":
        gaps = linassign.verify(cost, out)
        assert np.all(gaps <= 1e-9 * np.maximum(1.0, np.abs(out.objective)))
