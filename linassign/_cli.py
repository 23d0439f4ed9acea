"""The ``linassign`` command line: ``demo``, ``solve`` and ``bench``.

    linassign demo [--quick]               every solver on every backend, certificates checked, beside scipy
    linassign solve FILE.npy [--maximize] [--capacity K] [--method M] [-o OUT.npy]
    linassign bench [--out DIR] [--quick]  LAP vs scipy and lapx, balanced vs POT and the BASE paper: tables, plot

Exit codes: 0 success; 1 a wrong answer or a certificate that does not verify; 2 bad input or usage (one line
on stderr, no traceback).

The demo is driven by two registries, ``DEMO_PROBLEMS`` and ``DEMO_SOLVERS``: a later solver or problem is
one more entry. Entries whose linassign function does not exist yet (``DemoSolver.needs``) are skipped, so
the demo of every version runs what that version has.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

import linassign

from ._errors import BackendUnavailableError, CertificateError

BENCH_HINT = "pip install 'linassign[bench]'"


class _InputError(Exception):
    """Bad input or usage: ``main`` prints the message on one line of stderr and returns 2."""


# ----------------------------------------------------------------------------------------------------------
# Problem families (shared by ``linassign bench``, ``linassign demo`` and benchmarks/conftest.py)
# ----------------------------------------------------------------------------------------------------------

FAMILIES = ("uniform", "integer", "geometric", "skewed")


def make_cost(kind: str, shape: Sequence[int], seed: int = 0) -> np.ndarray:
    """A reproducible cost matrix of shape (n, m), or a batch of shape (B, n, m), from one family.

    Parameters
    ----------
    kind : {"uniform", "integer", "geometric", "skewed"}
        ``uniform``: float64 in [0, 1). ``integer``: int64 in [0, n) (solvers pay their own cast to float,
        as they do on real integer data; many ties). ``geometric``: Euclidean distances between n and m
        uniform points of the unit square (spatially correlated costs). ``skewed``: lognormal(0, 2), heavy
        tailed: a few costs are thousands of times the median.
    shape : (n, m) or (B, n, m)
    seed : int
        Seed of ``numpy.random.default_rng``: the same arguments give the same matrix.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) not in (2, 3):
        raise ValueError(f"shape must be (n, m) or (B, n, m), got {shape}")
    rng = np.random.default_rng(seed)
    *batch, n, m = shape
    if kind == "uniform":
        return rng.random(shape)
    if kind == "integer":
        return rng.integers(0, max(n, 1), size=shape, dtype=np.int64)
    if kind == "geometric":
        a = rng.random((*batch, n, 2))
        b = rng.random((*batch, m, 2))
        # hypot of the coordinate differences: (…, n, m) without an (…, n, m, 2) temporary.
        return np.hypot(a[..., :, None, 0] - b[..., None, :, 0], a[..., :, None, 1] - b[..., None, :, 1])
    if kind == "skewed":
        return rng.lognormal(0.0, 2.0, size=shape)
    raise ValueError(f"unknown cost family {kind!r}; expected one of {FAMILIES}")


def make_routing_scores(n_tokens: int, n_experts: int, d_model: int = 64, seed: int = 0) -> np.ndarray:
    """Token-to-expert affinities ``tokens @ centroids.T / sqrt(d)`` of shape (n_tokens, n_experts), float64,
    the low-rank structure of a BASE layer's routing scores."""
    rng = np.random.default_rng(seed)
    tokens = rng.standard_normal((n_tokens, d_model))
    centroids = rng.standard_normal((n_experts, d_model))
    return tokens @ centroids.T / math.sqrt(d_model)


BALANCED_FAMILIES = ("normal", "base", "skewed", "integer")


def make_scores(kind: str, n: int, n_cols: int, seed: int = 0, dtype: Any = np.float64) -> np.ndarray:
    """A reproducible (n, E) routing score matrix of a balanced-assignment family, C-contiguous:

    - ``normal``: iid standard normal;
    - ``base``: ``X @ C.T / sqrt(64)`` with X and C standard normal (routing scores, as in BASE layers);
    - ``skewed``: ``base`` plus a per-column popularity bias (0 to 3, shuffled): plain argmax overloads the
      most popular columns 3-10 times;
    - ``integer``: iid integers in [0, 100), heavy ties.
    """
    rng = np.random.default_rng(seed)
    if kind == "normal":
        s = rng.standard_normal((n, n_cols))
    elif kind in ("base", "skewed"):
        d = 64
        s = rng.standard_normal((n, d)) @ rng.standard_normal((n_cols, d)).T / math.sqrt(d)
        if kind == "skewed":
            s += np.linspace(0.0, 3.0, n_cols)[rng.permutation(n_cols)]
    elif kind == "integer":
        s = rng.integers(0, 100, (n, n_cols)).astype(np.float64)
    else:
        raise ValueError(f"unknown family {kind!r}; expected one of {BALANCED_FAMILIES}")
    return np.ascontiguousarray(s, dtype=dtype)


def drifting_scores(n: int, n_cols: int, steps: int, drift: float = 0.01, seed: int = 0) -> list[np.ndarray]:
    """``steps`` successive ``base`` problems whose tokens and centroids each move by ``drift`` (relative)
    per step, as centroids do during training (the warm-start benchmark's sequence)."""
    rng = np.random.default_rng(seed)
    d = 64
    x = rng.standard_normal((n, d))
    c = rng.standard_normal((n_cols, d))
    out = []
    for _ in range(steps):
        out.append(np.ascontiguousarray(x @ c.T / math.sqrt(d)))
        x = x + drift * rng.standard_normal(x.shape)
        c = c + drift * rng.standard_normal(c.shape)
    return out


