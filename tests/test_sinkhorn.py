"""linassign.sinkhorn against POT's log-domain Sinkhorn, the exact LAP, and its own contract.

References: ``ot.sinkhorn(a, b, M, reg, method="sinkhorn_log")`` (same iterate after the same number of
iterations from the same start), scipy's linear_sum_assignment (the reg -> 0 limit), and numpy recomputations
of the plan, its marginals and its cost from the returned potentials.
"""

from __future__ import annotations

import contextlib
import itertools
import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment as scipy_lsa

import linassign
from linassign._config import CONFIG

ot = pytest.importorskip("ot", reason="POT is the reference for Sinkhorn: pip install 'linassign[test]'")


# ----------------------------------------------------------------------------------------------------------
# Problems and helpers
# ----------------------------------------------------------------------------------------------------------


@st.composite
def ot_problems(draw, *, max_side: int = 12, zeros: bool = False):
    """(cost, a, b, reg): cost uniform in [0, scale), marginals positive (or with zeros), equal mass."""
    n = draw(st.integers(1, max_side))
    m = draw(st.integers(1, max_side))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = 10.0 ** draw(st.integers(-3, 3))
    cost = rng.random((n, m)) * scale
    a = rng.random(n) + 0.05
    b = rng.random(m) + 0.05
    if zeros and n > 1 and m > 1:
        a[rng.random(n) < 0.3] = 0.0
        b[rng.random(m) < 0.3] = 0.0
        a[0] = max(a[0], 0.1)
        b[0] = max(b[0], 0.1)
    mass = 10.0 ** draw(st.integers(-2, 2))
    a *= mass / a.sum()
    b *= mass / b.sum()
    # Down to 3e-4 of the cost scale: exponents of -3000 exercise the exact-max recomputations.
    reg = scale * draw(st.sampled_from([1.0, 0.3, 0.1, 0.03, 3e-3, 3e-4]))
    return cost, a, b, reg


