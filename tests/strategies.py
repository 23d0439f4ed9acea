"""Hypothesis strategies for cost matrices: shapes, value families, forbidden pairs and batches.

Small matrices (at most ``ELEMENTWISE_MAX`` entries) are drawn entry by entry, so that hypothesis can find
and shrink to special values (ties, zeros, signed zeros, subnormals, one forbidden pair too many). Larger ones
come from a seeded numpy generator, which keeps hypothesis' buffer small; they shrink through the seed and
the shape.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

ELEMENTWISE_MAX = 100

# Every value family. "small_int" and "bool" give heavy ties; "large_int" reaches 2**53 (the largest range in
# which float64, and so scipy, is exact); "magnitude" is one scale per matrix in [1e-12, 1e15];
# "mixed_magnitude" mixes those scales inside a matrix; "huge_ties" is 1e15 plus small integers (near-ties
# of huge magnitude: the classic hang of augmenting row reduction); "constant" must give the identity.
FAMILIES = (
    "float64",
    "float32",
    "small_int",
    "int",
    "large_int",
    "bool",
    "constant",
    "magnitude",
    "mixed_magnitude",
    "huge_ties",
)
INTEGER_FAMILIES = ("small_int", "int", "large_int", "bool")
FLOAT_FAMILIES = tuple(f for f in FAMILIES if f not in INTEGER_FAMILIES)

MIN_EXP, MAX_EXP = -12, 15


class Problem(NamedTuple):
    """A cost matrix (or a batch), the sense to solve it in, and the family it came from (for messages)."""

    cost: np.ndarray
    maximize: bool
    family: str


def forbidden_value(maximize: bool) -> float:
    """The entry that marks a forbidden pair: +inf when minimizing, -inf when maximizing."""
    return -np.inf if maximize else np.inf


@st.composite
def shapes(draw, *, min_side: int = 0, max_side: int = 8, kind: str = "any", batch: tuple[int, int] | None = None):
    """(n, m), or (B, n, m) when ``batch=(min_B, max_B)``.

    kind: "any", "square", "tall" (n > m) or "wide" (n < m).
    """
    if kind == "square":
        n = draw(st.integers(min_side, max_side))
        m = n
    elif kind == "tall":
        m = draw(st.integers(min_side, max_side - 1))
        n = draw(st.integers(m + 1, max_side))
    elif kind == "wide":
        n = draw(st.integers(min_side, max_side - 1))
        m = draw(st.integers(n + 1, max_side))
    elif kind == "any":
        n = draw(st.integers(min_side, max_side))
        m = draw(st.integers(min_side, max_side))
    else:
        raise ValueError(f"unknown shape kind {kind!r}")
    if batch is None:
        return (n, m)
    return (draw(st.integers(*batch)), n, m)


def _elements(family: str, exponent: int):
    """Entry strategy and dtype of a family, for the elementwise path."""
    if family == "float64":
        return st.floats(-1e3, 1e3), np.float64
    if family == "float32":
        return st.floats(-1e3, 1e3, width=32), np.float32
    if family == "small_int":
        return st.integers(-3, 3), np.int64
    if family == "int":
        return st.integers(-1000, 1000), np.int64
    if family == "large_int":
        return st.integers(-(2**53), 2**53), np.int64
    if family == "bool":
        return st.booleans(), np.bool_
    if family == "magnitude":
        return st.floats(-1.0, 1.0).map(lambda x: x * 10.0**exponent), np.float64
    if family == "mixed_magnitude":
        return st.builds(lambda x, e: x * 10.0**e, st.floats(-1.0, 1.0), st.integers(MIN_EXP, MAX_EXP)), np.float64
    if family == "huge_ties":
        return st.integers(-3, 3).map(lambda d: 1e15 + d), np.float64
    raise ValueError(f"no elementwise strategy for family {family!r}")


def _seeded(rng: np.random.Generator, shape: tuple[int, ...], family: str, exponent: int) -> np.ndarray:
    """A matrix of a family from a numpy generator (the path for larger matrices)."""
    if family == "float64":
        return rng.uniform(-1e3, 1e3, shape)
    if family == "float32":
        return rng.uniform(-1e3, 1e3, shape).astype(np.float32)
    if family == "small_int":
        return rng.integers(-3, 3, shape, endpoint=True)
    if family == "int":
        return rng.integers(-1000, 1000, shape, endpoint=True)
    if family == "large_int":
        return rng.integers(-(2**53), 2**53, shape, endpoint=True)
    if family == "bool":
        return rng.random(shape) < 0.5
    if family == "magnitude":
        return rng.uniform(-1.0, 1.0, shape) * 10.0**exponent
    if family == "mixed_magnitude":
        return rng.uniform(-1.0, 1.0, shape) * 10.0 ** rng.integers(MIN_EXP, MAX_EXP, shape, endpoint=True)
    if family == "huge_ties":
        return 1e15 + rng.integers(-3, 3, shape, endpoint=True).astype(np.float64)
    raise ValueError(f"no seeded generator for family {family!r}")


@st.composite
def values(draw, shape: tuple[int, ...], family: str) -> np.ndarray:
    """A fresh array of ``shape`` whose entries follow ``family``."""
    if family == "constant":
        value = draw(st.one_of(st.integers(-5, 5), st.floats(-1e6, 1e6), st.sampled_from([0.0, -0.0, 1e15, 1e-12])))
        return np.full(shape, value, dtype=np.int64 if isinstance(value, int) else np.float64)
    exponent = draw(st.integers(MIN_EXP, MAX_EXP)) if family == "magnitude" else 0
    if int(np.prod(shape)) <= ELEMENTWISE_MAX:
        elements, dtype = _elements(family, exponent)
        return draw(hnp.arrays(dtype, shape, elements=elements))
    seed = draw(st.integers(0, 2**32 - 1))
    return _seeded(np.random.default_rng(seed), shape, family, exponent)


@st.composite
def forbidden_masks(draw, shape: tuple[int, ...]) -> np.ndarray:
    """Where to put forbidden pairs. Dense masks make some problems infeasible, which is the point."""
    if int(np.prod(shape)) <= ELEMENTWISE_MAX:
        tenths = draw(st.sampled_from([1, 3, 6, 9]))  # forbidden share, in tenths
        return draw(hnp.arrays(np.bool_, shape, elements=st.integers(0, 9).map(lambda d: d < tenths)))
    density = draw(st.sampled_from([0.05, 0.3, 0.6, 0.9, 0.97]))
    seed = draw(st.integers(0, 2**32 - 1))
    return np.random.default_rng(seed).random(shape) < density


def with_forbidden(cost: np.ndarray, mask: np.ndarray, maximize: bool) -> np.ndarray:
    """Copy of ``cost`` (as float; float32 stays float32) with the masked pairs forbidden."""
    out = cost.astype(np.float32 if cost.dtype == np.float32 else np.float64)
    out[mask] = forbidden_value(maximize)
    return out


@st.composite
def cost_matrices(
    draw,
    *,
    min_side: int = 0,
    max_side: int = 8,
    kind: str = "any",
    families: tuple[str, ...] = FAMILIES,
    batch: tuple[int, int] | None = None,
    forbidden: bool = False,
    maximize: bool = False,
) -> np.ndarray:
    """A cost matrix (n, m) or batch (B, n, m); with ``forbidden=True`` some pairs are +inf (or -inf)."""
    shape = draw(shapes(min_side=min_side, max_side=max_side, kind=kind, batch=batch))
    family = draw(st.sampled_from(families))
    cost = draw(values(shape, family))
    if forbidden:
        cost = with_forbidden(cost, draw(forbidden_masks(shape)), maximize)
    return cost


@st.composite
def problems(
    draw,
    *,
    min_side: int = 0,
    max_side: int = 8,
    kind: str = "any",
    families: tuple[str, ...] = FAMILIES,
    batch: tuple[int, int] | None = None,
    forbidden: bool | None = False,
    maximize: bool | None = None,
) -> Problem:
    """A Problem; ``maximize=None`` / ``forbidden=None`` let hypothesis choose."""
    if maximize is None:
        maximize = draw(st.booleans())
    if forbidden is None:
        forbidden = draw(st.booleans())
    shape = draw(shapes(min_side=min_side, max_side=max_side, kind=kind, batch=batch))
    family = draw(st.sampled_from(families))
    cost = draw(values(shape, family))
    if forbidden:
        cost = with_forbidden(cost, draw(forbidden_masks(shape)), maximize)
    return Problem(cost, maximize, family + (" + forbidden" if forbidden else ""))


def tiny_problems(**kw):
    """Problems small enough for the brute-force reference (sides <= 7)."""
    kw.setdefault("max_side", 7)
    return problems(**kw)
