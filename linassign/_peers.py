"""Peers that ``linassign demo`` and the benchmarks measure the balanced solvers against. Not public API.

- ``pot_emd``: POT's exact network simplex (``ot.emd``) on the transport problem (row masses 1, column
  masses the capacities); needs POT (``pip install 'linassign[bench]'``).
- ``paper_baseline``: the auction of the BASE layers paper's released code, re-implemented in numpy from its
  description (experts bid for their top k + 1 tokens with a fixed eps = (max - min) / 50, at most 100
  rounds, then a cheap greedy completion); approximate.

Both return the assignment (n,) of an (n, E) score matrix, maximizing, with n / E rows per column.
"""

from __future__ import annotations

import numpy as np


def pot_emd(scores: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Assignment (n,) from ``ot.emd`` (exact) on the transport problem with marginals 1 and ``capacity``
    (sum(capacity) == n). The optimal plan of a transportation problem with integral marginals is
    integral; each row's mass sits in one column."""
    import ot

    n = scores.shape[0]
    plan = ot.emd(np.ones(n), capacity.astype(np.float64), -scores.astype(np.float64), numItermax=10**8)
    return np.asarray(plan.argmax(axis=1), dtype=np.int64)


def paper_baseline(scores: np.ndarray, rounds: int = 100) -> np.ndarray:
    """The BASE paper's balanced assignment as its released code describes it, in numpy: a reverse auction
    in which every expert short of its k = n / E tokens bids, in Jacobi rounds, for its top k + 1 tokens
    by value (score minus token price): for each of its top k it offers the token's price plus its margin
    over the (k + 1)-th plus a fixed eps = (max - min) / 50; every token goes to its highest bidder.
    After ``rounds`` rounds the tokens still free go greedily, best score first, to experts with room."""
    n, n_cols = scores.shape
    k = n // n_cols
    s = scores.astype(np.float64)
    eps = (s.max() - s.min()) / 50.0
    if eps == 0.0:
        eps = 1.0
    price = np.zeros(n)
    owner = np.full(n, -1, np.int64)
    st = np.ascontiguousarray(s.T)  # (E, n): experts bid over tokens
    for _ in range(rounds):
        held = np.bincount(owner[owner >= 0], minlength=n_cols)
        bidders = np.flatnonzero(held < k)
        if bidders.size == 0:
            break
        need = k - held[bidders]  # (nb,)
        top_n = int(need.max()) + 1
        v = st[bidders] - price  # (nb, n)
        v[owner[None, :] == bidders[:, None]] = -np.inf  # bid only for tokens it does not hold yet
        part = np.argpartition(-v, top_n - 1, axis=1)[:, :top_n]
        pv = np.take_along_axis(v, part, axis=1)
        srt = np.argsort(-pv, axis=1, kind="stable")
        part = np.take_along_axis(part, srt, axis=1)
        pv = np.take_along_axis(pv, srt, axis=1)
        second = pv[np.arange(bidders.size), need]  # the (need + 1)-th best value of each bidder
        take = np.arange(top_n)[None, :] < need[:, None]
        rows_b = np.broadcast_to(np.arange(bidders.size)[:, None], part.shape)[take]
        tok = part[take]
        val = price[tok] + (pv[take] - second[rows_b]) + eps
        exp = bidders[rows_b]
        # Highest bid per token wins (ties: the lowest expert index).
        order = np.lexsort((exp, -val, tok))
        first = np.ones(order.size, bool)
        first[1:] = tok[order[1:]] != tok[order[:-1]]
        win = order[first]
        price[tok[win]] = val[win]
        owner[tok[win]] = exp[win]
        # An expert that now holds more than k tokens (it kept old ones) releases its cheapest.
        held = np.bincount(owner[owner >= 0], minlength=n_cols)
        for e in np.flatnonzero(held > k):
            mine = np.flatnonzero(owner == e)
            drop = mine[np.argsort(st[e, mine] - price[mine], kind="stable")[: held[e] - k]]
            owner[drop] = -1
    # Greedy completion: free tokens, best score first, to the best expert with room.
    held = np.bincount(owner[owner >= 0], minlength=n_cols)
    free = np.flatnonzero(owner < 0)
    if free.size:
        room = k - held
        order = np.argsort(-s[free], axis=None, kind="stable")
        left = free.size
        for flat in order:
            i, e = divmod(int(flat), n_cols)
            t = free[i]
            if owner[t] < 0 and room[e] > 0:
                owner[t] = e
                room[e] -= 1
                left -= 1
                if left == 0:
                    break
    return owner
