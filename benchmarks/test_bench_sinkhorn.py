"""Log-domain Sinkhorn: linassign.sinkhorn beside POT's ``ot.sinkhorn(..., method="sinkhorn_log")`` (numpy
backend), same run, same group, same inputs, the same 200 iterations.

    python -m pytest benchmarks/test_bench_sinkhorn.py --benchmark-only --benchmark-group-by=group \
        --benchmark-columns=median,iqr,rounds

Problems: ``base`` routing scores ``X @ C.T / sqrt(64)`` (X: n x 64, C: 128 x 64, standard normal), cost =
-scores, uniform marginals, reg = 0.1 (a tenth of the scores' standard deviation, 1 % of their spread).
Stopping rule: both run exactly 200 iterations (tol = 0 here, ``stopThr=0`` in POT: neither test can fire),
each a column update then a row update. Each benchmark checks the answer: the plans agree to 1e-6 in L1.
POT takes tens of seconds per solve at these sizes: it runs a fixed few rounds.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import linassign

ot = pytest.importorskip("ot", reason="POT is the peer: pip install 'linassign[bench]'")

SIZES = ((16384, 128), (65536, 128))
REG = 0.1
N_ITER = 200
_reference: dict[tuple[int, int], np.ndarray] = {}  # POT's plan per size, to check linassign's answer


def base_cost(n: int, m: int, d: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal((n, d)) @ rng.standard_normal((m, d)).T / np.sqrt(d)
    return -scores


def _pot(cost: np.ndarray) -> np.ndarray:
    n, m = cost.shape
    a, b = np.full(n, 1.0 / n), np.full(m, 1.0 / m)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "did not converge": it is told to stop at 200 iterations
        return ot.sinkhorn(a, b, cost, REG, method="sinkhorn_log", numItermax=N_ITER, stopThr=0.0)


def _linassign(cost: np.ndarray) -> linassign.SinkhornResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linassign.ConvergenceWarning)
        return linassign.sinkhorn(cost, reg=REG, tol=0.0, max_iter=N_ITER, return_plan=True)


# Parametrize order: POT first, so that its plan is there to check linassign's against.
@pytest.mark.parametrize("solver", ["pot-sinkhorn_log", "linassign", "linassign-float32"])
@pytest.mark.parametrize("shape", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_bench_sinkhorn(benchmark, shape, solver):
    cost = base_cost(*shape)
    benchmark.group = f"sinkhorn base {shape[0]}x{shape[1]} reg={REG} {N_ITER} iterations"
    benchmark.extra_info.update(solver=solver, n=shape[0], m=shape[1], reg=REG, n_iter=N_ITER)
    if solver == "pot-sinkhorn_log":
        plan = benchmark.pedantic(_pot, args=(cost,), rounds=2 if shape[0] > 20000 else 3, iterations=1)
        _reference[shape] = plan
        return
    if solver == "linassign-float32":
        cost = cost.astype(np.float32)
    _linassign(cost[:64])  # compile outside the timer
    res = benchmark.pedantic(_linassign, args=(cost,), rounds=5, iterations=1, warmup_rounds=1)
    assert res.n_iter == N_ITER
    want = _reference.get(shape)
    if want is None:  # run on its own (-k linassign): compute POT's answer outside the timer
        want = _reference[shape] = _pot(base_cost(*shape))
    l1 = float(np.abs(res.plan.astype(np.float64) - want).sum())
    benchmark.extra_info["l1_vs_pot"] = l1
    # float64: the same iterate up to rounding. float32 input rounds the costs (relative 6e-8) first.
    assert l1 <= (1e-6 if solver == "linassign" else 1e-4), l1
