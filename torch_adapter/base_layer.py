# T tokens, E experts, C = T // E capacity, D model dim, W world size, L = E // W experts per rank
"""The BASE layer (Lewis et al. 2021): balanced assignment of tokens to experts, expert-parallel.

Forward pass, on every rank of the group (numbered as in :meth:`BaseLayer.forward`):

0. header: all-gather (non-finite flag, token count) so every rank knows every size, and all ranks raise
   together on NaN/inf instead of one raising and the others hanging in the next collective;
1. shuffle (training, scope "worker", W > 1): a random permutation, then an all-to-all in near-equal
   splits, so each rank balances a random sample of the batch rather than correlated neighbours;
2. affinities ``h . w_e`` for all experts (no gradient);
3. assignment: balanced (training; per rank or global) or greedy (evaluation);
4. dispatch: sort by expert, exchange counts, all-to-all with exact uneven splits;
5. experts: each local expert runs once on all its rows; the output is mixed in through the gate
   ``sigmoid(h . w_e)``;
6. return all-to-all (splits swapped) and un-sort; 7. un-shuffle.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .dispatch import (
    even_splits,
    inverse_permutation,
    local_expert_permutation,
    permute_rows,
    rank_splits,
    sort_by_expert,
)
from .distributed import (
    all_gather_rows,
    all_gather_small,
    all_to_all,
    broadcast_,
    exchange_counts,
    gather_rows,
    resolve_group,
)
from .functional import METHODS, Routing, balanced_routing, greedy_routing

__all__ = ["BaseLayer", "Expert", "ResidualFFN", "RoutingStats"]

SCOPES = ("worker", "global")


class RoutingStats(NamedTuple):
    """What the last forward pass did on this rank.

    Attributes
    ----------
    tokens_per_expert : int64 tensor of shape (E,)
        Tokens this rank routed to each global expert (after the shuffle, if any). Sum over ranks with
        ``torch.distributed.all_reduce`` for the whole batch.
    top1_share : float
        Share of those tokens whose expert is one of their highest-scoring experts (1.0 in evaluation,
        which routes greedily; NaN when this rank routed no tokens).
    tokens_received : int64 tensor of shape (L,)
        Tokens each of this rank's experts processed, from all ranks.
    balanced : bool
        True for the balanced assignment (training), False for greedy routing (evaluation).
    """

    tokens_per_expert: torch.Tensor
    top1_share: float
    tokens_received: torch.Tensor
    balanced: bool


# ----------------------------------------------------------------------------------------------------------
# Experts
# ----------------------------------------------------------------------------------------------------------


class ResidualFFN(nn.Module):
    """One residual feed-forward sublayer, pre-norm: ``x + ff2(relu(ff1(norm(x))))``.

    Parameters
    ----------
    d_model, d_ff : int
        Model and hidden widths.
    """

    def __init__(self, d_model: int, d_ff: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.ff1 = nn.Linear(d_model, d_ff)
        self.ff2 = nn.Linear(d_ff, d_model)

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        """The residual branch ``ff2(relu(ff1(norm(x))))`` (the sublayer's output minus ``x``)."""
        return self.ff2(F.relu(self.ff1(self.norm(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.branch(x)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """nn.Linear's default init for ``ff1`` (from ``generator``), zeros for ``ff2``: the sublayer
        starts as the identity, as in fairseq's BASE layer."""
        self.norm.reset_parameters()
        nn.init.kaiming_uniform_(self.ff1.weight, a=math.sqrt(5), generator=generator)
        bound = 1.0 / math.sqrt(self.ff1.in_features)
        nn.init.uniform_(self.ff1.bias, -bound, bound, generator=generator)
        nn.init.zeros_(self.ff2.weight)
        nn.init.zeros_(self.ff2.bias)


class Expert(nn.Module):
    """A stack of ``num_sublayers`` residual feed-forward sublayers with layer norm.

    ``forward`` returns the stack's residual part ``f(x) = stack(x) - x``, accumulated branch by branch
    (no cancellation), which the BASE layer gates.

    Parameters
    ----------
    d_model, d_ff, num_sublayers : int
    """

    def __init__(self, d_model: int, d_ff: int, num_sublayers: int) -> None:
        super().__init__()
        self.sublayers = nn.ModuleList([ResidualFFN(d_model, d_ff) for _ in range(num_sublayers)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        delta: torch.Tensor | None = None
        for sub in self.sublayers:
            r = sub.branch(h)
            h = h + r
            delta = r if delta is None else delta + r
        assert delta is not None  # num_sublayers >= 1
        return delta

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        for sub in self.sublayers:
            sub.reset_parameters(generator)


# ----------------------------------------------------------------------------------------------------------
# The layer
# ----------------------------------------------------------------------------------------------------------


class BaseLayer(nn.Module):
    """A BASE layer: tokens routed to experts by a balanced linear assignment, expert-parallel.

    Parameters
    ----------
    d_model : int
        Feature width D; the input is ``(..., D)``.
    num_experts : int
        E, divisible by the world size of ``group``; each rank holds L = E / W experts.
    d_ff : int, optional
        Hidden width of each expert sublayer; default ``4 * d_model``.
    num_sublayers : int, default 1
        Residual feed-forward sublayers per expert.
    method : {"auction", "hungarian", "sinkhorn"}
        linassign's balanced-assignment solver (all exact: the routing is an optimal assignment).
    shuffle : bool, default True
        In training with scope "worker" and W > 1, send the tokens to random ranks before routing and back
        after (the paper's remedy for correlated tokens within one rank's batch). Outputs keep the input
        order. No effect in evaluation, at world size 1, or with scope "global" (where it cannot change
        the assignment problem).
    group : ProcessGroup, optional
        The ranks the experts are spread over. None: the default group if torch.distributed is
        initialized, else a single process with all experts (no process group needed). Create the layer
        after ``init_process_group``.
    scope : {"worker", "global"}
        ``"worker"`` (the paper): each rank balances its own tokens over all experts, so every expert gets
        T/E of every rank's tokens. ``"global"``: one balanced assignment over the tokens of all ranks.

    Notes
    -----
    **Output.** A token ``h`` routed to expert ``e`` leaves as ``h + sigmoid(h . w_e) * f_e(h)``, where
    ``w_e`` is the expert's centroid and ``f_e(h)`` the residual part of its sublayer stack
    (``stack_e(h) - h``). This is the paper's formula with ``f_e`` read as the expert's residual branch,
    and it is exactly what fairseq's reference implementation computes
    (``a * stack_e(h) + (1 - a) * h`` with ``a = sigmoid(h . w_e)``). The gate is the only path by which
    the centroids receive gradient; the assignment itself is not differentiable.

    **Routing.** Training routes by the optimal balanced assignment of the affinities ``h . w_e``
    (maximized). When E does not divide a rank's token count T (T = qE + r), experts receive q or q + 1
    tokens (loads differ by at most one). Evaluation routes every token to its highest-affinity expert
    (uneven loads). Column prices are kept between steps as the solver's warm start.

    **Parameters and gradients.** ``expert_centroids`` (E, D) is shared: identical on all ranks (seed all
    ranks alike or broadcast it); its gradient on a rank covers the tokens that rank's experts processed,
    so it must be summed (or averaged, like DDP) over ranks. Expert parameters live only on their
    owning rank and receive the gradient of the sum of all ranks' losses; keep them out of data-parallel
    all-reduce (see :meth:`expert_parameters`).

    **Checkpoints.** ``state_dict()`` keys expert parameters by global expert id (``experts.<e>.…``) and
    the centroids by the same name at every world size, so the union of the ranks' state dicts (see
    ``torch_adapter.gather_state_dict``) loads at any world size; ``load_state_dict`` ignores the
    experts other ranks own, so each rank takes its part of a full checkpoint.

    Examples
    --------
    >>> import torch
    >>> from torch_adapter import BaseLayer
    >>> layer = BaseLayer(16, 4)
    >>> y = layer(torch.randn(2, 8, 16))
    >>> y.shape, layer.routing_stats().tokens_per_expert.tolist()
    (torch.Size([2, 8, 16]), [4, 4, 4, 4])
    """

    def __init__(
        self,
        d_model: int,
        num_experts: int,
        *,
        d_ff: int | None = None,
        num_sublayers: int = 1,
        method: str = "auction",
        shuffle: bool = True,
        group: Any = None,
        scope: str = "worker",
    ) -> None:
        super().__init__()
        for name, value in (
            ("d_model", d_model),
            ("num_experts", num_experts),
            ("num_sublayers", num_sublayers),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        d_ff = 4 * d_model if d_ff is None else d_ff
        if not isinstance(d_ff, int) or isinstance(d_ff, bool) or d_ff < 1:
            raise ValueError(f"d_ff must be a positive int (or None for 4 * d_model), got {d_ff!r}")
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
        if not isinstance(shuffle, bool):
            raise TypeError(f"shuffle must be True or False, got {shuffle!r}")

        self._group, self.rank, self.world_size = resolve_group(group)
        if num_experts % self.world_size:
            raise ValueError(
                f"num_experts ({num_experts}) must be divisible by the world size of the group "
                f"({self.world_size}); use a multiple of {self.world_size} experts"
            )
        self.d_model, self.num_experts, self.d_ff = d_model, num_experts, d_ff
        self.num_sublayers, self.method, self.shuffle, self.scope = num_sublayers, method, shuffle, scope
        self.num_local_experts = num_experts // self.world_size
        first = self.rank * self.num_local_experts
        self.local_expert_ids: list[int] = list(range(first, first + self.num_local_experts))

        self.expert_centroids = nn.Parameter(torch.empty(num_experts, d_model))
        # Building the experts runs nn.Linear's own init on the default generator, as many times as this
        # rank has experts; fork it so that reset_parameters draws the same numbers at every world size.
        with torch.random.fork_rng(devices=[]):
            self.experts = nn.ModuleDict({str(e): Expert(d_model, d_ff, num_sublayers) for e in self.local_expert_ids})

        # Warm start: the last column prices, by problem width (E, or 2E when E does not divide T).
        self._prices: dict[int, torch.Tensor] = {}
        self._last: tuple[torch.Tensor, torch.Tensor, int, torch.Tensor, bool] | None = None
        # Global scope: "root" (rank 0 of the group solves and broadcasts the assignment) or "all" (every rank
        # solves the all-gathered problem identically). "root" measured faster (benchmarks/
        # test_bench_base_layer.py, 2 x 16384 tokens, 8 experts, gloo on 2 cores: 19-37 ms against 33-57 ms
        # over three runs; even at 2 x 2048) and does not need the solver to be bit-deterministic across ranks.
        self._global_solve = "root"
        self.register_load_state_dict_pre_hook(_keep_local_experts)
        self.reset_parameters()

    # ------------------------------------------------------------------------------------------------------
    # Parameters
    # ------------------------------------------------------------------------------------------------------

    def reset_parameters(self) -> None:
        """Centroids orthogonal with gain 0.1 (fairseq); experts from per-expert generators.

        Both draw from torch's default generator the same way at every world size, and expert ``e`` is
        initialized from a generator seeded by that draw and ``e``: with the same seed, a layer holds the
        same parameters for expert ``e`` whichever rank owns it (and all ranks the same centroids).
        """
        nn.init.orthogonal_(self.expert_centroids, gain=0.1)
        base = int(torch.randint(0, 2**62, (1,)).item())
        for e in self.local_expert_ids:
            expert = self.experts[str(e)]
            device = next(expert.parameters()).device
            gen = torch.Generator(device=device)
            gen.manual_seed(base + e)
            expert.reset_parameters(gen)

    def expert_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters of this rank's experts (not replicated: keep them out of data-parallel all-reduce)."""
        return self.experts.parameters()

    def shared_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters replicated on every rank (the centroids): all-reduce their gradients."""
        yield self.expert_centroids

    def __deepcopy__(self, memo: dict[int, Any]) -> BaseLayer:
        """A copy (e.g. for an EMA of the weights) that shares the process group, which cannot be copied."""
        if self._group is not None:
            memo[id(self._group)] = self._group
        new = self.__class__.__new__(self.__class__)
        memo[id(self)] = new
        for key, value in self.__dict__.items():
            new.__dict__[key] = copy.deepcopy(value, memo)
        return new

    def extra_repr(self) -> str:
        return (
            f"d_model={self.d_model}, num_experts={self.num_experts}, d_ff={self.d_ff}, "
            f"num_sublayers={self.num_sublayers}, method={self.method!r}, scope={self.scope!r}, "
            f"shuffle={self.shuffle}, rank={self.rank}, world_size={self.world_size}, "
            f"local_experts={self.local_expert_ids}"
        )

    # ------------------------------------------------------------------------------------------------------
    # Forward
    # ------------------------------------------------------------------------------------------------------

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Route every token to one expert and mix its output in; same shape and order as ``x``.

        Parameters
        ----------
        x : tensor of shape (..., d_model)
            Never modified. May hold no tokens on some ranks.

        Returns
        -------
        tensor of shape ``x.shape``

        Raises
        ------
        ValueError
            ``x`` does not end in ``d_model``, or the features (on any rank) or the centroids contain
            NaN or inf: all ranks raise together.
        """
        if not isinstance(x, torch.Tensor) or x.dim() < 1 or x.shape[-1] != self.d_model:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"BaseLayer expects input of shape (..., {self.d_model}), got {shape}")
        group, rank, world = self._group, self.rank, self.world_size
        h = x.reshape(-1, self.d_model)  # (T, D); a view when possible, never written to
        n_local = h.shape[0]

        # 0. Header: every rank's token count and non-finite flag, before any data-dependent collective.
        bad = ~(torch.isfinite(h).all() & torch.isfinite(self.expert_centroids.detach()).all())
        if world > 1:
            header = torch.stack([bad.to(torch.int64), torch.tensor(n_local, device=h.device)])
            flags, sizes = all_gather_small(header, group).t().tolist()
        else:
            flags, sizes = [int(bad)], [n_local]
        if any(flags):
            raise ValueError(self._nonfinite_message(flags, h))

        # 1. Shuffle: random permutation, then near-equal splits to every rank.
        shuffled = self.shuffle and self.training and world > 1 and self.scope == "worker"
        if shuffled:
            perm = torch.randperm(n_local, device=h.device)
            sh_send = even_splits(n_local, world)
            sh_recv = [even_splits(sizes[s], world)[rank] for s in range(world)]
            h = all_to_all(permute_rows(h, perm), sh_send, sh_recv, group)

        # 2. Affinities of every token to every centroid; routing takes no gradient.
        with torch.no_grad():
            scores = h.detach() @ self.expert_centroids.detach().t()  # (T', E)

        # 3. Assignment.
        recv_counts: torch.Tensor | None = None  # (W, L), known without exchange in the global scope
        if not self.training:
            routing = greedy_routing(scores)
        elif self.scope == "worker" or world == 1:
            routing = self._balanced(scores)
        else:
            routing, recv_counts = self._balanced_global(scores, sizes)
        expert, order, counts = routing.expert, routing.order, routing.counts

        # 4. Dispatch: rows sorted by expert are sorted by destination rank (contiguous expert layout).
        send = rank_splits(counts, world).tolist()
        if world > 1:
            if recv_counts is None:
                recv_counts = exchange_counts(counts, world, group)
            recv = recv_counts.sum(dim=1).tolist()
        else:
            recv_counts, recv = counts.view(1, -1), send
        # (N, D): the rows this rank's experts process, grouped by (source rank, local expert)
        routed = all_to_all(permute_rows(h, order), send, recv, group)

        # 5. Local experts, each once over all its rows.
        if world > 1 and self.num_local_experts > 1:
            local_perm, per_expert = local_expert_permutation(recv_counts)
            local_inv = inverse_permutation(local_perm)
            routed = permute_rows(routed, local_perm, local_inv)
        else:
            local_perm, per_expert = None, recv_counts.sum(dim=0)
        chunks = torch.split(routed, per_expert.tolist())
        outs = [
            self._apply_expert(e, c) if c.shape[0] else c for e, c in zip(self.local_expert_ids, chunks, strict=True)
        ]
        y = torch.cat(outs) if outs else routed
        if local_perm is not None:
            y = permute_rows(y, local_inv, local_perm)

        # 6. Back to the sending ranks (splits swapped), then to the original token order.
        out = permute_rows(all_to_all(y, recv, send, group), inverse_permutation(order), order)

        # 7. Un-shuffle.
        if shuffled:
            out = permute_rows(all_to_all(out, sh_recv, sh_send, group), inverse_permutation(perm), perm)

        self._record(scores, expert, counts, per_expert)
        return out.reshape(x.shape)

    def _apply_expert(self, e: int, rows: torch.Tensor) -> torch.Tensor:
        """``rows + sigmoid(rows . w_e) * f_e(rows)`` for the rows routed to local expert ``e``."""
        gate = torch.sigmoid(rows @ self.expert_centroids[e])  # (n,)
        return torch.addcmul(rows, gate.unsqueeze(1), self.experts[str(e)](rows))

    def _balanced(self, scores: torch.Tensor) -> Routing:
        """This rank's tokens balanced over all experts, warm-started from the last prices."""
        n, e = scores.shape
        width = e if n % e == 0 else 2 * e
        routing = balanced_routing(scores, method=self.method, prices=self._prices.get(width))
        if routing.prices is not None:
            self._prices[routing.prices.shape[0]] = routing.prices
        return routing

    def _balanced_global(self, scores: torch.Tensor, sizes: list[int]) -> tuple[Routing, torch.Tensor]:
        """One balanced assignment over all ranks' tokens; this rank's part, and the receive counts.

        Every rank learns the whole assignment (broadcast from the group's rank 0, or solved identically
        everywhere), so the counts each rank receives per local expert are known without the count
        exchange of the worker scope.
        """
        group, rank, world, e = self._group, self.rank, self.world_size, self.num_experts
        total = sum(sizes)
        if self._global_solve == "all":
            # Identical bytes on every rank and a deterministic solver: identical assignments.
            everything = self._balanced(all_gather_rows(scores, sizes, group))
            expert_all = everything.expert
        else:
            gathered = gather_rows(scores, sizes, 0, group)
            if gathered is not None:
                expert_all = self._balanced(gathered).expert
            else:
                expert_all = torch.empty(total, dtype=torch.int64, device=scores.device)
            broadcast_(expert_all, 0, group)
        bounds = [0, *torch.tensor(sizes).cumsum(0).tolist()]
        counts_all = torch.stack(
            [torch.bincount(expert_all[bounds[s] : bounds[s + 1]], minlength=e) for s in range(world)]
        )  # (W, E): tokens of rank s for expert e
        expert = expert_all[bounds[rank] : bounds[rank + 1]]
        order, counts = sort_by_expert(expert, e)
        first = self.local_expert_ids[0]
        recv_counts = counts_all[:, first : first + self.num_local_experts]
        return Routing(expert, order, counts, None), recv_counts

    def _nonfinite_message(self, flags: list[int], h: torch.Tensor) -> str:
        ranks = [r for r, f in enumerate(flags) if f]
        where = f" on rank(s) {ranks} of {len(flags)}" if len(flags) > 1 else ""
        detail = ""
        if flags[self.rank]:
            n_feat = int((~torch.isfinite(h)).sum())
            n_cent = int((~torch.isfinite(self.expert_centroids.detach())).sum())
            detail = f" (here: {n_feat} non-finite feature entries of {h.numel()}, {n_cent} in expert_centroids)"
        return (
            f"BaseLayer got NaN or inf{where}{detail}; routing on non-finite token-expert affinities would "
            "be meaningless, so no rank routed anything. Find where the features first become non-finite "
            "(e.g. with torch.autograd.set_detect_anomaly) or lower the learning rate."
        )

    # ------------------------------------------------------------------------------------------------------
    # Statistics
    # ------------------------------------------------------------------------------------------------------

    def _record(self, scores: torch.Tensor, expert: torch.Tensor, counts: torch.Tensor, received: torch.Tensor) -> None:
        """Keep tensors only (no host sync); routing_stats converts on demand."""
        with torch.no_grad():
            if scores.shape[0]:
                chosen = scores.gather(1, expert.unsqueeze(1)).squeeze(1)
                top1 = (chosen >= scores.max(dim=1).values).sum()
            else:
                top1 = torch.zeros((), dtype=torch.int64, device=scores.device)
        self._last = (counts, top1, int(scores.shape[0]), received, self.training)

    def routing_stats(self) -> RoutingStats:
        """Tokens per expert and the share routed to their top-1 expert in the last forward pass.

        Returns
        -------
        RoutingStats
            For this rank (local, no communication).

        Raises
        ------
        RuntimeError
            Before the first forward pass.
        """
        if self._last is None:
            raise RuntimeError("routing_stats() is available after the first forward pass")
        counts, top1, n, received, balanced = self._last
        share = float(top1) / n if n else math.nan
        return RoutingStats(counts.clone(), share, received.clone(), balanced)


def _keep_local_experts(
    module: BaseLayer,
    state_dict: dict[str, Any],
    prefix: str,
    local_metadata: Any,
    strict: bool,
    missing_keys: list[str],
    unexpected_keys: list[str],
    error_msgs: list[str],
) -> None:
    """load_state_dict pre-hook: drop the experts other ranks own from (torch's copy of) the state dict.

    A full checkpoint then loads on every rank, even with ``strict=True``; keys of experts that do not
    exist at all (``e >= num_experts``) are kept so that a mismatched checkpoint still fails loudly.
    """
    local = set(module.local_expert_ids)
    head = prefix + "experts."
    for key in [k for k in state_dict if k.startswith(head)]:
        eid = key[len(head) :].split(".", 1)[0]
        if eid.isdigit() and int(eid) < module.num_experts and int(eid) not in local:
            del state_dict[key]
