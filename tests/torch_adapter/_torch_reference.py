"""Independent references for the torch adapter tests: scipy on the slot-expanded problem, brute force on
tiny problems, and BASE-layer outputs computed token by token for a given routing (no dispatch at all)."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment


def expanded_optimum(scores: np.ndarray, capacity: np.ndarray) -> float:
    """Optimal total score with at most capacity[e] rows in column e (every row assigned), by scipy on the
    problem with column e repeated capacity[e] times."""
    scores = np.asarray(scores, dtype=np.float64)
    cols = np.repeat(np.arange(scores.shape[1]), np.minimum(capacity, scores.shape[0]))
    r, c = linear_sum_assignment(scores[:, cols], maximize=True)
    assert len(r) == scores.shape[0]
    return float(scores[r, cols[c]].sum())


def contract_balanced_assignment(
    scores, capacity=None, *, maximize=True, method="auction", tol=None, prices=None, backend="auto"
):
    """A slow stand-in with linassign.balanced_assignment's contract (API.md), for numpy input only.

    Used only where linassign.balanced_assignment does not exist yet (see conftest.py)."""
    s = np.asarray(scores, dtype=np.float64)
    n, e = s.shape
    if capacity is None:
        if n % e:
            raise ValueError("n must be divisible by E; pass a capacity")
        cap = np.full(e, n // e)
    else:
        cap = np.broadcast_to(np.asarray(capacity, dtype=np.int64), (e,)).copy()
    if np.isnan(s).any():
        raise ValueError("matrix contains invalid numeric entries")
    cols = np.repeat(np.arange(e), np.minimum(cap, n))
    big = s[:, cols] if maximize else -s[:, cols]
    finite = np.where(np.isfinite(big), big, -1e18)
    r, c = linear_sum_assignment(finite, maximize=True)
    assignment = np.full(n, -1, dtype=np.int64)
    assignment[r] = cols[c]
    order = np.argsort(assignment, kind="stable").astype(np.int64)
    counts = np.bincount(assignment[assignment >= 0], minlength=e).astype(np.int64)
    obj = float(s[r, cols[c]].sum())
    return SimpleNamespace(
        assignment=assignment,
        order=order,
        counts=counts,
        prices=np.zeros(e),
        objective=obj,
        bound=obj,
        gap=0.0,
        converged=True,
        n_iter=0,
    )


def brute_force_near_equal(scores: np.ndarray) -> float:
    """Best total score over all assignments whose loads are floor(n/E) or ceil(n/E) (tiny n only)."""
    n, e = scores.shape
    q = n // e
    best = -np.inf
    for assign in itertools.product(range(e), repeat=n):
        loads = np.bincount(assign, minlength=e)
        if loads.min() >= q and loads.max() <= q + 1:
            best = max(best, float(scores[np.arange(n), list(assign)].sum()))
    return best


def routed_reference(layer, x: torch.Tensor, expert: torch.Tensor) -> torch.Tensor:
    """``x[t] + sigmoid(x[t] . w_e) * f_e(x[t])`` with e = expert[t], computed expert by expert with the
    modules of a single-process layer that holds every expert (no sorting, no all-to-all)."""
    h = x.reshape(-1, x.shape[-1])
    out = h
    for e in range(layer.num_experts):
        idx = (expert == e).nonzero().squeeze(1)
        if idx.numel():
            rows = h[idx]
            gate = torch.sigmoid(rows @ layer.expert_centroids[e])
            y = rows + gate.unsqueeze(1) * layer.experts[str(e)](rows)
            out = out.index_copy(0, idx, y)
    return out.reshape(x.shape)


def randomize_(layer, seed: int) -> None:
    """Non-degenerate parameters (fairseq-style init zeroes ff2, which would make every test trivial)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
