"""torch_adapter.dispatch (pure index bookkeeping) and the all-to-all at world size 1."""

from __future__ import annotations

import copy
import datetime

import pytest
import torch
import torch.distributed as dist
from hypothesis import given
from hypothesis import strategies as st

from torch_adapter import all_to_all
from torch_adapter.dispatch import (
    even_splits,
    inverse_permutation,
    local_expert_permutation,
    permute_rows,
    rank_splits,
    sort_by_expert,
)
from torch_adapter.distributed import AllToAll, resolve_group


@given(st.lists(st.integers(0, 5), max_size=40))
def test_sort_by_expert_groups_stably_and_counts(experts):
    expert = torch.tensor(experts, dtype=torch.int64)
    order, counts = sort_by_expert(expert, 6)
    assert order.tolist() == sorted(range(len(experts)), key=lambda t: (experts[t], t))
    assert counts.tolist() == [experts.count(e) for e in range(6)]


@given(st.permutations(list(range(12))))
def test_inverse_permutation_undoes_the_permutation(p):
    perm = torch.tensor(p)
    inv = inverse_permutation(perm)
    y = torch.randn(12, 3)
    assert torch.equal(y[perm][inv], y)
    assert torch.equal(perm[inv], torch.arange(12))


@given(st.permutations(list(range(9))))
def test_permute_rows_matches_indexing_forward_and_backward(p):
    perm = torch.tensor(p)
    x = torch.randn(9, 4, dtype=torch.float64, requires_grad=True)
    w = torch.randn(9, 4, dtype=torch.float64)
    y = permute_rows(x, perm)
    (y * w).sum().backward()
    assert torch.equal(y, x.detach()[perm])
    xr = x.detach().clone().requires_grad_(True)
    (xr[perm] * w).sum().backward()
    assert torch.equal(x.grad, xr.grad)
    assert torch.equal(permute_rows(x.detach(), perm, inverse_permutation(perm)), x.detach()[perm])


def test_rank_splits_sum_contiguous_experts():
    counts = torch.tensor([1, 2, 3, 4, 5, 6])
    assert rank_splits(counts, 3).tolist() == [3, 7, 11]
    assert rank_splits(counts, 1).tolist() == [21]


@given(st.integers(0, 50), st.integers(1, 7))
def test_even_splits(n, parts):
    s = even_splits(n, parts)
    assert len(s) == parts and sum(s) == n and max(s) - min(s) <= 1 and s == sorted(s, reverse=True)


@given(st.integers(1, 4), st.integers(1, 4), st.data())
def test_local_expert_permutation_regroups_by_local_expert(w, l, data):
    counts = data.draw(st.lists(st.integers(0, 3), min_size=w * l, max_size=w * l))
    recv = torch.tensor(counts, dtype=torch.int64).view(w, l)
    # Rows arrive as blocks (source s, local expert j) in source-major order; label each row by (j, s, k).
    labels = [(j, s, k) for s in range(w) for j in range(l) for k in range(int(recv[s, j]))]
    perm, per_expert = local_expert_permutation(recv)
    assert [labels[i] for i in perm.tolist()] == sorted(labels)
    assert per_expert.tolist() == recv.sum(dim=0).tolist()


# ----------------------------------------------------------------------------------------------------------
# all-to-all at world size 1
# ----------------------------------------------------------------------------------------------------------


def test_all_to_all_without_a_process_group_is_the_identity():
    assert resolve_group(None) == (None, 0, 1)
    x = torch.randn(5, 3, requires_grad=True)
    y = all_to_all(x, [5], [5])
    assert y is x
    with pytest.raises(ValueError, match="one split per rank"):
        all_to_all(x, [2, 3], [5])
    with pytest.raises(ValueError, match="sum to 4 but x has 5 rows"):
        all_to_all(x, [4], [4])
    with pytest.raises(ValueError, match="splits must agree"):
        all_to_all(x, [5], [4])


@pytest.fixture
def gloo_world_of_one():
    """An in-process gloo group of size 1 (no spawn needed), always destroyed."""
    store = dist.HashStore()
    dist.init_process_group("gloo", store=store, rank=0, world_size=1, timeout=datetime.timedelta(seconds=30))
    try:
        yield dist.group.WORLD
    finally:
        dist.destroy_process_group()


def test_all_to_all_autograd_function_in_a_group_of_one(gloo_world_of_one):
    x = torch.randn(4, 3, requires_grad=True)
    y = AllToAll.apply(x, [4], [4], gloo_world_of_one)
    assert torch.equal(y, x) and y.data_ptr() != x.data_ptr()
    w = torch.randn(4, 3)
    (y * w).sum().backward()
    assert torch.equal(x.grad, w)
    assert all_to_all(x, [4], [4]) is x  # a group of one never communicates


def test_base_layer_in_a_group_of_one_equals_no_group():
    from torch_adapter import BaseLayer

    plain = BaseLayer(8, 4)  # torch.distributed not initialized: no group at all
    assert plain._group is None and plain.world_size == 1
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        grouped = BaseLayer(8, 4, shuffle=True, scope="global")
        assert grouped._group is dist.group.WORLD and grouped.world_size == 1
        grouped.load_state_dict(plain.state_dict())
        for p in plain.parameters():
            torch.nn.init.normal_(p, generator=torch.Generator().manual_seed(p.numel()))
        grouped.load_state_dict(plain.state_dict())
        x = torch.randn(3, 5, 8)
        assert torch.equal(grouped(x), plain(x))
        grouped.eval(), plain.eval()
        assert torch.equal(grouped(x), plain(x))
        twin = copy.deepcopy(grouped)  # an EMA copy: shares the process group, copies the rest
        assert twin._group is grouped._group and twin.expert_centroids is not grouped.expert_centroids
        assert torch.equal(twin(x), grouped(x))
        assert twin.load_state_dict(plain.state_dict()) is not None
    finally:
        dist.destroy_process_group()
