# T tokens, E experts, C = T // E capacity, D model dim
"""Token-to-expert assignment on torch tensors: balanced (training) and greedy (evaluation).

All solving is linassign's (its public ``balanced_assignment``); this module validates the scores, hands
them over zero-copy (see ``_convert``), and returns torch tensors on the scores' device. Nothing here is
differentiable: assignments are discrete, and the scores are detached before they reach the solver.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch

import linassign

from ._convert import from_array, solver_stream, to_array

__all__ = ["Routing", "balanced_assignment", "balanced_routing", "greedy_assignment", "greedy_routing"]

METHODS = ("auction", "hungarian", "sinkhorn")


class Routing(NamedTuple):
    """A token-to-expert assignment, ready for dispatch.

    Attributes
    ----------
    expert : int64 tensor of shape (T,)
        Expert of each token (-1 only when an explicit ``capacity`` leaves tokens unassigned).
    order : int64 tensor of shape (T,)
        Token indices grouped by expert in ascending expert order, stable within an expert:
        ``x[order]`` is the dispatch order.
    counts : int64 tensor of shape (E,)
        Tokens per expert.
    prices : float64 tensor of shape (E,) or (2E,), or None
        Column prices of the solved problem, to pass back as ``prices=`` next time (a warm start). Shape
        (2E,) when the token count was not divisible by E (see :func:`balanced_routing`); None for greedy.
    """

    expert: torch.Tensor
    order: torch.Tensor
    counts: torch.Tensor
    prices: torch.Tensor | None


# ----------------------------------------------------------------------------------------------------------
# Validation
# ----------------------------------------------------------------------------------------------------------


def _check_scores(scores: Any) -> torch.Tensor:
    """A 2-D real tensor without NaN or +inf (-inf forbids a pair, as in linassign)."""
    if not isinstance(scores, torch.Tensor):
        raise TypeError(
            f"scores must be a torch.Tensor of shape (T, E), got {type(scores).__name__}; "
            "for numpy or cupy arrays call linassign.balanced_assignment directly"
        )
    if scores.dim() != 2:
        raise ValueError(f"scores must be 2-D (tokens, experts), got shape {tuple(scores.shape)}")
    if scores.is_complex() or scores.dtype == torch.bool:
        raise TypeError(f"scores must be real numbers, got dtype {scores.dtype}")
    if scores.shape[1] == 0:
        raise ValueError(f"scores need at least one expert column, got shape {tuple(scores.shape)}")
    if scores.is_floating_point() and scores.numel():
        bad = torch.isnan(scores) | (scores == math.inf)
        if bool(bad.any()):
            n_bad = int(bad.sum())
            raise ValueError(
                f"scores contain {n_bad} NaN or +inf entries (of {scores.numel()}); routing needs finite "
                "token-expert affinities (-inf is allowed and forbids a pair): check the features for NaN/inf"
            )
    return scores


def _empty_routing(scores: torch.Tensor) -> Routing:
    dev = scores.device
    empty = torch.empty(0, dtype=torch.int64, device=dev)
    return Routing(empty, empty.clone(), torch.zeros(scores.shape[1], dtype=torch.int64, device=dev), None)


def _order_and_counts(expert: torch.Tensor, num_experts: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Stable sort by expert (-1 first, if any) and tokens per expert (E,)."""
    order = torch.sort(expert, stable=True).indices
    counts = torch.bincount(expert[expert >= 0], minlength=num_experts)
    return order, counts


# ----------------------------------------------------------------------------------------------------------
# Balanced assignment (training)
# ----------------------------------------------------------------------------------------------------------


def _call(scores: torch.Tensor, capacity: Any, method: str, tol: float | None, prices: Any) -> Any:
    arr = to_array(scores)
    warm = to_array(prices) if isinstance(prices, torch.Tensor) else prices
    return linassign.balanced_assignment(
        arr, capacity, maximize=True, method=method, tol=tol, prices=warm, backend="auto"
    )


