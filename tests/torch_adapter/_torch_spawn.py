"""Run a function in a fresh gloo world of spawned processes, with a deadline so that a bug fails
instead of hanging. The function must live in an importable module (spawn pickles it by name)."""

from __future__ import annotations

import datetime
import socket
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

# A collective that waits longer than this raises in the worker (gloo timeout) instead of hanging.
COLLECTIVE_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _entry(rank: int, world_size: int, port: int, fn: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    torch.set_num_threads(1)  # W processes share a few cores
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world_size,
        timeout=datetime.timedelta(seconds=COLLECTIVE_TIMEOUT_S),
    )
    try:
        fn(rank, world_size, **kwargs)
        dist.barrier()
    finally:
        dist.destroy_process_group()


def run_world(fn: Callable[..., Any], world_size: int, timeout_s: float = 240, **kwargs: Any) -> None:
    """Run ``fn(rank, world_size, **kwargs)`` on every rank of a gloo world on 127.0.0.1.

    Raises the first worker's exception (with its traceback), or TimeoutError after ``timeout_s``; in both
    cases the remaining workers are killed."""
    ctx = mp.start_processes(
        _entry,
        args=(world_size, free_port(), fn, kwargs),
        nprocs=world_size,
        join=False,
        start_method="spawn",
    )
    deadline = time.monotonic() + timeout_s
    try:
        while not ctx.join(timeout=0.2):
            if time.monotonic() > deadline:
                raise TimeoutError(f"gloo world of size {world_size} did not finish within {timeout_s} s")
    finally:
        for p in ctx.processes:
            if p.is_alive():
                p.kill()
                p.join(5)