def plan_of(cost, f, g, reg, maximize=False):
    """The documented convention: exp((f + g - C) / reg), or exp((C - f - g) / reg) when maximizing."""
    c = np.asarray(cost, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        z = (c - f[:, None] - g[None, :]) if maximize else (f[:, None] + g[None, :] - c)
    z = np.where(np.isnan(z), -np.inf, z)  # -inf potential (zero mass) against a forbidden pair
    return np.exp(z / reg)


def marginal_error(plan, a, b):
    return np.abs(plan.sum(1) - a).sum() + np.abs(plan.sum(0) - b).sum()


def pot_plan(cost, a, b, reg, n_iter):
    """POT's plan after exactly n_iter iterations (its stopping test can never fire with stopThr=0)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ot.sinkhorn(a, b, cost, reg, method="sinkhorn_log", numItermax=n_iter, stopThr=0.0)


# ----------------------------------------------------------------------------------------------------------
# Against POT
# ----------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def kernel_path(parallel: bool):
    """Force the row-block parallel kernel (nblk = threads) even on small problems, or the serial one."""
    saved = CONFIG["sinkhorn_parallel_min_size"]
    CONFIG["sinkhorn_parallel_min_size"] = 0 if parallel else 2**62
    try:
        yield
    finally:
        CONFIG["sinkhorn_parallel_min_size"] = saved


@pytest.mark.parametrize("parallel", [False, True])
@given(p=ot_problems(), n_iter=st.sampled_from([1, 3, 20, 200]))
def test_same_iterate_as_pot_after_the_same_iterations(parallel, p, n_iter):
    cost, a, b, reg = p
    with warnings.catch_warnings(), kernel_path(parallel):
        warnings.simplefilter("ignore", linassign.ConvergenceWarning)
        res = linassign.sinkhorn(cost, a, b, reg=reg, tol=0.0, max_iter=n_iter, return_plan=True)
    # tol = 0: only an exactly balanced plan (e.g. 1 x m) stops early.
    assert res.n_iter == n_iter or (res.converged and res.marginal_error == 0.0)
    want = pot_plan(cost, a, b, reg, max(res.n_iter, 1))
    assert np.abs(res.plan - want).sum() <= 1e-6 * max(a.sum(), 1e-300) + 1e-12
    np.testing.assert_allclose(res.plan, plan_of(cost, res.f, res.g, reg), rtol=1e-9, atol=1e-300)


@given(p=ot_problems(max_side=10))
def test_converged_plan_matches_pot(p):
    cost, a, b, reg = p
    assume(reg >= 3e-2 * cost.max())  # POT's Python loop is slow at small reg; same-iterate covers those
    tol = 1e-10 * a.sum()
    res = linassign.sinkhorn(cost, a, b, reg=reg, tol=tol, max_iter=100_000, return_plan=True)
    assert res.converged is True
    want = pot_plan(cost, a, b, reg, res.n_iter)
    assert np.abs(res.plan - want).sum() <= 1e-6 * a.sum()


# ----------------------------------------------------------------------------------------------------------
# The contract: convention, marginals, cost, stopping rule
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("parallel", [False, True])
@given(p=ot_problems(zeros=True), maximize=st.booleans())
def test_marginals_cost_and_convention(parallel, p, maximize):
    cost, a, b, reg = p
    assume(reg >= 3e-3 * cost.max())  # converges within the budget
    tol = 1e-8 * a.sum()
    # 10^6 iterations: an 8 x 8 problem with a zero in each marginal and reg = 0.003 * max(cost) (found by a
    # random run of this test) needs 187 067.
    with kernel_path(parallel):
        res = linassign.sinkhorn(cost, a, b, reg=reg, tol=tol, max_iter=1_000_000, maximize=maximize, return_plan=True)
    assert isinstance(res, linassign.SinkhornResult)
    assert res.converged is True and type(res.n_iter) is int and res.n_iter >= 0
    plan = plan_of(cost, res.f, res.g, reg, maximize)
    np.testing.assert_allclose(res.plan, plan, rtol=1e-9, atol=1e-300)
    true_err = marginal_error(plan, a, b)
    # f and g are rounded in cost units: exponents (f + g - C) / reg carry ~eps * max|C| / reg of error.
    rounding = 64 * np.finfo(float).eps * (np.abs(cost).max() / reg + 1) * a.sum()
    assert true_err <= tol + rounding
    assert res.marginal_error == pytest.approx(true_err, rel=1e-6, abs=rounding)
    assert res.cost == pytest.approx(float((plan * cost).sum()), rel=1e-9, abs=1e-300)
    # Zero-mass rows and columns carry nothing: their potentials are -inf (+inf when maximizing).
    assert np.all(res.f[a == 0] == (np.inf if maximize else -np.inf))
    assert np.all(res.g[b == 0] == (np.inf if maximize else -np.inf))
    assert np.all(res.plan[a == 0] == 0) and np.all(res.plan[:, b == 0] == 0)


@given(p=ot_problems())
def test_maximize_is_minimize_of_the_negated_cost(p):
    cost, a, b, reg = p
    assume(reg >= 3e-3 * cost.max())  # converges within the budget
    hi = linassign.sinkhorn(cost, a, b, reg=reg, maximize=True, tol=1e-9 * a.sum(), max_iter=100_000)
    lo = linassign.sinkhorn(-cost, a, b, reg=reg, tol=1e-9 * a.sum(), max_iter=100_000)
    assert hi.n_iter == lo.n_iter
    np.testing.assert_allclose(hi.f, -lo.f, rtol=1e-9, atol=1e-12 * reg)
    np.testing.assert_allclose(hi.g, -lo.g, rtol=1e-9, atol=1e-12 * reg)
    assert hi.cost == pytest.approx(-lo.cost, rel=1e-9)


def test_default_marginals_are_uniform_and_docstring_example():
    res = linassign.sinkhorn(np.array([[0.0, 1.0], [1.0, 0.0]]), reg=1.0, return_plan=True)
    want = ot.sinkhorn([0.5, 0.5], [0.5, 0.5], [[0.0, 1.0], [1.0, 0.0]], 1.0, method="sinkhorn_log")
    np.testing.assert_allclose(res.plan, want, atol=1e-12)
    cost = np.random.default_rng(0).random((5, 3))
    res = linassign.sinkhorn(cost, reg=0.1, return_plan=True, tol=1e-12)
    np.testing.assert_allclose(res.plan.sum(1), np.full(5, 0.2), atol=1e-11)
    np.testing.assert_allclose(res.plan.sum(0), np.full(3, 1 / 3), atol=1e-11)


def test_unequal_mass_within_rounding_is_rescaled():
    cost = np.random.default_rng(1).random((4, 6))
    a = np.full(4, 0.25)
    b = np.full(6, 1 / 6) * (1 + 5e-7)
    res = linassign.sinkhorn(cost, a, b, reg=0.1, tol=1e-12, return_plan=True)
    assert res.converged is True
    np.testing.assert_allclose(res.plan.sum(0), np.full(6, 1 / 6), rtol=1e-10)


def test_max_iter_warns_and_returns_not_converged():
    cost = np.random.default_rng(2).random((30, 20))
    with pytest.warns(linassign.ConvergenceWarning, match="max_iter=3"):
        res = linassign.sinkhorn(cost, reg=0.001, tol=1e-12, max_iter=3)
    assert res.converged is False and res.n_iter == 3 and res.marginal_error > 1e-12
    assert np.isfinite(res.f).all() and np.isfinite(res.g).all() and np.isfinite(res.cost)
    with pytest.warns(linassign.ConvergenceWarning):
        res = linassign.sinkhorn(cost, reg=0.1, tol=0.0, max_iter=0)
    assert res.n_iter == 0 and res.converged is False


def test_warm_start_reaches_the_same_answer_in_fewer_iterations():
    rng = np.random.default_rng(3)
    cost = rng.random((60, 40))
    tol = 1e-9
    cold = linassign.sinkhorn(cost, reg=0.01, tol=tol, max_iter=100_000, return_plan=True)
    nearby = cost + 1e-5 * rng.random(cost.shape)  # e.g. the next step of a training loop
    start = linassign.sinkhorn(nearby, reg=0.01, tol=tol, max_iter=100_000)
    warm = linassign.sinkhorn(cost, reg=0.01, tol=tol, max_iter=100_000, init=(start.f, start.g), return_plan=True)
    assert cold.converged and warm.converged
    assert warm.n_iter < cold.n_iter / 2
    assert np.abs(warm.plan - cold.plan).sum() <= 1e-7
    again = linassign.sinkhorn(cost, reg=0.01, tol=tol, init=(cold.f, cold.g))
    assert again.n_iter == 0 and again.converged  # a converged start returns at once


@given(p=ot_problems(max_side=8), bsz=st.integers(0, 4), maximize=st.booleans())
def test_batched_equals_one_by_one(p, bsz, maximize):
    cost, a, b, reg = p
    assume(reg >= 3e-3 * cost.max())  # converges within the budget
    rng = np.random.default_rng(bsz)
    costs = (
        np.stack([cost * (1 + 0.1 * k) + rng.random(cost.shape) * reg for k in range(bsz)])
        if bsz
        else (np.zeros((0, *cost.shape)))
    )
    tol = 1e-9 * a.sum()
    res = linassign.sinkhorn(costs, a, b, reg=reg, tol=tol, max_iter=100_000, maximize=maximize, return_plan=True)
    assert res.f.shape == (bsz, cost.shape[0]) and res.g.shape == (bsz, cost.shape[1])
    assert res.plan.shape == costs.shape
    for name in ("cost", "marginal_error", "converged", "n_iter"):
        assert np.shape(getattr(res, name)) == (bsz,)
    for k in range(bsz):
        one = linassign.sinkhorn(costs[k], a, b, reg=reg, tol=tol, max_iter=100_000, maximize=maximize)
        # Same iterations; the single problem sums its columns in per-thread blocks, hence allclose.
        assert abs(int(res.n_iter[k]) - one.n_iter) <= 1
        np.testing.assert_allclose(res.f[k], one.f, rtol=1e-8, atol=1e-10 * reg)
        np.testing.assert_allclose(res.g[k], one.g, rtol=1e-8, atol=1e-10 * reg)
        assert res.cost[k] == pytest.approx(one.cost, rel=1e-8)


def test_batched_marginals_per_item():
    rng = np.random.default_rng(4)
    costs = rng.random((3, 5, 4))
    a = rng.random((3, 5)) + 0.1
    b = rng.random((3, 4)) + 0.1
    b *= (a.sum(1) / b.sum(1))[:, None]
    res = linassign.sinkhorn(costs, a, b, reg=0.05, tol=1e-10, max_iter=100_000, return_plan=True)
    for k in range(3):
        assert marginal_error(res.plan[k], a[k], b[k]) <= 1e-9


# ----------------------------------------------------------------------------------------------------------
# Small reg: stability and the LAP limit
# ----------------------------------------------------------------------------------------------------------


@settings(max_examples=20)
@given(n=st.integers(2, 6), seed=st.integers(0, 2**32 - 1), maximize=st.booleans())
def test_small_reg_gives_the_lap_optimum(n, seed, maximize):
    """reg well below the gap between the best and second-best assignment: the plan concentrates on the
    optimal permutation (its max-weight permutation is optimal) and its cost tends to the optimum / n."""
    cost = np.random.default_rng(seed).random((n, n))
    sign = -1.0 if maximize else 1.0
    objs = sorted(sign * cost[np.arange(n), list(q)].sum() for q in itertools.permutations(range(n)))
    gap = objs[1] - objs[0]
    assume(gap > 1e-3)
    reg = gap / (3 * n)  # the second-best permutation gets weight about exp(-3) at most
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linassign.ConvergenceWarning)  # convergence is slow at small reg
        res = linassign.sinkhorn(
            cost, reg=reg, maximize=maximize, tol=1e-7, max_iter=5000, anneal=True, return_plan=True
        )
    opt = sign * objs[0]
    rr, cc = scipy_lsa(res.plan, maximize=True)
    assert cost[rr, cc].sum() == pytest.approx(opt, rel=1e-12)
    # Entropic cost of a (nearly) feasible plan: between OT and OT + reg * log(n * n).
    slack = sign * (res.cost - opt / n)
    assert -res.marginal_error <= slack <= reg * np.log(n * n) + res.marginal_error


@pytest.mark.parametrize("reg_rel", [1e-2, 1e-3, 1e-4])
@pytest.mark.parametrize("anneal", [False, True])
def test_tiny_reg_is_stable(reg_rel, anneal):
    rng = np.random.default_rng(5)
    cost = 1e3 * rng.random((40, 30))  # reg down to 1e-4 of the cost scale: exp(-C/reg) underflows
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linassign.ConvergenceWarning)
        res = linassign.sinkhorn(cost, reg=1e3 * reg_rel, tol=1e-8, max_iter=3000, anneal=anneal, return_plan=True)
    assert np.isfinite(res.f).all() and np.isfinite(res.g).all() and np.isfinite(res.plan).all()
    assert np.isfinite(res.cost) and np.isfinite(res.marginal_error)
    assert res.marginal_error == pytest.approx(marginal_error(res.plan, 1 / 40, 1 / 30), rel=1e-6, abs=1e-14)
    if reg_rel >= 1e-2:
        assert res.converged  # smaller reg converges, but slowly (the rate is inherent to Sinkhorn)


@pytest.mark.parametrize("reg", [1e-1, 1e-2, 2e-3])
def test_anneal_reaches_the_same_answer(reg):
    """Annealing changes the path (and the iteration count), never the fixed point."""
    rng = np.random.default_rng(6)
    x, y = rng.random((40, 2)), rng.random((30, 2))
    cost = ((x[:, None] - y[None]) ** 2).sum(-1)
    plain = linassign.sinkhorn(cost, reg=reg, tol=1e-9, max_iter=100_000, return_plan=True)
    annealed = linassign.sinkhorn(cost, reg=reg, tol=1e-9, max_iter=100_000, anneal=True, return_plan=True)
    assert plain.converged and annealed.converged
    assert np.abs(plain.plan - annealed.plan).sum() <= 1e-6
    assert annealed.cost == pytest.approx(plain.cost, rel=1e-6)


# ----------------------------------------------------------------------------------------------------------
# Forbidden pairs, dtypes, inputs
# ----------------------------------------------------------------------------------------------------------


@given(p=ot_problems(max_side=8), seed=st.integers(0, 2**32 - 1), maximize=st.booleans())
def test_forbidden_pairs_carry_no_mass(p, seed, maximize):
    cost, a, b, reg = p
    assume(reg >= 3e-3 * cost.max())  # converges within the budget
    n, m = cost.shape
    mask = np.random.default_rng(seed).random(cost.shape) < 0.3
    mask[np.arange(n), np.arange(n) % m] = False  # every row keeps an allowed column
    mask[np.arange(m) % n, np.arange(m)] = False  # every column keeps an allowed row
    c = np.where(mask, -np.inf if maximize else np.inf, -cost if maximize else cost)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linassign.ConvergenceWarning)  # a support may not carry a and b
        res = linassign.sinkhorn(c, a, b, reg=reg, maximize=maximize, tol=1e-9 * a.sum(), return_plan=True)
    assert np.all(res.plan[mask] == 0.0)
    assert np.isfinite(res.cost) and np.isfinite(res.f).all() and np.isfinite(res.g).all()
    want = pot_plan(np.where(mask, 1e300, cost), a, b, reg, res.n_iter) if not maximize else None
    if want is not None:
        assert np.abs(res.plan - want).sum() <= 1e-6 * a.sum()


@pytest.mark.parametrize(
    "cost",
    [
        np.array([[np.inf, np.inf], [0.0, 1.0]]),  # a row with no allowed column
        np.array([[np.inf, 0.0], [np.inf, 1.0]]),  # a column with no allowed row
    ],
)
def test_infeasible_support_raises(cost):
    with pytest.raises(ValueError, match="^cost matrix is infeasible$"):
        linassign.sinkhorn(cost, reg=0.1)


def test_infeasible_support_in_a_batch_names_the_item():
    cost = np.zeros((3, 2, 2))
    cost[2, 0, :] = np.inf
    with pytest.raises(ValueError, match=r"^cost matrix is infeasible \(batch items \[2\]\)$"):
        linassign.sinkhorn(cost, reg=0.1)


def test_float32_stays_float32_and_agrees_with_float64():
    cost = np.random.default_rng(7).random((50, 20))
    r64 = linassign.sinkhorn(cost, reg=0.05, tol=1e-9, return_plan=True)
    r32 = linassign.sinkhorn(cost.astype(np.float32), reg=0.05, tol=1e-9, return_plan=True)
    assert r32.plan.dtype == np.float32 and r32.f.dtype == np.float64
    # float32 rounding of the costs moves the answer by ~1e-7 relative.
    np.testing.assert_allclose(r32.plan, r64.plan, rtol=1e-4, atol=1e-9)


def test_inputs_are_not_modified_read_only_included():
    rng = np.random.default_rng(8)
    cost = rng.random((6, 5))
    a = rng.random(6) + 0.1
    b = rng.random(5) + 0.1
    b *= a.sum() / b.sum()
    f0, g0 = rng.random(6), rng.random(5)
    arrays = [cost, a, b, f0, g0]
    copies = [x.copy() for x in arrays]
    for x in arrays:
        x.setflags(write=False)
    linassign.sinkhorn(cost, a, b, reg=0.1, init=(f0, g0), maximize=True, return_plan=True)
    linassign.sinkhorn(cost, a, b, reg=0.1, init=(f0, g0), anneal=True)
    for x, y in zip(arrays, copies, strict=True):
        np.testing.assert_array_equal(x, y)


def test_the_same_input_gives_the_same_answer_bit_for_bit():
    """The kernel's sums must not depend on where its work arrays were allocated: once they were summed in
    a loop that LLVM vectorized or not by a runtime check of whether the arrays overlap, and the same input
    gave potentials differing in the last bit from call to call (a flaky torch-versus-numpy test). Between
    the calls, arrays of other sizes move the allocator's addresses."""
    rng = np.random.default_rng(7)
    keep = []
    for _ in range(300):
        cost = rng.random((5, 4))
        first = linassign.sinkhorn(cost, reg=0.1, return_plan=True)
        keep.append(np.empty(int(rng.integers(1, 64))))
        again = linassign.sinkhorn(cost, reg=0.1, return_plan=True)
        np.testing.assert_array_equal(again.f, first.f)
        np.testing.assert_array_equal(again.plan, first.plan)


def test_torch_in_torch_out():
    torch = pytest.importorskip("torch")
    cost = torch.rand(5, 4, dtype=torch.float64)
    res = linassign.sinkhorn(cost, reg=0.1, return_plan=True)
    assert isinstance(res.f, torch.Tensor) and isinstance(res.plan, torch.Tensor)
    ref = linassign.sinkhorn(cost.numpy(), reg=0.1, return_plan=True)
    np.testing.assert_array_equal(res.plan.numpy(), ref.plan)


def test_empty_problems():
    res = linassign.sinkhorn(np.zeros((0, 0)), reg=1.0, return_plan=True)
    assert res.converged and res.n_iter == 0 and res.plan.shape == (0, 0)
    res = linassign.sinkhorn(np.zeros((0, 3, 2)), reg=1.0)
    assert res.f.shape == (0, 3) and res.n_iter.shape == (0,)


# ----------------------------------------------------------------------------------------------------------
# Errors: one pytest.raises(match=...) per message
# ----------------------------------------------------------------------------------------------------------

C = np.ones((3, 2))

ERRORS = {
    "reg zero": (lambda: linassign.sinkhorn(C, reg=0.0), r"^reg must be a positive finite number, got 0\.0$"),
    "reg nan": (lambda: linassign.sinkhorn(C, reg=np.nan), "^reg must be a positive finite number"),
    "reg str": (lambda: linassign.sinkhorn(C, reg="1"), "^reg must be a positive finite number, got '1'$"),
    "tol": (lambda: linassign.sinkhorn(C, reg=1.0, tol=-1.0), "^tol must be a non-negative finite number"),
    "max_iter float": (
        lambda: linassign.sinkhorn(C, reg=1.0, max_iter=10.0),
        r"^max_iter must be a non-negative integer, got 10\.0$",
    ),
    "max_iter negative": (
        lambda: linassign.sinkhorn(C, reg=1.0, max_iter=-1),
        "^max_iter must be a non-negative integer, got -1$",
    ),
    "a shape": (
        lambda: linassign.sinkhorn(C, [0.5, 0.5], reg=1.0),
        r"^a must have shape \(3,\) to match cost of shape \(3, 2\), got shape \(2,\)$",
    ),
    "b shape batched": (
        lambda: linassign.sinkhorn(np.ones((2, 3, 2)), None, np.ones((3, 2)) / 2, reg=1.0),
        r"^b must have shape \(2,\) or \(2, 2\) to match cost of shape \(2, 3, 2\), got shape \(3, 2\)$",
    ),
    "a negative": (
        lambda: linassign.sinkhorn(C, [1.0, 0.5, -0.5], reg=1.0),
        "^a must be non-negative, got a minimum of -0.5$",
    ),
    "b nan": (
        lambda: linassign.sinkhorn(C, None, [np.nan, 1.0], reg=1.0),
        "^b must contain only finite values, got 1 NaN or inf$",
    ),
    "mass": (
        lambda: linassign.sinkhorn(C, [1.0, 1.0, 1.0], [1.0, 1.0], reg=1.0),
        r"^a and b must have the same total mass, got sum\(a\) = 3\.0 and sum\(b\) = 2\.0; rescale one of them$",
    ),
    "a complex": (
        lambda: linassign.sinkhorn(C, np.ones(3, complex), reg=1.0),
        "^a must be an array of real numbers, got dtype complex128$",
    ),
    "init not a pair": (
        lambda: linassign.sinkhorn(C, reg=1.0, init=np.zeros(3)),
        r"^init must be a pair \(f, g\) of dual potentials, got ndarray$",
    ),
    "init shape": (
        lambda: linassign.sinkhorn(C, reg=1.0, init=(np.zeros(3), np.zeros(3))),
        r"^init g must have shape \(2,\), got shape \(3,\)$",
    ),
    "init not finite": (
        lambda: linassign.sinkhorn(C, reg=1.0, init=(np.array([0.0, np.inf, 0.0]), np.zeros(2))),
        "^init f must be finite where its marginal is positive$",
    ),
    "return_plan": (
        lambda: linassign.sinkhorn(C, reg=1.0, return_plan=1),
        "^return_plan must be True or False, got 1 of type int$",
    ),
    "invalid entries": (
        lambda: linassign.sinkhorn([[0.0, np.nan]], reg=1.0),
        "^matrix contains invalid numeric entries$",
    ),
    "wrong infinity": (
        lambda: linassign.sinkhorn([[0.0, np.inf]], reg=1.0, maximize=True),
        "^matrix contains invalid numeric entries$",
    ),
    "1-D cost": (
        lambda: linassign.sinkhorn(np.ones(3), reg=1.0),
        r"^expected a matrix \(2-D array\) or a batch of matrices \(3-D array\)",
    ),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_error_messages(case):
    call, pattern = ERRORS[case]
    exc = TypeError if case in ("a complex", "return_plan") else ValueError
    with pytest.raises(exc, match=pattern):
        call()


def test_reg_is_required():
    with pytest.raises(TypeError, match="reg"):
        linassign.sinkhorn(C)


def test_large_problem_parallel_kernel_matches_pot():
    """Above sinkhorn_parallel_min_size the row-block parallel kernel runs; same iterate as POT."""
    rng = np.random.default_rng(9)
    cost = rng.standard_normal((700, 100))
    a = rng.random(700) + 0.1
    b = rng.random(100) + 0.1
    b *= a.sum() / b.sum()
    assert cost.size >= CONFIG["sinkhorn_parallel_min_size"]
    for reg, n_iter in ((0.5, 30), (0.01, 5)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", linassign.ConvergenceWarning)
            res = linassign.sinkhorn(cost, a, b, reg=reg, tol=0.0, max_iter=n_iter, return_plan=True)
        assert res.n_iter == n_iter
        assert np.abs(res.plan - pot_plan(cost, a, b, reg, n_iter)).sum() <= 1e-6 * a.sum()
