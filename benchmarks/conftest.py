"""Fixtures of the benchmark suite: the cost families and scipy's optimum of each problem.

Run with ``python -m pytest benchmarks --benchmark-only`` (``testpaths`` is ``tests/``, so the plain test
command never runs these). The families are the ones ``linassign bench`` uses (``linassign._cli.make_cost``).
"""

from __future__ import annotations

import math
import weakref
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

import linassign
from linassign._cli import make_cost as _make_cost

# Problems kept in memory at once: a 4000 x 4000 float64 matrix is 128 MB. Tests are ordered so that the
# solvers of one problem run one after another (see the parametrize order in test_bench_lap.py).
_KEEP = 2


@pytest.fixture(scope="session", autouse=True)
def _compiled() -> None:
    """Compile (or load from numba's cache) every kernel the benchmarks call, outside any timer."""
    linassign.hungarian(np.random.default_rng(0).random((4, 4)))
    linassign.hungarian(np.random.default_rng(0).random((2, 4, 4)))


@pytest.fixture(scope="session")
def make_cost() -> Callable[..., np.ndarray]:
    """``make_cost(kind, shape, seed=0)``: a reproducible cost of family ``uniform``, ``integer`` ([0, n)),
    ``geometric`` (distances between random points) or ``skewed`` (lognormal); the same object is returned
    for the same arguments while it stays in the small cache, so the peers of a group share one matrix."""
    cache: OrderedDict[tuple, np.ndarray] = OrderedDict()

    def make(kind: str, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
        key = (kind, tuple(shape), seed)
        if key not in cache:
            while len(cache) >= _KEEP:
                cache.popitem(last=False)
            # Writable, like a user's array: a read-only one would make numba compile another specialization
            # (inside the timer) and might make a peer copy it. Immutability is tested in tests/, not here.
            cache[key] = _make_cost(kind, shape, seed)
        return cache[key]

    return make


def _objective(cost: np.ndarray) -> float:
    r, c = linear_sum_assignment(cost)
    return math.fsum(cost[r, c].astype(np.float64).tolist())


@pytest.fixture(scope="session")
def scipy_objective() -> Callable[[np.ndarray], float | np.ndarray]:
    """``scipy_objective(cost)``: scipy's optimal objective (fsum), per problem for a (B, n, m) batch.
    Computed once per matrix object (scipy takes seconds at n = 4000)."""
    cache: dict[int, tuple[weakref.ref, float | np.ndarray]] = {}

    def objective(cost: np.ndarray) -> float | np.ndarray:
        hit = cache.get(id(cost))
        if hit is not None and hit[0]() is cost:
            return hit[1]
        value = _objective(cost) if cost.ndim == 2 else np.array([_objective(c) for c in cost])
        cache[id(cost)] = (weakref.ref(cost), value)
        return value

    return objective
