"""Score families and peers of the balanced-assignment benchmarks.

Families (rows are tokens, columns experts, as in BASE layers):

- ``normal``: iid standard normal scores;
- ``base``: ``X @ C.T / sqrt(d)`` with d = 64, X and C standard normal: routing scores;
- ``skewed``: ``base`` plus a per-expert popularity bias (0 to 3, shuffled), so that plain argmax
  overloads the most popular experts 3-10 times;
- ``integer``: iid integers in [0, 100), heavy ties.

Peers:

- ``pot_emd`` and ``paper_baseline``: POT's exact network simplex and the BASE paper's approximate auction,
  from ``linassign._peers`` (shared with ``linassign demo``);
- ``argmax``: every token to its best expert, ignoring capacities: the speed floor.
"""

from __future__ import annotations

import math

import numpy as np

from linassign._cli import BALANCED_FAMILIES as FAMILIES
from linassign._cli import drifting_scores, make_scores
from linassign._peers import paper_baseline, pot_emd

__all__ = [
    "FAMILIES",
    "argmax_assignment",
    "drifting_scores",
    "make_scores",
    "objective",
    "paper_baseline",
    "pot_emd",
]


def argmax_assignment(scores: np.ndarray) -> np.ndarray:
    """Every row to its best column: no capacities (the speed floor)."""
    return scores.argmax(axis=1)


def objective(scores: np.ndarray, assignment: np.ndarray) -> float:
    rows = np.flatnonzero(assignment >= 0)
    return math.fsum(scores[rows, assignment[rows]].astype(np.float64).tolist())