# ----------------------------------------------------------------------------------------------------------
# Small helpers: host copies, timing, formatting
# ----------------------------------------------------------------------------------------------------------


def _host(a: Any) -> np.ndarray:
    """numpy view or copy of a numpy/cupy array or a Python number."""
    if hasattr(a, "get") and not isinstance(a, np.ndarray):
        return a.get()
    return np.asarray(a)


def _measure(
    fn: Callable[[], Any],
    *,
    sync: Callable[[], None] | None = None,
    min_runs: int = 3,
    max_runs: int = 10,
    budget_s: float = 1.0,
    slow_cap_s: float = math.inf,
) -> tuple[float, int, Any]:
    """Run ``fn`` several times; return (median seconds, runs, output of the last run).

    At least ``min_runs`` runs (unless ``slow_cap_s`` of total time is spent first), then more while the total
    stays under ``budget_s``, at most ``max_runs``.
    """
    times: list[float] = []
    out = None
    while True:
        t0 = time.perf_counter()
        out = fn()
        if sync is not None:
            sync()
        times.append(time.perf_counter() - t0)
        total = sum(times)
        if len(times) >= max_runs or total >= slow_cap_s:
            break
        if len(times) >= min_runs and total >= budget_s:
            break
    return statistics.median(times), len(times), out


def _measure_interleaved(
    fns: Sequence[Callable[[], Any]], *, min_runs: int = 3, max_runs: int = 15, budget_s: float = 2.0
) -> list[tuple[float, int, Any]]:
    """Time several peers on one problem in rounds (a, b, c, a, b, c, ...), so that a change of load on a
    shared machine hits them alike. Each runs at least ``min_runs`` times, then more while its own total
    stays under ``budget_s``, at most ``max_runs``. Returns (median seconds, runs, last output) per peer."""
    times: list[list[float]] = [[] for _ in fns]
    outs: list[Any] = [None] * len(fns)

    def wants_more(k: int) -> bool:
        t = times[k]
        return len(t) < min_runs or (len(t) < max_runs and sum(t) < budget_s)

    while any(wants_more(k) for k in range(len(fns))):
        for k, fn in enumerate(fns):
            if wants_more(k):
                t0 = time.perf_counter()
                outs[k] = fn()
                times[k].append(time.perf_counter() - t0)
    return [(statistics.median(t), len(t), out) for t, out in zip(times, outs, strict=True)]


def _fmt_time(t: float | None) -> str:
    if t is None:
        return "-"
    if t < 1e-3:
        return f"{t * 1e6:.0f} us"
    if t < 1.0:
        return f"{t * 1e3:.1f} ms"
    return f"{t:.2f} s"


def _fmt_num(x: float | None) -> str:
    return "-" if x is None else f"{x:.10g}"


def _text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Plain-text table: the first three columns left-aligned (names), the others right-aligned (numbers)."""
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            str(c).ljust(w) if k < 3 else str(c).rjust(w) for k, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def _machine() -> str:
    """CPU model and core count, e.g. ``Intel(R) Xeon(R) Processor, 2 cores``."""
    model = ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    model = model or platform.processor() or platform.machine() or "unknown CPU"
    return f"{model}, {os.cpu_count()} cores ({platform.system()} {platform.machine()})"


def _objectives(cost: np.ndarray, pairs: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Exact (fsum) objective of each problem from its (row_ind, col_ind); shape () or (B,)."""
    if cost.ndim == 2:
        r, k = pairs[0]
        return np.asarray(math.fsum(cost[r, k].astype(np.float64).tolist()))
    return np.array([math.fsum(cost[b][r, k].astype(np.float64).tolist()) for b, (r, k) in enumerate(pairs)])


def _is_close(objective: np.ndarray, reference: np.ndarray) -> bool:
    """Same optimum up to float rounding (exact for integer costs, whose sums are exact in float64)."""
    objective, reference = np.asarray(objective, float), np.asarray(reference, float)
    return objective.shape == reference.shape and bool(
        np.all(np.abs(objective - reference) <= 1e-9 * np.maximum(1.0, np.abs(reference)))
    )


# ----------------------------------------------------------------------------------------------------------
# demo: registries of problems and solvers
# ----------------------------------------------------------------------------------------------------------


class Reference(NamedTuple):
    """How scipy solves a demo problem, to show its objective and time beside linassign's."""

    name: str
    solve: Callable[[np.ndarray, bool], Any]  # (input, maximize) -> raw output (timed)
    objective: Callable[[np.ndarray, Any], np.ndarray]  # (input, raw output) -> objectives, shape () or (B,)
    applies: Callable[[np.ndarray], bool] = lambda x: True  # False: too large for scipy in demo time


class Peer(NamedTuple):
    """Another library's or paper's solver of a demo problem, shown in rows of its own beside linassign's:
    its objective, how far it falls short of the certified optimum, and its time."""

    label: str
    solve: Callable[[np.ndarray, bool], Any]  # (input, maximize) -> raw output (timed)
    objective: Callable[[np.ndarray, Any], np.ndarray]  # (input, raw output) -> objective
    exact: bool
    module: str | None = None  # a module it needs; the row says how to install it when it is missing


