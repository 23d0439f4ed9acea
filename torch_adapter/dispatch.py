# T tokens, E experts, C = T // E capacity, D model dim, W world size, L = E // W experts per rank
"""Index bookkeeping for expert-parallel dispatch: pure torch, no process group needed.

Experts are laid out contiguously over ranks: rank r owns global experts ``r*L .. r*L + L - 1``. So tokens
sorted by expert are also sorted by destination rank, and the rows each rank sends are contiguous.
"""

from __future__ import annotations

import torch

__all__ = [
    "even_splits",
    "inverse_permutation",
    "local_expert_permutation",
    "permute_rows",
    "rank_splits",
    "sort_by_expert",
]


def sort_by_expert(expert: torch.Tensor, num_experts: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Dispatch order and tokens per expert.

    Parameters
    ----------
    expert : int64 tensor of shape (T,)
        Expert of each token, in ``[0, num_experts)``.
    num_experts : int

    Returns
    -------
    order : int64 tensor of shape (T,)
        Token indices grouped by expert in ascending expert order, stable within an expert.
    counts : int64 tensor of shape (E,)
        Tokens per expert.
    """
    order = torch.sort(expert, stable=True).indices
    counts = torch.bincount(expert, minlength=num_experts)
    return order, counts


def inverse_permutation(perm: torch.Tensor) -> torch.Tensor:
    """The permutation ``inv`` with ``inv[perm] = arange(T)``, so that ``y[perm][inv] == y``.

    Parameters
    ----------
    perm : int64 tensor of shape (T,)
        A permutation of ``0 .. T-1``.

    Returns
    -------
    int64 tensor of shape (T,)
    """
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(perm.numel(), dtype=perm.dtype, device=perm.device)
    return inv


class _PermuteRows(torch.autograd.Function):
    """``x[perm]`` for a permutation: the backward is the inverse gather ``grad[inv]``, not the
    scatter-add that autograd uses for general indexing (which must allow repeated indices)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, perm: torch.Tensor, inv: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(inv)
        return x.index_select(0, perm)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:  # type: ignore[override]
        (inv,) = ctx.saved_tensors
        return grad.index_select(0, inv), None, None


def permute_rows(x: torch.Tensor, perm: torch.Tensor, inv: torch.Tensor | None = None) -> torch.Tensor:
    """``x[perm]`` along the first dimension, for a permutation ``perm``, with a gather in the backward.

    Parameters
    ----------
    x : tensor of shape (T, ...)
    perm : int64 tensor of shape (T,)
        A permutation of ``0 .. T-1`` (not checked).
    inv : int64 tensor of shape (T,), optional
        ``inverse_permutation(perm)`` if already known; computed when needed otherwise.

    Returns
    -------
    tensor of shape (T, ...)
    """
    if not (torch.is_grad_enabled() and x.requires_grad):
        return x.index_select(0, perm)
    if inv is None:
        inv = inverse_permutation(perm)
    return _PermuteRows.apply(x, perm, inv)


def rank_splits(counts: torch.Tensor, world_size: int) -> torch.Tensor:
    """Rows sent to each rank, given tokens per expert and the contiguous expert layout.

    Parameters
    ----------
    counts : int64 tensor of shape (E,)
        Tokens per global expert; E must be divisible by ``world_size``.
    world_size : int

    Returns
    -------
    int64 tensor of shape (W,)
    """
    assert counts.numel() % world_size == 0, "experts must divide evenly over ranks"
    return counts.view(world_size, -1).sum(dim=1)


def even_splits(n: int, parts: int) -> list[int]:
    """Split ``n`` rows into ``parts`` contiguous chunks whose sizes differ by at most one (larger first).

    Parameters
    ----------
    n, parts : int

    Returns
    -------
    list of int
        ``parts`` sizes summing to ``n``.
    """
    q, r = divmod(n, parts)
    return [q + 1] * r + [q] * (parts - r)


def local_expert_permutation(recv_counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Regroup received rows from (source rank, local expert) order to (local expert, source rank) order.

    After the all-to-all, a rank holds the rows from rank 0 (for its local experts 0..L-1 in turn), then
    the rows from rank 1, and so on. Running each local expert once over all its rows needs them grouped
    by local expert instead.

    Parameters
    ----------
    recv_counts : int64 tensor of shape (W, L)
        ``recv_counts[s, l]``: rows received from rank ``s`` for local expert ``l``.

    Returns
    -------
    perm : int64 tensor of shape (sum(recv_counts),)
        ``rows[perm]`` is grouped by local expert, stable (source order kept within an expert).
    expert_counts : int64 tensor of shape (L,)
        Rows per local expert.
    """
    w, l = recv_counts.shape
    flat = recv_counts.reshape(-1)
    labels = torch.arange(l, device=recv_counts.device).repeat(w)  # (W*L,) local expert of each block
    labels = torch.repeat_interleave(labels, flat)  # (N,) local expert of each received row
    perm = torch.sort(labels, stable=True).indices
    return perm, recv_counts.sum(dim=0)