def _solve(scores: torch.Tensor, capacity: Any, method: str, tol: float | None, prices: Any) -> Any:
    """One call to linassign.balanced_assignment on a zero-copy view (on torch's stream for CUDA).

    CUDA scores are solved on the GPU where linassign can (cupy installed and a GPU kernel for the
    method); otherwise the adapter copies the (T, E) scores to the host and solves them there, because
    routing must work on GPUs either way. The results are moved back by the caller.
    """
    if scores.device.type == "cuda":
        try:
            with solver_stream(scores.device):
                return _call(scores, capacity, method, tol, prices)
        except ImportError:  # no cupy, or linassign.BackendUnavailableError (an ImportError)
            scores = scores.detach().cpu()
            prices = prices.cpu() if isinstance(prices, torch.Tensor) else prices
    return _call(scores, capacity, method, tol, prices)


def _augmented_scores(scores: torch.Tensor) -> torch.Tensor:
    """The (T + E - r, 2E) problem whose solutions are exactly the assignments with loads q or q + 1.

    T = qE + r with 0 < r < E. Column e (capacity q) is the mandatory part of expert e and column E + e
    (capacity 1) its optional extra slot; both carry the token's score for e. E - r dummy rows score 0 in
    the optional columns and are forbidden (-inf) in the mandatory ones. Total capacity Eq + E equals the
    number of rows, so every slot is filled: each expert gets q real tokens plus its extra slot, which
    holds either a real token or a dummy, and exactly r experts end with q + 1. The optimum of this
    problem is the best of all such assignments (which experts get the extra token is chosen optimally).
    """
    n, e = scores.shape
    r = n % e
    s = scores.detach()
    if not s.is_floating_point():
        s = s.double()  # integers: exact up to 2**53, as linassign would cast them
    elif s.dtype not in (torch.float32, torch.float64):
        s = s.float()  # float16 / bfloat16: float32 holds them exactly
    aug = torch.full((n + e - r, 2 * e), -math.inf, dtype=s.dtype, device=s.device)
    aug[:n, :e] = s
    aug[:n, e:] = s
    aug[n:, e:] = 0.0
    return aug