class DemoProblem(NamedTuple):
    """A built-in problem. ``kind`` says which solvers apply: ``"lap"`` a (n, m) cost, ``"lap_batch"`` a
    (B, n, m) batch, ``"balanced"`` (n, E) routing scores with capacity n // E per column."""

    label: str  # formatted with the shape, e.g. "uniform {0}x{1}"
    kind: str
    shapes: dict[str, tuple[int, ...]]  # "full", "quick" (tests) and "tiny" (JIT compile before timing)
    make: Callable[[tuple[int, ...]], np.ndarray]
    maximize: bool
    reference: Reference | None
    peers: tuple[Peer, ...] = ()


class DemoSolver(NamedTuple):
    """A linassign solver as the demo calls it. ``run(x, maximize, backend)`` returns a result that
    ``linassign.verify`` checks. ``exact`` solvers must also reach scipy's objective with a zero gap."""

    label: str
    kinds: tuple[str, ...]
    needs: str  # attribute of linassign that must exist (solvers of later versions are skipped)
    run: Callable[[Any, bool, str], Any]
    exact: bool = True


def _scipy_lap_solve(x: np.ndarray, maximize: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    from scipy.optimize import linear_sum_assignment

    if x.ndim == 2:
        return [linear_sum_assignment(x, maximize=maximize)]
    return [linear_sum_assignment(c, maximize=maximize) for c in x]  # a Python loop: scipy has no batch


def _scipy_balanced_solve(x: np.ndarray, maximize: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """Equal capacity as an n-by-n assignment: column e replicated n // E times (slots as columns)."""
    from scipy.optimize import linear_sum_assignment

    n, n_cols = x.shape
    expanded = np.repeat(x, n // n_cols, axis=1)
    r, slot = linear_sum_assignment(expanded, maximize=maximize)
    return [(r, slot // (n // n_cols))]


def _assignment_objective(x: np.ndarray, assignment: Any) -> np.ndarray:
    return np.asarray(math.fsum(x[np.arange(x.shape[0]), np.asarray(assignment)].astype(np.float64).tolist()))


def _pot_balanced(x: np.ndarray, maximize: bool) -> np.ndarray:
    from ._peers import pot_emd

    n, n_cols = x.shape
    return pot_emd(x if maximize else -x, np.full(n_cols, n // n_cols))


def _paper_balanced(x: np.ndarray, maximize: bool) -> np.ndarray:
    from ._peers import paper_baseline

    return paper_baseline(x if maximize else -x)


_BALANCED_PEERS = (
    Peer("POT ot.emd", _pot_balanced, _assignment_objective, exact=True, module="ot"),
    Peer("BASE paper auction", _paper_balanced, _assignment_objective, exact=False),
)

_SCIPY_LAP = Reference("scipy", _scipy_lap_solve, _objectives)
_SCIPY_BALANCED = Reference(
    "scipy (n x n expanded)",
    _scipy_balanced_solve,
    _objectives,
    applies=lambda x: x.shape[0] <= 4096,  # the expanded problem is n x n: 16384^2 would take scipy minutes
)

DEMO_PROBLEMS: list[DemoProblem] = [
    DemoProblem(
        "uniform {0}x{1}",
        "lap",
        {"full": (1000, 1000), "quick": (64, 64), "tiny": (4, 4)},
        lambda shape: make_cost("uniform", shape, seed=1),
        maximize=False,
        reference=_SCIPY_LAP,
    ),
    DemoProblem(
        "batch {0} x ({1}x{2})",
        "lap_batch",
        {"full": (256, 64, 64), "quick": (8, 16, 16), "tiny": (2, 4, 4)},
        lambda shape: make_cost("uniform", shape, seed=2),
        maximize=False,
        reference=_SCIPY_LAP,
    ),
    DemoProblem(
        "BASE routing {0}x{1}",
        "balanced",
        {"full": (16384, 128), "quick": (256, 8), "tiny": (8, 2)},
        lambda shape: make_routing_scores(*shape, seed=3),
        maximize=True,
        reference=_SCIPY_BALANCED,
        peers=_BALANCED_PEERS,
    ),
]


def _balanced(method: str) -> Callable[[Any, bool, str], Any]:
    def run(x: Any, maximize: bool, backend: str) -> Any:
        return linassign.balanced_assignment(x, maximize=maximize, method=method, backend=backend)

    return run


DEMO_SOLVERS: list[DemoSolver] = [
    DemoSolver(
        "hungarian",
        ("lap", "lap_batch"),
        "hungarian",
        lambda x, mx, be: linassign.hungarian(x, maximize=mx, backend=be),
    ),
    DemoSolver(
        "auction",
        ("lap", "lap_batch"),
        "auction",
        lambda x, mx, be: linassign.auction(x, maximize=mx, backend=be),
    ),
    DemoSolver("balanced auction", ("balanced",), "balanced_assignment", _balanced("auction")),
    DemoSolver("balanced hungarian", ("balanced",), "balanced_assignment", _balanced("hungarian")),
    # Sinkhorn rounds an entropic plan: a feasible assignment whose true gap it reports, not an exact one.
    DemoSolver("balanced sinkhorn", ("balanced",), "balanced_assignment", _balanced("sinkhorn"), exact=False),
]


def _to_backend(x: np.ndarray, backend: str) -> Any:
    if backend == "gpu":
        import cupy

        return cupy.asarray(x)
    return x


def _sync(backend: str) -> Callable[[], None] | None:
    if backend != "gpu":
        return None
    import cupy

    return lambda: cupy.cuda.get_current_stream().synchronize()


def _try(fn: Callable[..., Any], *args: Any) -> None:
    """Call ``fn``, ignoring any exception (used to compile kernels before timing)."""
    try:
        fn(*args)
    except Exception:  # noqa: BLE001 - the timed call on the real problem reports it
        pass


def _check(x: Any, result: Any, solver: DemoSolver, reference: np.ndarray | None) -> tuple[float, float, str]:
    """(objective, gap, verdict) of one result; the verdict is "ok" or starts with "FAIL"."""
    try:
        gaps = np.atleast_1d(_host(linassign.verify(x, result)).astype(float))
    except CertificateError as exc:
        return math.nan, math.nan, f"FAIL: certificate: {exc}"
    objs = np.atleast_1d(_host(result.objective).astype(float))
    objective, gap = math.fsum(objs.tolist()), float(gaps.max(initial=0.0))
    if solver.exact:
        if np.any(gaps > 1e-9 * np.maximum(1.0, np.abs(objs))):
            return objective, gap, "FAIL: gap > 0 for an exact solver"
        if reference is not None and not _is_close(objs, np.atleast_1d(reference)):
            return objective, gap, "FAIL: objective differs from scipy's"
    return objective, gap, "ok"


def _peer_row(peer: Peer, x: np.ndarray, maximize: bool, optimum: float | None, best: float | None) -> list[str]:
    """The cells after ``problem`` of a peer's row: solver, backend, objective, shortfall, time, the two
    reference cells (empty), speedup of linassign, and a note (never a failure: a peer's answer is not
    linassign's to certify)."""
    import importlib.util

    name = f"{peer.label} (peer)"
    if peer.module is not None and importlib.util.find_spec(peer.module) is None:
        return [name, "cpu", *["-"] * 6, f"n/a: not installed ({BENCH_HINT})"]
    t, _, out = _measure(lambda: peer.solve(x, maximize), slow_cap_s=5.0)
    objective = float(peer.objective(x, out))
    speedup = f"{t / best:.1f}x" if best else "-"
    if optimum is None:
        return [name, "cpu", _fmt_num(objective), "-", _fmt_time(t), "-", "-", speedup, "no certified optimum"]
    shortfall = (optimum - objective) if maximize else (objective - optimum)
    close = abs(shortfall) <= 1e-9 * max(1.0, abs(optimum))
    if peer.exact:
        note = "exact, as expected" if close else "differs from the certified optimum"
    else:
        note = f"approximate: {shortfall / max(abs(optimum), 1e-300):.1e} below the optimum (relative)"
    return [name, "cpu", _fmt_num(objective), f"{max(shortfall, 0.0):.1e}", _fmt_time(t), "-", "-", speedup, note]


def _cmd_demo(args: argparse.Namespace) -> int:
    from . import _cupy

    size = "quick" if args.quick else "full"
    backends = ["cpu"]
    import numba

    threads = numba.get_num_threads()
    print(f"linassign {linassign.__version__} demo: numba {numba.__version__} on CPU ({threads} threads)")
    if _cupy.is_available():
        backends.append("gpu")
        print("GPU: found (cupy with a CUDA device); solvers run on backends cpu and gpu")
    else:
        print("GPU: not found (needs an NVIDIA GPU and pip install 'linassign[gpu]'); backend cpu only")

    solvers = [s for s in DEMO_SOLVERS if hasattr(linassign, s.needs)]
    missing = [s.label for s in DEMO_SOLVERS if not hasattr(linassign, s.needs)]
    cases = [(p, [s for s in solvers if p.kind in s.kinds]) for p in DEMO_PROBLEMS]
    cases = [(p, ss) for p, ss in cases if ss]

    # 1. Compile: the first call of each numba kernel compiles it (seconds); do it on tiny problems.
    print("Compiling the numba kernels (or loading them from numba's cache) with a first call on tiny")
    print("problems; this is not part of the timings ...", end=" ")
    sys.stdout.flush()
    t0 = time.perf_counter()
    for p, ss in cases:
        tiny = p.make(p.shapes["tiny"])
        for s in ss:
            for b in backends:
                _try(s.run, _to_backend(tiny, b), p.maximize, b)  # errors are reported on the real problem
        if p.reference is not None:
            p.reference.solve(tiny, p.maximize)
    print(f"done in {time.perf_counter() - t0:.1f} s")

    # 2. Solve, verify, compare with scipy.
    headers = ["problem", "solver", "backend", "objective", "gap", "time"]
    headers += ["scipy objective", "scipy time", "speedup", "check"]
    rows: list[list[str]] = []
    all_ok = True
    for p, ss in cases:
        shape = p.shapes[size]
        label = p.label.format(*shape)
        x = p.make(shape)
        ref_obj = ref_time = None
        if p.reference is not None and p.reference.applies(x):
            ref_time, _, ref_out = _measure(lambda p=p, x=x: p.reference.solve(x, p.maximize), slow_cap_s=5.0)
            ref_obj = p.reference.objective(x, ref_out)
        exact_objs: list[float] = []
        exact_times: list[float] = []
        for s in ss:
            for b in backends:
                xd = _to_backend(x, b)
                try:
                    t, _, res = _measure(
                        lambda s=s, xd=xd, p=p, b=b: s.run(xd, p.maximize, b), sync=_sync(b), slow_cap_s=5.0
                    )
                except BackendUnavailableError:
                    rows.append([label, s.label, b, *["-"] * 6, "n/a: no kernel on this backend yet"])
                    continue
                except Exception as exc:  # noqa: BLE001 - a demo reports every failure and goes on
                    all_ok = False
                    rows.append([label, s.label, b, *["-"] * 6, f"FAIL: {type(exc).__name__}: {exc}"])
                    continue
                objective, gap, verdict = _check(xd, res, s, ref_obj)
                all_ok &= verdict == "ok"
                if verdict == "ok" and s.exact:
                    exact_objs.append(objective)
                    exact_times.append(t)
                speedup = f"{ref_time / t:.1f}x" if ref_time is not None and t > 0 else "-"
                ref_total = None if ref_obj is None else math.fsum(np.atleast_1d(ref_obj).tolist())
                rows.append(
                    [label, s.label, b, _fmt_num(objective), f"{gap:.1e}", _fmt_time(t)]
                    + [_fmt_num(ref_total), _fmt_time(ref_time), speedup, verdict]
                )
        optimum = (max if p.maximize else min)(exact_objs) if exact_objs else None
        best = min(exact_times, default=None)
        rows.extend([label, *_peer_row(peer, x, p.maximize, optimum, best)] for peer in p.peers)
    print()
    print(_text_table(headers, rows))
    print()
    print("objective: total over the batch for batched problems; gap: recomputed by linassign.verify from")
    print("the input (dual bound minus objective; 0 up to rounding = certified optimal); time: median of")
    print("repeated runs; speedup: scipy time / linassign time (scipy has no batch: a Python loop).")
    if any(p.peers for p, _ in cases):
        print("Peer rows (another library or paper on the same problem): gap is how far the peer's objective")
        print("falls short of linassign's certified optimum; speedup is the peer's time / the time of the")
        print("fastest exact linassign method.")
    if missing:
        print(f"Not in this version yet: {', '.join(missing)}.")
    print("All certificates verified." if all_ok else "Some answers FAILED their check (see the table).")
    return 0 if all_ok else 1


# ----------------------------------------------------------------------------------------------------------
# solve
# ----------------------------------------------------------------------------------------------------------

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"


def load_matrix(path: str | os.PathLike) -> np.ndarray:
    """Load a numeric array saved with ``numpy.save``, refusing pickles; errors are one-line _InputErrors."""
    path = Path(path)
    if not path.exists():
        raise _InputError(f"no such file: {path}")
    if path.is_dir():
        raise _InputError(f"{path} is a directory; expected a .npy file saved with numpy.save")
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(_NPY_MAGIC))
    except OSError as exc:
        raise _InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not head:
        raise _InputError(f"{path} is empty; save the matrix with numpy.save(path, cost)")
    if head.startswith(_ZIP_MAGIC):
        raise _InputError(f"{path} is an .npz archive; save one matrix with numpy.save(path, cost) instead")
    if head != _NPY_MAGIC:
        raise _InputError(f"{path} is not a .npy file (no NumPy header); save the matrix with numpy.save(path, cost)")
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "pickled" in str(exc):
            raise _InputError(
                f"{path} holds a pickled object array, which linassign does not load (allow_pickle=False); "
                "save a numeric array, e.g. numpy.save(path, np.asarray(cost, dtype=float))"
            ) from None
        raise _InputError(f"cannot read {path}: {exc}") from None
    except (OSError, EOFError) as exc:
        raise _InputError(f"cannot read {path}: the file is truncated or damaged ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise _InputError(f"{path} holds an array of dtype {arr.dtype}; expected real numbers (bool, int or float)")
    if arr.ndim not in (2, 3):
        raise _InputError(
            f"{path} holds a {arr.ndim}-D array of shape {arr.shape}; expected a 2-D matrix (n, m) "
            "or a 3-D batch of matrices (B, n, m)"
        )
    return arr


def _cmd_solve(args: argparse.Namespace) -> int:
    balanced = args.capacity is not None or args.method is not None
    if balanced and not hasattr(linassign, "balanced_assignment"):
        raise _InputError(
            "balanced assignment (--capacity, --method) is not available in linassign "
            f"{linassign.__version__}; drop those options to solve a plain assignment problem"
        )
    if args.output is not None and not Path(args.output).resolve().parent.is_dir():
        raise _InputError(f"cannot write {args.output}: its folder does not exist")
    cost = load_matrix(args.file)
    if not balanced:
        # Load the compiled kernel (numba's cache; a compile on first use) outside the reported time.
        _try(linassign.hungarian, np.zeros((1, 2, 2) if cost.ndim == 3 else (2, 2)))
    t0 = time.perf_counter()
    try:
        if balanced:
            res = linassign.balanced_assignment(
                cost, capacity=args.capacity, maximize=args.maximize, method=args.method or "auction"
            )
        else:
            res = linassign.hungarian(cost, maximize=args.maximize)
    except (ValueError, TypeError) as exc:
        raise _InputError(f"{args.file}: {exc}") from None
    elapsed = time.perf_counter() - t0
    try:
        gap = _host(linassign.verify(cost, res))
    except CertificateError as exc:  # a solver bug, not bad input
        print(f"linassign solve: the answer failed its certificate: {exc}", file=sys.stderr)
        return 1

    if balanced:
        col = _host(res.assignment)
        rows = np.flatnonzero(col >= 0) if col.ndim == 1 else None
        pairs = (
            np.stack([rows, col[rows]], axis=1)
            if col.ndim == 1
            else np.stack([np.broadcast_to(np.arange(col.shape[1]), col.shape), col], axis=-1)
        )
        what = f"balanced assignment ({args.method or 'auction'})"
    else:
        pairs = np.stack([_host(res.row_ind), _host(res.col_ind)], axis=-1)
        what = "hungarian"
    pairs = pairs.astype(np.int64)
    sense = "maximize" if args.maximize else "minimize"
    shape = "x".join(str(s) for s in cost.shape)
    print(f"solved {args.file} ({shape} {cost.dtype}, {sense}) with {what} in {_fmt_time(elapsed)}")
    objective = _host(res.objective)
    if objective.ndim == 0:
        print(f"objective: {float(objective)!r}")
        print(f"gap: {float(gap):.3g} (certificate verified)")
    else:
        print(f"objectives ({objective.size} problems, total {math.fsum(objective.tolist())!r}): {objective}")
        print(f"gap: max {float(np.max(gap, initial=0.0)):.3g} (certificates verified)")
    if args.output is not None:
        try:
            np.save(args.output, pairs)
        except OSError as exc:
            raise _InputError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        print(f"saved the (row, col) pairs as an int64 array of shape {pairs.shape} to {args.output}")
    else:
        print(f"assigned pairs: {' x '.join(map(str, pairs.shape[:-1]))} (use -o OUT.npy to save them)")
    return 0


# ----------------------------------------------------------------------------------------------------------
# bench
# ----------------------------------------------------------------------------------------------------------


class BenchSolver(NamedTuple):
    name: str
    solve: Callable[[np.ndarray], Any]  # timed
    pairs: Callable[[np.ndarray, Any], list[tuple[np.ndarray, np.ndarray]]]  # (row_ind, col_ind) per problem


def _lapx_pairs(x: np.ndarray, out: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """lap.lapjv returns (cost, x, y) per problem; x[i] is the column of row i."""
    outs = out if isinstance(out, list) else [out]
    return [(np.arange(o[1].size), o[1].astype(np.int64)) for o in outs]


def _bench_imports() -> tuple[Any, Any, Any]:
    missing = []
    try:
        from tqdm.auto import tqdm
    except ImportError:
        missing.append("tqdm")
    try:
        from matplotlib.figure import Figure
    except ImportError:
        missing.append("matplotlib")
    try:
        import lap
    except ImportError:
        missing.append("lapx")
    try:
        import ot  # noqa: F401 - POT: the exact peer of the balanced benchmarks
    except ImportError:
        missing.append("POT")
    if missing:
        raise _InputError(f"linassign bench needs {', '.join(missing)}: {BENCH_HINT}")
    return tqdm, Figure, lap


def _bench_solvers(lap: Any, batched: bool) -> list[BenchSolver]:
    from scipy.optimize import linear_sum_assignment

    def la_pairs(x: np.ndarray, res: Any) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(res.row_ind, res.col_ind)] if x.ndim == 2 else list(zip(res.row_ind, res.col_ind, strict=True))

    if not batched:
        return [
            BenchSolver("scipy", linear_sum_assignment, lambda x, out: [out]),
            BenchSolver("linassign", linassign.hungarian, la_pairs),
            BenchSolver("lapx", lambda x: lap.lapjv(x, extend_cost=True), _lapx_pairs),
        ]
    return [
        BenchSolver("scipy (loop)", lambda x: [linear_sum_assignment(c) for c in x], lambda x, out: out),
        BenchSolver("linassign", linassign.hungarian, la_pairs),
        BenchSolver("lapx (loop)", lambda x: [lap.lapjv(c, extend_cost=True) for c in x], _lapx_pairs),
        BenchSolver(
            "lapx batch (threads)",
            lambda x: lap.lapjvx_batch(x, extend_cost=True, n_threads=0, return_cost=False),
            lambda x, out: [(np.asarray(r), np.asarray(c)) for r, c in zip(*out, strict=True)],
        ),
    ]


def _valid_matching(x: np.ndarray, pairs: list[tuple[np.ndarray, np.ndarray]]) -> bool:
    k = min(x.shape[-2:])
    for r, c in pairs:
        r, c = np.asarray(r), np.asarray(c)
        if r.shape != (k,) or c.shape != (k,) or np.unique(r).size != k or np.unique(c).size != k:
            return False
        if r.min(initial=0) < 0 or c.min(initial=0) < 0:
            return False
    return True


def _parse_ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(t) for t in text.replace("x", ",").split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _balanced_bench_solvers() -> list[tuple[str, Callable[[np.ndarray], Any], str]]:
    """(name, timed call returning an (n,) assignment, kind): kind "exact" must reach the certified optimum,
    "approximate" must be balanced and no better, "unbalanced" is the speed floor (argmax)."""
    from ._peers import paper_baseline, pot_emd

    def method(m: str) -> Callable[[np.ndarray], Any]:
        return lambda x: linassign.balanced_assignment(x, method=m).assignment

    return [
        ("linassign auction", method("auction"), "exact"),
        ("linassign hungarian", method("hungarian"), "exact"),
        ("linassign sinkhorn", method("sinkhorn"), "exact"),
        ("POT ot.emd", lambda x: pot_emd(x, np.full(x.shape[1], x.shape[0] // x.shape[1])), "exact"),
        ("BASE paper auction", paper_baseline, "approximate"),
        ("argmax (unbalanced)", lambda x: x.argmax(axis=1), "unbalanced"),
    ]


def _bench_balanced(sizes: Sequence[tuple[int, int]], tqdm: Any) -> tuple[list[str], list[list[str]], bool]:
    """The balanced families at ``sizes`` (n, E), capacity n / E: headers, rows and whether every answer
    checked out. The optimum of each matrix comes from an untimed linassign call whose certificate
    ``linassign.verify`` recomputes from the input."""
    solvers = _balanced_bench_solvers()
    for _, solve, _ in solvers:
        solve(make_scores("base", 16, 4))  # compile numba outside the timings
    problems = [(kind, shape) for kind in BALANCED_FAMILIES for shape in sizes]
    rows: list[list[str]] = []
    all_ok = True
    with tqdm(problems, desc="bench balanced", unit="problem", file=sys.stderr, dynamic_ncols=True) as bar:
        for kind, (n, n_cols) in bar:
            bar.set_postfix_str(f"{kind} {n}x{n_cols}")
            x = make_scores(kind, n, n_cols)
            ref = linassign.balanced_assignment(x, method="hungarian")
            tol = 1e-9 * max(1.0, abs(ref.objective), float(np.abs(x).max()))
            certified = float(linassign.verify(x, ref)) <= tol
            optimum = float(ref.objective)
            timings = _measure_interleaved([lambda s=s, x=x: s[1](x) for s in solvers], budget_s=3.0)
            pot_time = next(t for (name, _, _), (t, _, _) in zip(solvers, timings, strict=True) if name == "POT ot.emd")
            for (name, _, kind_of), (median, runs, out) in zip(solvers, timings, strict=True):
                a = np.asarray(out)
                value = math.fsum(x[np.arange(n), a].tolist())
                balanced = np.array_equal(np.bincount(a, minlength=n_cols), np.full(n_cols, n // n_cols))
                if kind_of == "exact":
                    ok = certified and balanced and abs(value - optimum) <= tol
                    verdict = "optimal" if ok else "WRONG: not the certified optimum"
                elif kind_of == "approximate":
                    ok = balanced and value <= optimum + tol
                    short = (optimum - value) / max(abs(optimum), 1e-300)
                    verdict = f"{short:.1e} below the optimum" if ok else "WRONG: unbalanced or above the optimum"
                else:
                    ok = np.array_equal(a, x.argmax(axis=1))
                    verdict = "speed floor" if ok else "WRONG"
                all_ok &= ok
                ratio = median / pot_time
                rows.append(
                    [
                        kind,
                        f"{n}x{n_cols}",
                        name,
                        f"{median:.4g}",
                        str(runs),
                        f"{ratio:.4f}",
                        f"{1 / ratio:.1f}x" if ratio > 0 else "-",
                        verdict,
                    ]
                )
            del x
    headers = ["family", "n x E", "solver", "median [s]", "runs", "ratio to POT", "speedup vs POT", "answer"]
    return headers, rows, all_ok


def _cmd_bench(args: argparse.Namespace) -> int:
    tqdm, Figure, lap = _bench_imports()
    sizes = args.sizes or ((256, 1000) if args.quick else (256, 1000, 4000))
    batch = args.batch or (256, 64, 64)
    if len(batch) != 3:
        raise _InputError(f"--batch must be B,n,m, got {batch}")
    flat = args.balanced_sizes or ((2048, 128) if args.quick else (2048, 128, 16384, 128))
    if len(flat) % 2 or any(flat[i] % flat[i + 1] for i in range(0, len(flat), 2)):
        raise _InputError(f"--balanced-sizes must be pairs n,E with E dividing n, got {flat}")
    balanced_sizes = [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]
    out_dir = Path(args.out)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _InputError(f"cannot create {out_dir}: {exc.strerror or exc}") from None

    square = _bench_solvers(lap, batched=False)
    batched = _bench_solvers(lap, batched=True)
    # Compile numba (and load every library) on tiny problems first, so no timing includes it.
    for kind in FAMILIES:
        for s in square:
            s.solve(make_cost(kind, (4, 4)))
    for s in batched:
        s.solve(make_cost("uniform", (2, 4, 4)))

    problems = [(kind, (n, n), square) for kind in FAMILIES for n in sizes]
    problems.append(("uniform", batch, batched))
    results: list[dict[str, Any]] = []
    with tqdm(problems, desc="bench", unit="problem", file=sys.stderr, dynamic_ncols=True) as bar:
        for kind, shape, solvers in bar:
            bar.set_postfix_str(f"{kind} {'x'.join(map(str, shape))}")
            # One problem in memory at a time (4000 x 4000 float64 is 128 MB); its optimum from an untimed
            # scipy call, so that scipy's timed answer is checked like the others.
            x = make_cost(kind, shape, seed=0)
            reference = _objectives(x, _scipy_lap_solve(x, False))
            timings = _measure_interleaved([lambda s=s, x=x: s.solve(x) for s in solvers])
            for s, (median, runs, out) in zip(solvers, timings, strict=True):
                pairs = s.pairs(x, out)
                ok = _valid_matching(x, pairs) and _is_close(_objectives(x, pairs), reference)
                results.append(
                    {
                        "family": kind,
                        "shape": shape,
                        "solver": s.name,
                        "median": median,
                        "runs": runs,
                        "ok": ok,
                    }
                )
            del x

    # Ratios against scipy of the same (family, shape).
    base = {(r["family"], r["shape"]): r["median"] for r in results if r["solver"].startswith("scipy")}
    rows = []
    for r in results:
        ratio = r["median"] / base[(r["family"], r["shape"])]
        shape = r["shape"]
        size = str(shape[0]) if len(shape) == 2 else f"{shape[0]} x ({shape[1]}x{shape[2]})"
        family = r["family"] if len(shape) == 2 else f"{r['family']} batch"
        speedup = f"{1 / ratio:.2f}x" if ratio > 0 else "-"
        verdict = "ok" if r["ok"] else "WRONG objective"
        rows.append(
            [
                family,
                size,
                r["solver"],
                f"{r['median']:.4g}",
                str(r["runs"]),
                f"{ratio:.3f}",
                speedup,
                verdict,
            ]
        )
    headers = ["family", "n", "solver", "median [s]", "runs", "ratio to scipy", "speedup", "answer"]
    b_headers, b_rows, b_ok = _bench_balanced(balanced_sizes, tqdm)

    import numba
    import scipy

    command = "linassign " + " ".join(shlex.quote(a) for a in args.argv)
    md = [
        "# linassign benchmarks",
        "",
        f"- date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
        f"- machine: {_machine()}",
        f"- versions: linassign {linassign.__version__}, numpy {np.__version__}, numba {numba.__version__}, "
        f"scipy {scipy.__version__}, lapx {getattr(lap, '__version__', '?')}, "
        f"Python {platform.python_version()}",
        f"- command: `{command}`",
        "- median of repeated runs (at least 3; the peers of a problem run in turn, round after round) after",
        "  a first call on a tiny problem (numba compiles then);",
        "  every answer is checked against scipy's objective. ratio to scipy = median / scipy's median",
        "  (below 1: faster than scipy); speedup = its inverse. In the batch rows, scipy and lapx loop in",
        "  Python, except `lapx batch (threads)` (lap.lapjvx_batch, lapx's own threaded batch).",
        "",
        _md_table(headers, rows),
        "",
        "## Balanced assignment (capacity n / E)",
        "",
        "Score families of `linassign._cli.make_scores`; every solver's assignment is checked against the optimum",
        "that an untimed `balanced_assignment(method='hungarian')` call reaches and `linassign.verify` certifies.",
        "POT `ot.emd` is exact; the BASE paper's auction (re-implemented in numpy, `linassign._peers`) is",
        "approximate; argmax ignores the capacities (the speed floor). ratio to POT = median / POT's median.",
        "",
        _md_table(b_headers, b_rows),
        "",
    ]
    md_path = out_dir / "benchmarks.md"
    md_path.write_text("\n".join(md))

    # Log-log plot of time vs n, one panel per family, one line per solver (square problems only).
    from matplotlib.ticker import NullFormatter

    fig = Figure(figsize=(4 * len(FAMILIES), 3.6), layout="constrained")
    axes = fig.subplots(1, len(FAMILIES), sharey=True, squeeze=False)[0]
    for ax, kind in zip(axes, FAMILIES, strict=True):
        for s in square:
            pts = sorted(
                (r["shape"][0], r["median"])
                for r in results
                if r["family"] == kind and r["solver"] == s.name and len(r["shape"]) == 2
            )
            if pts:
                ax.loglog([n for n, _ in pts], [t for _, t in pts], marker="o", label=s.name)
        ax.set_xticks(list(sizes), labels=[str(n) for n in sizes])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(f"{kind} n x n")
        ax.set_xlabel("n")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("median time [s]")
    axes[0].legend()
    png_path = out_dir / "lap_time_vs_n.png"
    fig.savefig(png_path, dpi=110)

    print(_text_table(headers, rows))
    print()
    print(_text_table(b_headers, b_rows))
    print(f"\nwrote {md_path} and {png_path}")
    if not all(r["ok"] for r in results) or not b_ok:
        print("Some answers are not optimal (see the tables).", file=sys.stderr)
        return 1
    return 0


# ----------------------------------------------------------------------------------------------------------
# Entry point
# ----------------------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="linassign",
        description="Fast, exact, certified linear-assignment solvers.",
    )
    parser.add_argument("--version", action="version", version=f"linassign {linassign.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{demo,solve,bench}")

    demo = sub.add_parser("demo", help="solve built-in problems with every solver and backend, beside scipy")
    demo.add_argument("--quick", action="store_true", help="small problems (seconds): a smoke test")
    demo.set_defaults(func=_cmd_demo)

    solve = sub.add_parser("solve", help="solve a cost matrix saved with numpy.save")
    solve.add_argument("file", metavar="FILE.npy", help="a 2-D cost matrix (n, m) or a batch (B, n, m)")
    solve.add_argument("--maximize", action="store_true", help="maximize the total instead of minimizing it")
    solve.add_argument("-o", "--output", metavar="OUT.npy", help="save the (row, col) pairs as an int64 (k, 2) array")
    solve.add_argument("--capacity", type=int, metavar="K", help="balanced assignment: at most K rows per column")
    solve.add_argument(
        "--method",
        choices=("auction", "hungarian", "sinkhorn"),
        help="balanced assignment method (default auction)",
    )
    solve.set_defaults(func=_cmd_solve)

    bench = sub.add_parser(
        "bench", help="benchmark against scipy and lapx (LAP), POT and the BASE paper (balanced); tables and a plot"
    )
    bench.add_argument("--out", default="bench-results", metavar="DIR", help="output folder (default ./bench-results)")
    bench.add_argument("--quick", action="store_true", help="n = 256 and 1000 only; balanced 2048 x 128 only")
    # Hidden: small configurations for the tests.
    bench.add_argument("--sizes", type=_parse_ints, help=argparse.SUPPRESS)
    bench.add_argument("--batch", type=_parse_ints, help=argparse.SUPPRESS)
    bench.add_argument("--balanced-sizes", type=_parse_ints, help=argparse.SUPPRESS)
    bench.set_defaults(func=_cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``linassign`` command line with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    args.argv = argv
    try:
        return int(args.func(args))
    except _InputError as exc:
        print(f"linassign {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"linassign {args.command}: interrupted", file=sys.stderr)
        return 130
