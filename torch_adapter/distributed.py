# T tokens, E experts, C = T // E capacity, D model dim, W world size, L = E // W experts per rank
"""Collectives for expert parallelism over ``torch.distributed`` (gloo on CPU, nccl on GPU).

Every function here is called by all ranks of the group in the same order, with data-dependent sizes
exchanged first, so that no rank ever waits on a collective that another rank skipped or sized
differently (the classic MoE all-to-all hang). With world size 1 nothing is communicated and no process
group is needed.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist

__all__ = [
    "AllToAll",
    "all_gather_rows",
    "all_gather_small",
    "all_to_all",
    "broadcast_",
    "exchange_counts",
    "gather_rows",
    "gather_state_dict",
    "resolve_group",
]


def resolve_group(group: Any = None) -> tuple[Any, int, int]:
    """``(group, rank, world_size)``: the default group when ``group`` is None and torch.distributed is
    initialized; ``(None, 0, 1)`` when it is not (a single process needs no process group).

    Parameters
    ----------
    group : ProcessGroup, optional
    """
    if group is None:
        if not (dist.is_available() and dist.is_initialized()):
            return None, 0, 1
        group = dist.group.WORLD
    return group, dist.get_rank(group), dist.get_world_size(group)


def _global_rank(group: Any, group_rank: int) -> int:
    return dist.get_global_rank(group, group_rank) if group is not dist.group.WORLD else group_rank


# ----------------------------------------------------------------------------------------------------------
# Differentiable all-to-all with exact, uneven splits
# ----------------------------------------------------------------------------------------------------------


class AllToAll(torch.autograd.Function):
    """Rows ``x[sum(send[:i]) : sum(send[:i+1])]`` go to rank i; rows from rank j arrive in block j.

    The backward pass is the same exchange with the splits swapped: the gradient of each received row
    goes back to the rank and position it came from.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, x: torch.Tensor, send_splits: list[int], recv_splits: list[int], group: Any
    ) -> torch.Tensor:
        ctx.send_splits, ctx.recv_splits, ctx.group = send_splits, recv_splits, group
        out = x.new_empty((sum(recv_splits), *x.shape[1:]))
        dist.all_to_all_single(out, x.contiguous(), recv_splits, send_splits, group=group)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:  # type: ignore[override]
        out = grad.new_empty((sum(ctx.send_splits), *grad.shape[1:]))
        dist.all_to_all_single(out, grad.contiguous(), ctx.send_splits, ctx.recv_splits, group=ctx.group)
        return out, None, None, None


def all_to_all(x: torch.Tensor, send_splits: list[int], recv_splits: list[int], group: Any = None) -> torch.Tensor:
    """Differentiable ``all_to_all_single`` over the first dimension, with exact (possibly uneven) splits.

    Parameters
    ----------
    x : tensor of shape (sum(send_splits), ...)
        Rows grouped by destination rank.
    send_splits : list of int, length W
        Rows of ``x`` for each rank.
    recv_splits : list of int, length W
        Rows this rank receives from each rank (``send_splits`` of the others, at this rank's index).
    group : ProcessGroup, optional
        None: the default group, or no communication at all when torch.distributed is not initialized.

    Returns
    -------
    tensor of shape (sum(recv_splits), ...)
        Rows grouped by source rank. At world size 1, ``x`` itself.
    """
    group, _, world_size = resolve_group(group)
    if len(send_splits) != world_size or len(recv_splits) != world_size:
        raise ValueError(
            f"need one split per rank (world size {world_size}), got {len(send_splits)} send and "
            f"{len(recv_splits)} receive splits"
        )
    if sum(send_splits) != x.shape[0]:
        raise ValueError(f"send_splits sum to {sum(send_splits)} but x has {x.shape[0]} rows")
    if world_size == 1:
        if recv_splits[0] != send_splits[0]:
            raise ValueError(f"at world size 1 the splits must agree, got {send_splits} and {recv_splits}")
        return x
    return AllToAll.apply(x, list(send_splits), list(recv_splits), group)


# ----------------------------------------------------------------------------------------------------------
# Small non-differentiable exchanges (sizes, counts, scores, assignments)
# ----------------------------------------------------------------------------------------------------------


def all_gather_small(values: torch.Tensor, group: Any) -> torch.Tensor:
    """Stack one small equal-shaped tensor from every rank: (W, *values.shape)."""
    world_size = dist.get_world_size(group)
    parts = [torch.empty_like(values) for _ in range(world_size)]
    dist.all_gather(parts, values.contiguous(), group=group)
    return torch.stack(parts)


def exchange_counts(counts: torch.Tensor, world_size: int, group: Any) -> torch.Tensor:
    """Tokens this rank sends to each global expert (E,) -> tokens it receives per (source rank, local
    expert) (W, L)."""
    recv = torch.empty_like(counts)
    dist.all_to_all_single(recv, counts.contiguous(), group=group)  # equal splits of L entries
    return recv.view(world_size, -1)


def all_gather_rows(rows: torch.Tensor, sizes: list[int], group: Any) -> torch.Tensor:
    """Concatenate every rank's rows (rank order) on every rank; ``sizes[r]`` rows from rank r.

    Padded to ``max(sizes)`` rows for the collective (all_gather needs equal shapes), then trimmed.
    """
    pad = max(sizes)
    buf = rows.new_zeros((pad, *rows.shape[1:]))
    buf[: rows.shape[0]] = rows
    parts = [torch.empty_like(buf) for _ in sizes]
    dist.all_gather(parts, buf, group=group)
    return torch.cat([p[:n] for p, n in zip(parts, sizes, strict=True)])


def gather_rows(rows: torch.Tensor, sizes: list[int], root: int, group: Any) -> torch.Tensor | None:
    """Concatenate every rank's rows on group rank ``root`` only (None elsewhere)."""
    pad = max(sizes)
    buf = rows.new_zeros((pad, *rows.shape[1:]))
    buf[: rows.shape[0]] = rows
    rank = dist.get_rank(group)
    parts = [torch.empty_like(buf) for _ in sizes] if rank == root else None
    dist.gather(buf, parts, dst=_global_rank(group, root), group=group)
    if parts is None:
        return None
    return torch.cat([p[:n] for p, n in zip(parts, sizes, strict=True)])


def broadcast_(t: torch.Tensor, root: int, group: Any) -> torch.Tensor:
    """Broadcast ``t`` in place from group rank ``root``; returns ``t``."""
    dist.broadcast(t, src=_global_rank(group, root), group=group)
    return t


# ----------------------------------------------------------------------------------------------------------
# Checkpoints
# ----------------------------------------------------------------------------------------------------------


def gather_state_dict(module: torch.nn.Module, group: Any = None) -> dict[str, torch.Tensor]:
    """The whole model's state dict on every rank: each rank's experts merged, tensors on the CPU.

    BaseLayer keys expert parameters by global expert id, so the ranks' state dicts are disjoint in their
    expert entries and identical in the shared ones; their union is a checkpoint that loads at any world
    size. Collective: every rank of ``group`` must call it.

    Parameters
    ----------
    module : torch.nn.Module
    group : ProcessGroup, optional

    Returns
    -------
    dict
        ``{name: cpu tensor}``; at world size 1, the module's own state dict (on the CPU).
    """
    local = {k: v.detach().to("cpu") for k, v in module.state_dict().items()}
    group, _, world_size = resolve_group(group)
    if world_size == 1:
        return local
    parts: list[Any] = [None] * world_size
    dist.all_gather_object(parts, local, group=group)
    merged: dict[str, torch.Tensor] = {}
    for part in parts:
        merged.update(part)
    return merged
