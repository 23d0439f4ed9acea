"""Auction (exact, eps=None) beside linassign.hungarian and scipy on the square families, same run, same group.

    python -m pytest benchmarks/test_bench_auction.py --benchmark-only --benchmark-group-by=group \
        --benchmark-columns=median,iqr,rounds

Families ``uniform`` (float64 in [0, 1)) and ``integer`` (int64 in [0, n), many ties) from
``linassign._cli.make_cost``; n = 1000 and 4000. Every benchmark checks that the answer is optimal (objective
equal to scipy's), and linassign's certificates.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

import linassign

SIZES = (1000, 4000)
FAMILIES = ("uniform", "integer")
PEDANTIC_FROM = 4000  # scipy takes seconds per call there: a fixed 3 rounds

SOLVERS = {
    "auction": lambda c: linassign.auction(c),
    "hungarian": lambda c: linassign.hungarian(c),
    "scipy": linear_sum_assignment,
}


def _pairs(out):
    return (out.row_ind, out.col_ind) if hasattr(out, "row_ind") else out


@pytest.mark.parametrize("solver", list(SOLVERS))
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("kind", FAMILIES)
def test_bench_auction(benchmark, make_cost, scipy_objective, kind, n, solver):
    cost = make_cost(kind, (n, n))
    expected = scipy_objective(cost)
    linassign.auction(cost[:8, :8])  # compile outside the timer
    benchmark.group = f"assignment {kind} {n}x{n}"
    benchmark.extra_info.update(solver=solver, family=kind, n=n)
    fn = SOLVERS[solver]
    if n >= PEDANTIC_FROM:
        out = benchmark.pedantic(fn, args=(cost,), rounds=3, iterations=1, warmup_rounds=0)
    else:
        out = benchmark(fn, cost)
    r, c = _pairs(out)
    assert math.fsum(cost[r, c].astype(np.float64).tolist()) == pytest.approx(expected, rel=1e-12, abs=1e-12)
    if solver != "scipy":
        assert linassign.verify(cost, out) <= 1e-9 * max(1.0, abs(out.objective))


@pytest.mark.parametrize("n", SIZES)
def test_bench_auction_eps(benchmark, make_cost, scipy_objective, n):
    """eps given (1e-3 of the spread): the eps-optimal answer, for the speed/accuracy trade-off."""
    cost = make_cost("uniform", (n, n))
    expected = scipy_objective(cost)
    eps = 1e-3
    benchmark.group = f"assignment uniform {n}x{n}"
    benchmark.extra_info.update(solver=f"auction eps={eps}", family="uniform", n=n)
    out = benchmark.pedantic(lambda c: linassign.auction(c, eps=eps), args=(cost,), rounds=3, iterations=1)
    assert 0.0 <= out.objective - expected <= out.gap <= n * eps
