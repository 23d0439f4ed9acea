# T tokens, E experts, C = T // E capacity, D model dim
"""BaseLayer forward+backward against a dense feed-forward layer of the same per-token compute.

Every token of a BASE layer passes through exactly one expert sublayer (D -> D_FF -> D), so the dense
baseline is one such residual sublayer applied to all tokens; the difference is the price of routing
(affinities, the balanced assignment, sorting, the gate) and, distributed, of the all-to-alls.

Single process (CPU)::

    python -m pytest benchmarks/test_bench_base_layer.py --benchmark-only

World size 2 (gloo, 127.0.0.1): ``test_bench_base_layer_world_size_2`` spawns two processes, each
timing its own steps (the step time is the slower rank's); the numbers are in the benchmark's
``extra_info`` and printed. The same measurement as a script::

    python benchmarks/test_bench_base_layer.py [--tokens 2048 16384] [--iters 3]

Torch runs one intra-op thread per process unless LINASSIGN_BENCH_THREADS says otherwise (see
``_threads``). Both also report the share of the step spent in the balanced assignment (time inside
``balanced_routing``, measured by wrapping it), and at world size 2 the two ways of solving the global
scope ("all": every rank solves the gathered problem; "root": rank 0 solves and broadcasts).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import torch

from torch_adapter import BaseLayer
from torch_adapter import base_layer as _base_layer
from torch_adapter.base_layer import ResidualFFN

D, D_FF, E = 128, 512, 8
TOKENS = (2048, 16384)


# ----------------------------------------------------------------------------------------------------------
# Shared pieces
# ----------------------------------------------------------------------------------------------------------


def make_layers(seed: int = 0, **kwargs: Any) -> tuple[BaseLayer, ResidualFFN]:
    torch.manual_seed(seed)
    layer = BaseLayer(D, E, d_ff=D_FF, **kwargs)
    dense = ResidualFFN(D, D_FF)
    with torch.no_grad():  # non-zero second projections, as after some training
        for module in (*layer.experts.values(), dense):
            for p in module.parameters():
                p.normal_(0, 0.05)
    return layer, dense


def step(module: torch.nn.Module, x: torch.Tensor) -> None:
    """One forward + backward, as in training."""
    module.zero_grad(set_to_none=True)
    module(x.requires_grad_(True)).square().mean().backward()


class AssignmentTimer:
    """Accumulates the wall time spent inside ``balanced_routing`` while installed."""

    def __init__(self) -> None:
        self.seconds = 0.0

    @contextmanager
    def installed(self) -> Iterator[AssignmentTimer]:
        real = _base_layer.balanced_routing

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t0

        _base_layer.balanced_routing = timed
        try:
            yield self
        finally:
            _base_layer.balanced_routing = real


def timed_steps(
    fn: Callable[[], None], iters: int, sync: Callable[[], None] = lambda: None, timer: AssignmentTimer | None = None
) -> float:
    """Mean seconds per call of ``fn`` after one warm-up call (which includes any JIT compile); a
    ``timer`` is reset after the warm-up, so that it covers the timed calls only."""
    fn()
    sync()
    if timer is not None:
        timer.seconds = 0.0
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    sync()
    return (time.perf_counter() - t0) / iters


def check_balanced(layer: BaseLayer, tokens: int) -> None:
    counts = layer.routing_stats().tokens_per_expert
    assert int(counts.sum()) == tokens and int(counts.max() - counts.min()) <= 1, counts


# ----------------------------------------------------------------------------------------------------------
# Single process
# ----------------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True, scope="module")
def _threads():
    """One intra-op thread by default (LINASSIGN_BENCH_THREADS to change): on a shared machine, OpenMP
    regions of many small per-expert ops stall on descheduled threads and make the ratios meaningless."""
    before = torch.get_num_threads()
    torch.set_num_threads(int(os.environ.get("LINASSIGN_BENCH_THREADS", "1")))
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("tokens", TOKENS)
def test_bench_base_layer(benchmark, tokens):
    layer, _ = make_layers()
    x = torch.randn(tokens, D)
    timer = AssignmentTimer()
    with timer.installed():
        per_step = timed_steps(lambda: step(layer, x), iters=3, timer=timer)
        share = timer.seconds / 3
    check_balanced(layer, tokens)
    benchmark.group = f"base-layer-{tokens}-tokens"
    benchmark.extra_info.update(assignment_seconds_per_step=share, assignment_share=share / per_step)
    benchmark.pedantic(step, args=(layer, x), rounds=5, warmup_rounds=1)


@pytest.mark.parametrize("tokens", TOKENS)
def test_bench_dense_ffn(benchmark, tokens):
    _, dense = make_layers()
    x = torch.randn(tokens, D)
    benchmark.group = f"base-layer-{tokens}-tokens"
    benchmark.pedantic(step, args=(dense, x), rounds=5, warmup_rounds=1)


@pytest.mark.parametrize("tokens", TOKENS)
def test_bench_balanced_routing_alone(benchmark, tokens):
    """The assignment on the layer's own affinities (the part of the step that is linassign's)."""
    layer, _ = make_layers()
    scores = torch.randn(tokens, D) @ layer.expert_centroids.detach().t()
    routing = _base_layer.balanced_routing(scores)  # compile outside the timer
    benchmark.group = f"base-layer-{tokens}-tokens"
    routing = benchmark.pedantic(_base_layer.balanced_routing, args=(scores,), rounds=5, warmup_rounds=1)
    assert routing.counts.tolist() == [tokens // E] * E


# ----------------------------------------------------------------------------------------------------------
# World size 2 over gloo (spawned processes)
# ----------------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _world_worker(rank: int, world_size: int, port: int, tokens: list[int], iters: int, out: str) -> None:
    import torch.distributed as dist  # noqa: PLC0415

    torch.set_num_threads(int(os.environ.get("LINASSIGN_BENCH_THREADS", "1")))
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world_size,
        timeout=datetime.timedelta(seconds=300),
    )
    try:

        def slowest(seconds: float) -> float:
            t = torch.tensor([seconds], dtype=torch.float64)
            dist.all_reduce(t, op=dist.ReduceOp.MAX)
            return float(t)

        results = []
        for n in tokens:
            x = torch.randn(n, D, generator=torch.Generator().manual_seed(rank))
            row: dict[str, Any] = {"tokens_per_rank": n, "world_size": world_size}
            _, dense = make_layers()
            row["dense_s"] = slowest(timed_steps(lambda: step(dense, x), iters, dist.barrier))  # noqa: B023
            for name, kwargs, mode in (
                ("worker", {"scope": "worker"}, None),
                ("global_all", {"scope": "global"}, "all"),
                ("global_root", {"scope": "global"}, "root"),
            ):
                layer, _ = make_layers(**kwargs)
                if mode is not None:
                    layer._global_solve = mode
                timer = AssignmentTimer()
                with timer.installed():
                    per_step = timed_steps(lambda: step(layer, x), iters, dist.barrier, timer)  # noqa: B023
                row[f"{name}_s"] = slowest(per_step)
                row[f"{name}_assign_s"] = slowest(timer.seconds / iters)
                counts = layer.routing_stats().tokens_per_expert.clone()
                dist.all_reduce(counts)
                assert int(counts.max() - counts.min()) <= 1 and int(counts.sum()) == world_size * n
            # The global scope's routing alone (gather + solve [+ broadcast]), both modes interleaved,
            # on fresh layers (cold prices each time): the measurement behind the default "all".
            scores = x @ make_layers()[0].expert_centroids.detach().t()
            sizes = [n] * world_size
            reps = {"all": [], "root": []}
            for _ in range(2 * iters + 1):
                for mode in reps:
                    layer, _ = make_layers(scope="global")
                    layer._global_solve = mode
                    dist.barrier()
                    t0 = time.perf_counter()
                    layer._balanced_global(scores, sizes)
                    reps[mode].append(slowest(time.perf_counter() - t0))
            for mode, times in reps.items():
                row[f"global_routing_{mode}_s"] = sorted(times[1:])[len(times[1:]) // 2]  # median, no warm-up
            results.append(row)
        if rank == 0:
            Path(out).write_text(json.dumps(results, indent=1))
    finally:
        dist.destroy_process_group()


def measure_world(world_size: int = 2, tokens: tuple[int, ...] = TOKENS, iters: int = 3) -> list[dict]:
    """Spawn a gloo world and return one row of timings per token count (seconds per step)."""
    import torch.multiprocessing as mp  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "world.json")
        mp.start_processes(
            _world_worker,
            args=(world_size, _free_port(), list(tokens), iters, out),
            nprocs=world_size,
            join=True,
            start_method="spawn",
        )
        return json.loads(Path(out).read_text())


def format_rows(rows: list[dict]) -> str:
    """One line per token count: seconds per step, BaseLayer / dense, and the assignment's share."""

    def cell(r: dict, name: str) -> str:
        t, a = r[f"{name}_s"], r[f"{name}_assign_s"]
        return f"{t:8.4f} (x{t / r['dense_s']:.2f}, {a / t:.0%})"

    head = (
        "tokens/rank   dense s   worker s (x dense, assign)  global-all s          global-root s"
        "         global routing only: all s  root s"
    )
    body = [
        f"{r['tokens_per_rank']:>11}  {r['dense_s']:8.4f}  {cell(r, 'worker')}  {cell(r, 'global_all')}  "
        f"{cell(r, 'global_root')}  {r['global_routing_all_s']:8.4f}  {r['global_routing_root_s']:8.4f}"
        for r in rows
    ]
    return "\n".join([head, *body])


def test_bench_base_layer_world_size_2(benchmark):
    """One spawned world, timed once as a whole; the per-step numbers are in extra_info."""
    rows = benchmark.pedantic(measure_world, kwargs={"world_size": 2}, rounds=1, iterations=1)
    benchmark.group = "base-layer-world-size-2"
    benchmark.extra_info["steps"] = rows
    print("\n" + format_rows(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--world-size", type=int, default=2)
    parser.add_argument("--tokens", type=int, nargs="+", default=list(TOKENS))
    parser.add_argument("--iters", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    print(format_rows(measure_world(args.world_size, tuple(args.tokens), args.iters)))
