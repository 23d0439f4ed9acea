"""Independent references for the torch adapter tests: scipy on the slot-expanded problem, brute force on
tiny problems, and BASE-layer outputs computed token by token for a given routing (no dispatch at all)."""

from __future__ import annotations

import itertools

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
