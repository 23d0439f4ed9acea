"""torch_adapter.functional and _convert: zero-copy hand-over, exact balanced routing, greedy routing."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _torch_reference import brute_force_near_equal, expanded_optimum
from hypothesis import given
from hypothesis import strategies as st

import linassign
from torch_adapter import balanced_assignment, balanced_routing, greedy_assignment, greedy_routing
from torch_adapter._convert import from_array, to_array


def _ptr(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


# ----------------------------------------------------------------------------------------------------------
# _convert: the DLPack bridge
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64])
def test_to_array_is_a_zero_copy_view(dtype):
    t = torch.arange(12, dtype=dtype).reshape(3, 4)
    a = to_array(t)
    assert isinstance(a, np.ndarray) and _ptr(a) == t.data_ptr()
    assert a.dtype == torch.empty(0, dtype=dtype).numpy().dtype
    np.testing.assert_array_equal(a, t.numpy())


def test_to_array_keeps_strided_views_and_detaches():
    base = torch.randn(4, 3, requires_grad=True)
    t = base.t()  # non-contiguous view of a leaf that requires grad
    a = to_array(t)
    assert _ptr(a) == t.data_ptr() and a.shape == (3, 4)
    np.testing.assert_array_equal(a, t.detach().numpy())


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_to_array_converts_half_precision_to_float32_only(dtype):
    t = torch.tensor([[1.5, -2.25], [3.0, 0.125]], dtype=dtype)
    a = to_array(t)
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, t.float().numpy())


def test_from_array_is_a_zero_copy_view():
    a = np.arange(5, dtype=np.int64)
    t = from_array(a)
    assert t.data_ptr() == _ptr(a) and t.dtype == torch.int64
    same = torch.ones(2)
    assert from_array(same) is same


def test_from_array_copies_read_only_arrays():
    a = np.arange(5, dtype=np.int64)
    a.flags.writeable = False
    t = from_array(a)
    assert t.data_ptr() != _ptr(a)
    assert t.tolist() == [0, 1, 2, 3, 4]


def test_to_array_rejects_other_devices():
    with pytest.raises(TypeError, match="move them to the CPU or CUDA"):
        to_array(torch.empty(2, 2, device="meta"))


# ----------------------------------------------------------------------------------------------------------
# balanced routing
# ----------------------------------------------------------------------------------------------------------


def test_balanced_assignment_hands_over_and_returns_zero_copy(monkeypatch):
    """The solver sees the scores' own memory, and the returned tensors view the solver's result arrays."""
    seen = {}
    real = linassign.balanced_assignment

    def spy(scores, *args, **kwargs):
        seen["scores"] = scores
        seen["res"] = res = real(scores, *args, **kwargs)
        return res

    monkeypatch.setattr(linassign, "balanced_assignment", spy)
    scores = torch.randn(12, 4, dtype=torch.float64)
    r = balanced_routing(scores)
    assert isinstance(seen["scores"], np.ndarray) and _ptr(seen["scores"]) == scores.data_ptr()
    assert r.expert.data_ptr() == _ptr(np.asarray(seen["res"].assignment))
    assert r.order.data_ptr() == _ptr(np.asarray(seen["res"].order))


@pytest.mark.parametrize(("n", "e"), [(12, 4), (13, 4), (7, 3), (2, 5), (1, 1), (64, 8)])
def test_balanced_routing_is_optimal_with_loads_differing_by_at_most_one(n, e):
    g = torch.Generator().manual_seed(n * 31 + e)
    scores = torch.randn(n, e, generator=g, dtype=torch.float64)
    before = scores.clone()
    r = balanced_routing(scores)
    q = n // e
    assert r.counts.tolist() == torch.bincount(r.expert, minlength=e).tolist()
    assert set(r.counts.tolist()) <= {q, q + 1} and int(r.counts.sum()) == n
    assert (r.counts == q + 1).sum() == n % e
    # order: grouped by expert in ascending order, stable within each expert.
    assert r.order.tolist() == sorted(range(n), key=lambda t: (int(r.expert[t]), t))
    objective = float(scores[torch.arange(n), r.expert].sum())
    if n % e == 0:
        assert objective == pytest.approx(expanded_optimum(scores.numpy(), np.full(e, q)), abs=1e-9)
    if n <= 7:
        assert objective == pytest.approx(brute_force_near_equal(scores.numpy()), abs=1e-9)
    assert torch.equal(scores, before)


@given(
    data=st.data(),
    n=st.integers(1, 7),
    e=st.integers(1, 3),
)
def test_balanced_routing_matches_brute_force_on_integer_ties(data, n, e):
    values = data.draw(st.lists(st.integers(-3, 3), min_size=n * e, max_size=n * e))
    scores = torch.tensor(values, dtype=torch.float64).reshape(n, e)
    r = balanced_routing(scores)
    q = n // e
    assert set(r.counts.tolist()) <= {q, q + 1} and int(r.counts.sum()) == n
    objective = float(scores[torch.arange(n), r.expert].sum())
    assert objective == brute_force_near_equal(scores.numpy())


def test_integer_scores_keep_their_precision_when_augmented():
    big = 2**40
    scores = torch.tensor([[big + 1, big], [big + 1, big], [big, big]], dtype=torch.int64)
    r = balanced_routing(scores)  # 3 tokens, 2 experts: the augmented form, solved in float64
    assert r.counts.tolist() in ([2, 1], [1, 2])
    assert int(scores[torch.arange(3), r.expert].sum()) == 3 * big + 2


def test_balanced_routing_with_an_explicit_capacity():
    scores = torch.tensor([[3.0, 0.0], [2.0, 0.0], [1.0, 0.0]])
    r = balanced_routing(scores, capacity=2)
    assert r.expert.tolist() == [0, 0, 1] and r.counts.tolist() == [2, 1]


def test_warm_start_prices_round_trip_and_misfits_are_ignored():
    g = torch.Generator().manual_seed(0)
    s1, s2 = torch.randn(16, 4, generator=g), torch.randn(16, 4, generator=g)
    first = balanced_routing(s1)
    assert first.prices is not None and first.prices.shape == (4,) and first.prices.dtype == torch.float64
    cold, warm = balanced_routing(s2), balanced_routing(s2, prices=first.prices)
    total = lambda r: float(s2[torch.arange(16), r.expert].double().sum())  # noqa: E731
    assert total(warm) == pytest.approx(total(cold), abs=1e-5)
    odd = balanced_routing(torch.randn(15, 4, generator=g), prices=first.prices)  # needs 8 prices: ignored
    assert odd.prices.shape == (8,)


def test_balanced_assignment_takes_no_gradient_and_half_precision():
    scores = torch.randn(8, 4, requires_grad=True)
    expert, order = balanced_assignment(scores)
    assert not expert.requires_grad and not order.requires_grad
    assert expert.dtype == order.dtype == torch.int64
    e16, _ = balanced_assignment(scores.detach().bfloat16())
    e32, _ = balanced_assignment(scores.detach().bfloat16().float())
    assert torch.equal(e16, e32)


def test_forbidden_pairs_are_respected():
    scores = torch.tensor([[-math.inf, 1.0], [5.0, 4.0], [0.0, 0.0], [1.0, -math.inf]])
    expert, _ = balanced_assignment(scores)
    assert expert[0] == 1 and expert[3] == 0


def test_empty_scores_give_empty_routing():
    r = balanced_routing(torch.empty(0, 3))
    assert r.expert.shape == r.order.shape == (0,) and r.counts.tolist() == [0, 0, 0]
    g = greedy_routing(torch.empty(0, 3))
    assert g.expert.shape == (0,) and g.counts.tolist() == [0, 0, 0]


@pytest.mark.parametrize("fn", [balanced_assignment, greedy_assignment])
def test_bad_scores_raise_clear_errors(fn):
    with pytest.raises(ValueError, match="contain 1 NaN or \\+inf"):
        fn(torch.tensor([[0.0, float("nan")], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="NaN or \\+inf"):
        fn(torch.tensor([[0.0, math.inf], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="must be 2-D"):
        fn(torch.zeros(4))
    with pytest.raises(ValueError, match="at least one expert"):
        fn(torch.zeros(4, 0))
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        fn(np.zeros((4, 2)))
    with pytest.raises(TypeError, match="real numbers"):
        fn(torch.zeros(4, 2, dtype=torch.complex64))


def test_unknown_method_raises():
    with pytest.raises(ValueError, match="method must be one of"):
        balanced_assignment(torch.zeros(4, 2), method="greedy")


# ----------------------------------------------------------------------------------------------------------
# greedy routing
# ----------------------------------------------------------------------------------------------------------


def test_greedy_routes_to_the_best_expert_lowest_id_on_ties():
    scores = torch.tensor([[0.0, 1.0, 1.0], [2.0, 1.0, 0.0], [0.0, 3.0, 0.0], [5.0, 5.0, 5.0]])
    r = greedy_routing(scores)
    assert r.expert.tolist() == [1, 0, 1, 0]
    assert r.order.tolist() == [1, 3, 0, 2]
    assert r.counts.tolist() == [2, 2, 0] and r.prices is None


@given(st.integers(1, 30), st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_greedy_matches_argmax(n, e, seed):
    scores = torch.randn(n, e, generator=torch.Generator().manual_seed(seed))
    expert, order = greedy_assignment(scores)
    assert torch.equal(expert, scores.argmax(dim=1))
    assert torch.equal(expert[order], torch.sort(expert).values)