def balanced_routing(
    scores: torch.Tensor,
    capacity: int | torch.Tensor | None = None,
    *,
    method: str = "auction",
    tol: float | None = None,
    prices: torch.Tensor | None = None,
) -> Routing:
    """Balanced assignment of tokens to experts maximizing the total score, with everything dispatch needs.

    Parameters
    ----------
    scores : tensor of shape (T, E)
        Token-expert affinities, on the CPU or CUDA, any real dtype (float16/bfloat16 are solved in float32).
        ``-inf`` forbids a pair. Never modified; detached (no gradient flows through the assignment).
    capacity : int or int tensor of shape (E,), optional
        Passed to linassign. None (the default) balances exactly: T/E tokens per expert when E divides T,
        otherwise ``ceil(T/E)`` or ``floor(T/E)`` per expert (loads differ by at most one), with the
        experts that take the extra tokens chosen optimally.
    method : {"auction", "hungarian", "sinkhorn"}
        linassign's solver.
    tol : float, optional
        None: an optimal assignment. ``tol > 0`` allows a gap of at most ``tol`` (linassign's contract).
    prices : tensor, optional
        ``Routing.prices`` of an earlier call, as a warm start; ignored if its length does not fit this
        problem (E columns, or 2E when E does not divide T). Never changes the optimality of the answer.

    Returns
    -------
    Routing
        ``expert``, ``order``, ``counts`` and ``prices`` on the scores' device.

    Raises
    ------
    TypeError
        ``scores`` is not a real torch tensor.
    ValueError
        ``scores`` is not 2-D, has no columns, or contains NaN or +inf.
    linassign.InfeasibleError
        Forbidden pairs leave no feasible assignment.

    Notes
    -----
    When E does not divide T (T = qE + r), an upper bound ``ceil(T/E)`` alone would let the solver leave
    some expert far below q tokens; instead the problem is solved in the augmented form described in
    ``_augmented_scores`` (one extra slot column per expert, E - r dummy rows), which forces every load
    to q or q + 1. That form is a copy of size (T + E - r, 2E); the divisible case is zero-copy.
    """
    scores = _check_scores(scores)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    n, e = scores.shape
    if n == 0:
        return _empty_routing(scores)

    if capacity is not None or n % e == 0:
        n_cols = e
        problem = scores
    else:
        n_cols = 2 * e
        problem = _augmented_scores(scores)
        capacity = torch.cat([torch.full((e,), n // e, dtype=torch.int64), torch.ones(e, dtype=torch.int64)])
    if isinstance(capacity, torch.Tensor):
        capacity = to_array(capacity.to("cpu"))
    if prices is not None and (prices.dim() != 1 or prices.shape[0] != n_cols):
        prices = None  # the warm start of a differently shaped problem: start cold

    res = _solve(problem, capacity, method, tol, prices)
    dev = scores.device  # results come back where the scores live (no-op unless solved on the host)
    new_prices = from_array(res.prices).to(dev, torch.float64)
    if n_cols == e:
        expert = from_array(res.assignment).to(dev, torch.int64)
        order = from_array(res.order).to(dev, torch.int64)
        counts = from_array(res.counts).to(dev, torch.int64)
        return Routing(expert, order, counts, new_prices)
    # Augmented problem: fold the extra-slot columns back onto their experts and drop the dummy rows.
    expert = from_array(res.assignment)[:n].to(dev, torch.int64) % e
    order, counts = _order_and_counts(expert, e)
    return Routing(expert, order, counts, new_prices)


def balanced_assignment(
    scores: torch.Tensor,
    capacity: int | torch.Tensor | None = None,
    *,
    method: str = "auction",
    tol: float | None = None,
    prices: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Balanced assignment of tokens to experts: the expert of each token and the dispatch order.

    Parameters
    ----------
    scores : tensor of shape (T, E)
        Token-expert affinities (higher is better). See :func:`balanced_routing` for the other parameters.
    capacity, method, tol, prices
        As in :func:`balanced_routing`.

    Returns
    -------
    expert : int64 tensor of shape (T,)
        Expert of each token.
    order : int64 tensor of shape (T,)
        Tokens grouped by expert in ascending expert order, stable within an expert.

    See Also
    --------
    balanced_routing : the same, with tokens per expert and the warm-start prices.
    greedy_assignment : each token to its best expert (evaluation).

    Examples
    --------
    >>> import torch
    >>> from torch_adapter import balanced_assignment
    >>> scores = torch.tensor([[5.0, 1.0], [4.0, 0.0], [3.0, 2.0], [0.0, 1.0]])
    >>> expert, order = balanced_assignment(scores)
    >>> expert.tolist(), order.tolist()
    ([0, 0, 1, 1], [0, 1, 2, 3])
    """
    r = balanced_routing(scores, capacity, method=method, tol=tol, prices=prices)
    return r.expert, r.order


# ----------------------------------------------------------------------------------------------------------
# Greedy assignment (evaluation)
# ----------------------------------------------------------------------------------------------------------


def greedy_routing(scores: torch.Tensor) -> Routing:
    """Each token to its highest-scoring expert (ties to the lowest expert id); loads are uneven.

    Parameters
    ----------
    scores : tensor of shape (T, E)

    Returns
    -------
    Routing
        ``prices`` is None.
    """
    scores = _check_scores(scores)
    with torch.no_grad():
        if scores.shape[0] == 0:
            return _empty_routing(scores)
        expert = torch.argmax(scores, dim=1)  # first maximum on ties
        order, counts = _order_and_counts(expert, scores.shape[1])
    return Routing(expert, order, counts, None)


def greedy_assignment(scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each token to its best expert, as BASE layers route at evaluation time.

    Parameters
    ----------
    scores : tensor of shape (T, E)

    Returns
    -------
    expert : int64 tensor of shape (T,)
        ``argmax`` of each row (the lowest expert id on ties).
    order : int64 tensor of shape (T,)
        Tokens grouped by expert in ascending expert order, stable within an expert.

    Examples
    --------
    >>> import torch
    >>> from torch_adapter import greedy_assignment
    >>> expert, order = greedy_assignment(torch.tensor([[0.0, 1.0], [2.0, 1.0], [0.0, 3.0]]))
    >>> expert.tolist(), order.tolist()
    ([1, 0, 1], [1, 0, 2])
    """
    r = greedy_routing(scores)
    return r.expert, r.order
