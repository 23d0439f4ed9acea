#!/usr/bin/env python
# B batch (windows), S context, D model dim, E experts, K sublayers per expert, T = B * S tokens, W world size
"""A tiny byte-level language model with a BASE layer, against dense and Switch-style routing, on the CPU.

The corpus is the source code of the Python standard library of the running interpreter (found with
``sysconfig``), split deterministically by file into train and validation: nothing is downloaded.

Four models, matched in compute per token. All share the same transformer trunk of ``--layers`` blocks;
after block ``layers // 2`` (the middle of the stack) sits one more feed-forward stack of ``--sublayers``
residual sublayers (pre-norm, ``D -> d_ff -> D``):

``dense``     the stack is applied to every token (one "expert");
``base``      ``torch_adapter.BaseLayer``: E copies of the stack (experts), each token sent to one of
              them by the balanced assignment (Lewis et al. 2021), no auxiliary loss;
``switch``    E copies of the stack, each token sent to its top-1 expert of a softmax router, capacity
              factor 1.0, tokens over capacity passed through unchanged, load-balancing loss 0.01
              (Fedus et al. 2021; the BASE paper's baseline settings);
``sinkhorn``  ``BaseLayer(method="sinkhorn")``: balanced routing from the entropic (Sinkhorn) solution,
              as in S-BASE (Clark et al. 2022).

Every token passes through exactly one copy of the stack in every model, so the compute per token is the
same up to the router (an E x D product) and the gate.

Run one model, or all of them over several seeds, then draw the plots and the table::

    python examples/tiny_lm.py --model all --seeds 0 1 --out bench-results/tiny_lm.json
    python examples/tiny_lm.py --report bench-results/tiny_lm.json --plot-dir docs

Expert parallel over two processes (gloo; BASE's experts are spread over the ranks, the rest is data
parallel; ``--batch-size`` is the global batch, split over the ranks)::

    torchrun --standalone --nproc_per_node 2 examples/tiny_lm.py --model base --steps 50
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import sys
import sysconfig
import time
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

# Run from a checkout: import the checkout's linassign and torch_adapter.
_ROOT = Path(__file__).resolve().parents[1]
if (_ROOT / "torch_adapter").is_dir() and str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

MODELS = ("dense", "base", "switch", "sinkhorn")
ROUTED = ("base", "switch", "sinkhorn")
LABELS = {
    "dense": "dense",
    "base": "BASE (auction)",
    "switch": "Switch top-1",
    "sinkhorn": "Sinkhorn-BASE",
}
LN2 = math.log(2.0)


@dataclasses.dataclass
class Config:
    """Everything a run depends on; the defaults are the documented configuration."""

    # model
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int = 512
    num_experts: int = 8
    num_sublayers: int = 2
    context: int = 128
    # training
    batch_size: int = 16  # windows per step, over all ranks
    steps: int = 1200
    lr: float = 2e-3
    warmup: int = 100
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    # routing baselines
    capacity_factor: float = 1.0
    balance_loss: float = 0.01
    # evaluation
    eval_every: int = 100
    eval_windows: int = 32  # validation windows for the curve during training
    final_eval_windows: int = 256  # validation windows for the reported number
    # data
    val_every: int = 10  # one file in val_every goes to validation (by a hash of its path)
    max_bytes: int | None = None  # cap on each split's bytes (tests and quick runs)
    threads: int | None = None  # torch threads per process; default: the CPUs / processes


PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    # Seconds, not minutes: for the CI smoke test and for trying the script out.
    "tiny": {
        "d_model": 32,
        "n_layers": 2,
        "n_heads": 2,
        "d_ff": 64,
        "num_experts": 4,
        "num_sublayers": 1,
        "context": 32,
        "batch_size": 8,
        "steps": 12,
        "lr": 3e-3,
        "warmup": 2,
        "eval_every": 6,
        "eval_windows": 8,
        "final_eval_windows": 16,
        "max_bytes": 200_000,
    },
}


# ----------------------------------------------------------------------------------------------------------
# Data: the standard library's source, split by file
# ----------------------------------------------------------------------------------------------------------


def stdlib_files() -> list[tuple[str, Path]]:
    """``(relative path, path)`` of every ``.py`` file of the standard library, in sorted order.

    Third-party packages (``site-packages``, ``dist-packages``) are left out: they differ between
    installations of the same Python version.
    """
    root = Path(sysconfig.get_paths()["stdlib"])
    files = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root)
        if {"site-packages", "dist-packages"} & set(rel.parts) or not path.is_file():
            continue
        files.append((rel.as_posix(), path))
    if not files:
        raise RuntimeError(f"found no .py files under the standard library path {root}")
    return sorted(files)


def load_corpus(val_every: int = 10, max_bytes: int | None = None) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Train and validation byte streams, uint8 tensors of shape (N,).

    A file goes to validation when the CRC-32 of its relative path is divisible by ``val_every``: the split
    is deterministic, independent of the file order, and stable when files are added or removed. Files are
    joined with a NUL byte (which Python sources do not contain) as a document separator. ``max_bytes``
    caps each split (files in sorted order, the last one truncated).
    """
    parts: dict[str, list[bytes]] = {"train": [], "val": []}
    sizes = {"train": 0, "val": 0}
    counts = {"train": 0, "val": 0}
    for rel, path in stdlib_files():
        split = "val" if zlib.crc32(rel.encode()) % val_every == 0 else "train"
        if max_bytes is not None and sizes[split] >= max_bytes:
            continue
        data = path.read_bytes() + b"\0"
        if max_bytes is not None:
            data = data[: max_bytes - sizes[split]]
        parts[split].append(data)
        sizes[split] += len(data)
        counts[split] += 1
    streams = {k: torch.frombuffer(bytearray(b"".join(v)), dtype=torch.uint8) for k, v in parts.items()}
    info = {
        "stdlib": sysconfig.get_paths()["stdlib"],
        "python": sys.version.split()[0],
        "train_files": counts["train"],
        "val_files": counts["val"],
        "train_bytes": sizes["train"],
        "val_bytes": sizes["val"],
    }
    return streams["train"], streams["val"], info


def windows(stream: torch.Tensor, starts: torch.Tensor, context: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and next-byte targets, int64 (B, S), from windows of S + 1 bytes at ``starts`` (B,)."""
    idx = starts.unsqueeze(1) + torch.arange(context + 1)  # (B, S + 1)
    w = stream[idx].long()
    return w[:, :-1], w[:, 1:]


def train_starts(n_bytes: int, cfg: Config, seed: int) -> Iterator[torch.Tensor]:
    """Random window starts (B,) for every step, the same for every model with the same seed."""
    gen = torch.Generator().manual_seed(10_007 * seed + 17)
    for _ in range(cfg.steps):
        yield torch.randint(0, n_bytes - cfg.context - 1, (cfg.batch_size,), generator=gen)


def eval_starts(n_bytes: int, n_windows: int, context: int) -> torch.Tensor:
    """Evenly spaced validation windows, the same for every model and seed."""
    return torch.linspace(0, n_bytes - context - 1, n_windows).long()


# ----------------------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------------------


class FFNStack(nn.Module):
    """``num_sublayers`` pre-norm residual sublayers ``h + ff2(relu(ff1(norm(h))))``; returns the residual
    part ``stack(x) - x``, the structure and initialization of a BaseLayer expert (``ff2`` starts at zero,
    so the stack starts as the identity)."""

    def __init__(self, d_model: int, d_ff: int, num_sublayers: int) -> None:
        super().__init__()
        self.norms = nn.ModuleList([nn.LayerNorm(d_model) for _ in range(num_sublayers)])
        self.ff1 = nn.ModuleList([nn.Linear(d_model, d_ff) for _ in range(num_sublayers)])
        self.ff2 = nn.ModuleList([nn.Linear(d_ff, d_model) for _ in range(num_sublayers)])
        for lin in self.ff2:
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, delta = x, torch.zeros_like(x)
        for norm, ff1, ff2 in zip(self.norms, self.ff1, self.ff2, strict=True):
            r = ff2(F.relu(ff1(norm(h))))
            h, delta = h + r, delta + r
        return delta


class DenseMiddle(nn.Module):
    """The dense baseline's middle layer: every token through the one stack."""

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        self.stack = FFNStack(cfg.d_model, cfg.d_ff, cfg.num_sublayers)
        self.aux_loss: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.stack(x)


class SwitchMiddle(nn.Module):
    """Switch-style top-1 routing (Fedus et al. 2021) over E copies of the stack, experts replicated on
    every rank (under torchrun each rank routes its own tokens with its own capacity, which is what an
    expert-parallel Switch layer computes too).

    A token ``h`` routed to expert ``e`` with router probability ``p`` leaves as ``h + p * f_e(h)``; a
    token beyond the expert's capacity ``floor(capacity_factor * T / E)`` (first come, first served in
    token order) leaves as ``h``. The load-balancing loss is ``E * sum_e f_e * P_e`` (``f_e`` the share of
    tokens whose top-1 is ``e``, ``P_e`` the mean router probability of ``e``), weighted in the loss by
    ``Config.balance_loss``.
    """

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        self.num_experts, self.capacity_factor = cfg.num_experts, cfg.capacity_factor
        self.router = nn.Linear(cfg.d_model, cfg.num_experts, bias=False)
        nn.init.orthogonal_(self.router.weight, gain=0.1)  # as BaseLayer's centroids
        self.experts = nn.ModuleList(
            [FFNStack(cfg.d_model, cfg.d_ff, cfg.num_sublayers) for _ in range(cfg.num_experts)]
        )
        self.aux_loss: torch.Tensor | None = None
        self.last_counts = torch.zeros(cfg.num_experts, dtype=torch.int64)  # top-1 choices, before capacity
        self.last_dropped = 0
        self.route_seconds = 0.0
        self.no_capacity = False  # True: no token is dropped (an evaluation variant)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.reshape(-1, x.shape[-1])  # (T, D)
        n, e = h.shape[0], self.num_experts
        logits = self.router(h).float()  # (T, E)
        probs = torch.softmax(logits, dim=1)
        t0 = time.perf_counter()  # the routing decision, timed as "assignment" (training only)
        gate, expert = probs.max(dim=1)  # (T,)
        onehot = F.one_hot(expert, e)  # (T, E)
        position = ((torch.cumsum(onehot, dim=0) - 1) * onehot).sum(dim=1)  # (T,) rank within its expert
        capacity = n if self.no_capacity else int(self.capacity_factor * n / e)
        keep = position < capacity
        if self.training:
            self.route_seconds += time.perf_counter() - t0
        self.aux_loss = e * (onehot.float().mean(0) * probs.mean(0)).sum()
        out = h
        for i, stack in enumerate(self.experts):
            idx = torch.nonzero((expert == i) & keep).squeeze(1)
            if idx.numel():
                rows = h.index_select(0, idx)
                out = out.index_add(0, idx, gate[idx].unsqueeze(1).to(h.dtype) * stack(rows))
        self.last_counts = onehot.sum(0).detach()
        self.last_dropped = int(n - keep.sum())
        return out.reshape(x.shape)


class BaseMiddle(nn.Module):
    """``torch_adapter.BaseLayer`` with the stack's shape; ``method`` "auction" (BASE) or "sinkhorn"."""

    def __init__(self, cfg: Config, method: str, group: Any) -> None:
        super().__init__()
        from torch_adapter import BaseLayer

        self.layer = BaseLayer(
            cfg.d_model,
            cfg.num_experts,
            d_ff=cfg.d_ff,
            num_sublayers=cfg.num_sublayers,
            method=method,
            group=group,
        )
        self.aux_loss: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


class Block(nn.Module):
    """A pre-norm transformer block: causal self-attention and a GELU feed-forward layer."""

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        self.n_heads = cfg.n_heads
        self.ln1, self.ln2 = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.ff1 = nn.Linear(cfg.d_model, cfg.d_ff)
        self.ff2 = nn.Linear(cfg.d_ff, cfg.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, s, 3, self.n_heads, d // self.n_heads).unbind(2)
        a = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True)
        x = x + self.proj(a.transpose(1, 2).reshape(b, s, d))
        return x + self.ff2(F.gelu(self.ff1(self.ln2(x))))


class TinyLM(nn.Module):
    """Byte embeddings, ``n_layers`` blocks with the middle layer after block ``n_layers // 2``, a head."""

    def __init__(self, cfg: Config, model: str, seed: int, group: Any = None) -> None:
        super().__init__()
        if cfg.d_model % cfg.n_heads:
            raise ValueError(f"d_model ({cfg.d_model}) must be divisible by n_heads ({cfg.n_heads})")
        # The trunk is drawn first from the seed alone, so every model starts from the same trunk; the
        # middle layer then draws from its own seed.
        torch.manual_seed(seed)
        self.embed = nn.Embedding(256, cfg.d_model)
        self.pos = nn.Embedding(cfg.context, cfg.d_model)
        nn.init.normal_(self.embed.weight, std=0.02)
        nn.init.normal_(self.pos.weight, std=0.02)
        self.lower = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layers // 2)])
        self.upper = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layers - cfg.n_layers // 2)])
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, 256, bias=False)
        torch.manual_seed(seed + 1_000_003)
        if model == "dense":
            self.middle: nn.Module = DenseMiddle(cfg)
        elif model == "switch":
            self.middle = SwitchMiddle(cfg)
        elif model == "base":
            self.middle = BaseMiddle(cfg, "auction", group)
        elif model == "sinkhorn":
            self.middle = BaseMiddle(cfg, "sinkhorn", group)
        else:
            raise ValueError(f"model must be one of {MODELS}, got {model!r}")

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Logits (B, S, 256) for the bytes ``idx`` (B, S)."""
        x = self.embed(idx) + self.pos.weight[: idx.shape[1]]
        for block in self.lower:
            x = block(x)
        x = self.middle(x)
        for block in self.upper:
            x = block(x)
        return self.head(self.ln_f(x))

    def expert_parameters(self) -> list[nn.Parameter]:
        """Parameters that live on one rank only (BaseLayer's experts); the rest is replicated."""
        if isinstance(self.middle, BaseMiddle):
            return list(self.middle.layer.expert_parameters())
        return []


def count_parameters(model: TinyLM, cfg: Config) -> tuple[int, int]:
    """(total parameters over all ranks, parameters each token uses)."""
    trunk = sum(p.numel() for name, p in model.named_parameters() if not name.startswith("middle."))
    d, f, k = cfg.d_model, cfg.d_ff, cfg.num_sublayers
    stack = k * (2 * d + d * f + f + f * d + d)  # layer norm, ff1, ff2 per sublayer
    if isinstance(model.middle, DenseMiddle):
        return trunk + stack, trunk + stack
    router = cfg.num_experts * d  # Switch's router or BASE's centroids
    return trunk + router + cfg.num_experts * stack, trunk + router + stack


# ----------------------------------------------------------------------------------------------------------
# Distributed helpers (all no-ops in a single process)
# ----------------------------------------------------------------------------------------------------------


def init_distributed() -> tuple[Any, int, int]:
    """``(group, rank, world_size)``; under torchrun (WORLD_SIZE > 1) a gloo process group."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return None, 0, 1
    if not dist.is_initialized():
        dist.init_process_group("gloo")
    return dist.group.WORLD, dist.get_rank(), dist.get_world_size()


def sync_gradients(model: TinyLM, world: int) -> None:
    """Gradients of the mean loss over all ranks' tokens.

    Replicated parameters (trunk, router, BaseLayer's centroids) hold their rank's part: all-reduce and
    divide by W (for the centroids, each rank holds the part that went through its own experts). BaseLayer's
    experts, on their owning rank, already hold the gradient of the sum of all ranks' losses: divide by W.
    """
    if world == 1:
        return
    experts = {id(p) for p in model.expert_parameters()}
    shared = [p for p in model.parameters() if id(p) not in experts]
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in shared]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for p, g in zip(shared, grads, strict=True):
        p.grad = flat[offset : offset + g.numel()].view_as(p).clone()
        offset += g.numel()
    for p in model.parameters():
        if id(p) in experts and p.grad is not None:
            p.grad /= world


def clip_gradients(model: TinyLM, max_norm: float, world: int) -> None:
    """``clip_grad_norm_`` over the whole model across ranks.

    The norm must be the same on every rank, or the replicated parameters would drift apart: replicated
    gradients (already synchronized) count once, each rank's own experts are summed over ranks.
    """
    experts = {id(p) for p in model.expert_parameters()}
    with_grad = [p for p in model.parameters() if p.grad is not None]
    squares = torch.zeros(2, dtype=torch.float64)  # [replicated, this rank's experts]
    for p in with_grad:
        squares[int(id(p) in experts)] += p.grad.detach().double().pow(2).sum()
    norm = math.sqrt(float(squares[0]) + float(all_sum(squares[1:], world)))
    if norm > max_norm:
        for p in with_grad:
            p.grad.mul_(max_norm / (norm + 1e-6))


def replicas_in_sync(model: TinyLM, world: int) -> bool:
    """Whether every rank holds bitwise the same replicated parameters (always True in one process)."""
    if world == 1:
        return True
    experts = {id(p) for p in model.expert_parameters()}
    mine = torch.cat([p.detach().reshape(-1) for p in model.parameters() if id(p) not in experts])
    theirs = mine.clone()
    dist.broadcast(theirs, 0)
    return bool(all_sum(torch.tensor([int(not torch.equal(mine, theirs))]), world) == 0)


def all_sum(values: torch.Tensor, world: int) -> torch.Tensor:
    if world > 1:
        values = values.clone()
        dist.all_reduce(values)
    return values


# ----------------------------------------------------------------------------------------------------------
# Timing the assignment
# ----------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def timed_assignment() -> Iterator[list[float]]:
    """Wrap ``linassign.balanced_assignment`` with a clock; yields ``[seconds spent in it so far]``.

    BaseLayer exposes no timing of its own; the adapter looks the function up on the ``linassign`` module
    at every call, so replacing the attribute times exactly the solver calls (the DLPack hand-over and
    the adapter's bookkeeping are not included).
    """
    import linassign

    clock = [0.0]
    original = getattr(linassign, "balanced_assignment", None)
    if original is None:
        yield clock
        return

    def balanced_assignment(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            clock[0] += time.perf_counter() - t0

    linassign.balanced_assignment = balanced_assignment
    try:
        yield clock
    finally:
        linassign.balanced_assignment = original


# ----------------------------------------------------------------------------------------------------------
# Training and evaluation
# ----------------------------------------------------------------------------------------------------------


def learning_rate(step: int, cfg: Config) -> float:
    """Linear warm-up, then cosine decay to a tenth of ``lr``."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.1 + 0.45 * (1.0 + math.cos(math.pi * progress)))


def expert_counts(model: TinyLM, world: int) -> torch.Tensor | None:
    """Tokens per expert in the last forward pass, summed over ranks (E,); None for the dense model.

    For Switch: the tokens whose top-1 expert it was, before the capacity cut.
    """
    mid = model.middle
    if isinstance(mid, BaseMiddle):
        counts = mid.layer.routing_stats().tokens_per_expert
    elif isinstance(mid, SwitchMiddle):
        counts = mid.last_counts
    else:
        return None
    return all_sum(counts.to(torch.int64), world)


@torch.no_grad()
def evaluate(model: TinyLM, stream: torch.Tensor, n_windows: int, cfg: Config, rank: int, world: int) -> dict[str, Any]:
    """Validation bits per byte over ``n_windows`` fixed windows, in batches of the training batch size
    (split over the ranks as in training; ``n_windows`` is rounded up to a multiple of it); also the expert
    loads of evaluation-mode routing."""
    model.eval()
    n_windows = -(-n_windows // cfg.batch_size) * cfg.batch_size
    starts = eval_starts(stream.numel(), n_windows, cfg.context)
    local = cfg.batch_size // world
    nats, count, dropped, tokens = 0.0, 0, 0, 0
    loads = []
    for b in range(0, n_windows, cfg.batch_size):
        chunk = starts[b : b + cfg.batch_size]
        mine = chunk[rank * local : (rank + 1) * local]
        x, y = windows(stream, mine, cfg.context)
        logits = model(x)
        nats += float(F.cross_entropy(logits.reshape(-1, 256), y.reshape(-1), reduction="sum"))
        count += y.numel()
        counts = expert_counts(model, world)
        if counts is not None:
            loads.append(counts.tolist())
        if isinstance(model.middle, SwitchMiddle):
            dropped += model.middle.last_dropped
            tokens += y.numel()
    totals = all_sum(torch.tensor([nats, count, dropped, tokens], dtype=torch.float64), world).tolist()
    model.train()
    out: dict[str, Any] = {"bpb": totals[0] / totals[1] / LN2, "loads": loads}
    if isinstance(model.middle, SwitchMiddle):
        out["dropped_share"] = totals[2] / totals[3]
    return out


def train(
    cfg: Config,
    model_name: str,
    seed: int,
    corpus: tuple[torch.Tensor, torch.Tensor, dict] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train one model with one seed; returns the run's metrics (identical on every rank).

    Parameters
    ----------
    cfg : Config
    model_name : {"dense", "base", "switch", "sinkhorn"}
    seed : int
        Seeds the trunk's initialization (shared by all models), the middle layer's, and the batches.
    corpus : (train, val, info), optional
        From :func:`load_corpus`; loaded here if not given.
    progress : bool
        Show a tqdm progress bar (on rank 0).

    Returns
    -------
    dict
        ``val_bpb`` (final, on ``cfg.final_eval_windows`` windows), ``curve`` (training bits per byte per
        step), ``val_curve`` ([step, bpb]), ``tokens_per_s``, ``assign_share``, ``load_max_over_mean``
        and ``loads`` per step (routed models), ``dropped_share`` per step (Switch), and the config.
    """
    group, rank, world = init_distributed()
    if cfg.batch_size % world:
        raise ValueError(f"batch_size ({cfg.batch_size}) must be divisible by the number of processes ({world})")
    local = cfg.batch_size // world
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    train_stream, val_stream, info = corpus if corpus is not None else load_corpus(cfg.val_every, cfg.max_bytes)
    for name, stream in (("train", train_stream), ("validation", val_stream)):
        if stream.numel() < cfg.context + 2:
            raise ValueError(f"the {name} split has {stream.numel()} bytes, fewer than a window of {cfg.context + 1}")

    model = TinyLM(cfg, model_name, seed, group)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr,
        betas=(0.9, 0.95),
    )
    # The first steps compile the numba solvers (or load them from numba's cache): keep them out of the
    # speed and assignment-share measurements.
    skip = min(2, cfg.steps - 1)
    curve, val_curve, loads, ratios, dropped, step_seconds, top1 = [], [], [], [], [], [], []
    train_seconds, assign_at_skip, route_at_skip = 0.0, 0.0, 0.0
    tokens_timed = 0
    bar = None
    if progress and rank == 0:
        from tqdm import tqdm

        bar = tqdm(total=cfg.steps, desc=f"{model_name} seed {seed}", unit="step", dynamic_ncols=True)
    with timed_assignment() as assign_clock:
        for step, starts in enumerate(train_starts(train_stream.numel(), cfg, seed)):
            if step == skip:
                assign_at_skip = assign_clock[0]
                route_at_skip = getattr(model.middle, "route_seconds", 0.0)
            t0 = time.perf_counter()
            for g in opt.param_groups:
                g["lr"] = learning_rate(step, cfg)
            x, y = windows(train_stream, starts[rank * local : (rank + 1) * local], cfg.context)
            logits = model(x)
            lm_loss = F.cross_entropy(logits.reshape(-1, 256), y.reshape(-1))
            loss = lm_loss
            if isinstance(model.middle, SwitchMiddle):
                loss = loss + cfg.balance_loss * model.middle.aux_loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            sync_gradients(model, world)
            clip_gradients(model, cfg.grad_clip, world)
            opt.step()
            elapsed = time.perf_counter() - t0
            step_seconds.append(elapsed)
            if step >= skip:
                train_seconds += elapsed
                tokens_timed += cfg.batch_size * cfg.context

            bpb = float(all_sum(lm_loss.detach().double().reshape(1), world)) / world / LN2
            if not math.isfinite(bpb):
                raise FloatingPointError(f"{model_name} seed {seed}: the loss is {bpb} at step {step}")
            curve.append(bpb)
            counts = expert_counts(model, world)
            if counts is not None:
                loads.append(counts.tolist())
                ratios.append(float(counts.max()) / float(counts.float().mean()))
            if isinstance(model.middle, BaseMiddle):
                # Share of tokens the balanced assignment sent to their own best expert.
                share = all_sum(torch.tensor([model.middle.layer.routing_stats().top1_share]), world)
                top1.append(float(share) / world)
            if isinstance(model.middle, SwitchMiddle):
                d = all_sum(torch.tensor([model.middle.last_dropped]), world)
                dropped.append(float(d) / (cfg.batch_size * cfg.context))
            if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:
                val_curve.append([step + 1, evaluate(model, val_stream, cfg.eval_windows, cfg, rank, world)["bpb"]])
            if bar is not None:
                rate = tokens_timed / train_seconds if train_seconds else float("nan")
                bar.set_postfix(bpb=f"{bpb:.3f}", tok_s=f"{rate:,.0f}", refresh=False)
                bar.update(1)
        assign_seconds = assign_clock[0] - assign_at_skip
    if bar is not None:
        bar.close()

    final = evaluate(model, val_stream, cfg.final_eval_windows, cfg, rank, world)
    in_sync = replicas_in_sync(model, world)
    # Per-rank timings, averaged over ranks.
    timing = all_sum(torch.tensor([train_seconds, assign_seconds], dtype=torch.float64), world) / world
    train_seconds, assign_seconds = timing.tolist()
    if isinstance(model.middle, SwitchMiddle):
        assign_seconds = getattr(model.middle, "route_seconds", 0.0) - route_at_skip
    total, active = count_parameters(model, cfg)
    result: dict[str, Any] = {
        "model": model_name,
        "seed": seed,
        "world_size": world,
        "config": dataclasses.asdict(cfg),
        "corpus": info,
        "threads": torch.get_num_threads(),
        "parameters": total,
        "active_parameters": active,
        "val_bpb": final["bpb"],
        "val_curve": val_curve,
        "curve": curve,
        "train_seconds": train_seconds,
        "step_seconds": step_seconds,
        "tokens_per_s": tokens_timed / train_seconds if train_seconds else float("nan"),
        "timed_steps": cfg.steps - skip,
        "replicas_in_sync": in_sync,
        "assign_seconds": assign_seconds,
        "assign_share": assign_seconds / train_seconds if train_seconds else float("nan"),
    }
    if model_name in ROUTED:
        result["loads"] = loads
        result["load_max_over_mean"] = ratios
        result["eval_loads"] = final["loads"]
    if model_name in ("base", "sinkhorn"):
        result["top1_share"] = top1
    if isinstance(model.middle, SwitchMiddle):
        result["dropped_share"] = dropped
        result["eval_dropped_share"] = final["dropped_share"]
        model.middle.no_capacity = True
        free = evaluate(model, val_stream, cfg.final_eval_windows, cfg, rank, world)
        result["val_bpb_no_capacity"] = free["bpb"]
        model.middle.no_capacity = False
    return result


# ----------------------------------------------------------------------------------------------------------
# Report: table and pictures
# ----------------------------------------------------------------------------------------------------------


def _mean_spread(values: Sequence[float]) -> tuple[float, float]:
    """Mean and half the range (for two seeds: the distance from the mean to either run)."""
    return sum(values) / len(values), (max(values) - min(values)) / 2


def summarize(results: list[dict]) -> list[dict]:
    """One row per (model, world size): means and spreads over seeds."""
    rows = []
    keys = sorted({(r["model"], r["world_size"]) for r in results}, key=lambda k: (k[1], MODELS.index(k[0])))
    for model, world in keys:
        runs = [r for r in results if r["model"] == model and r["world_size"] == world]
        row: dict[str, Any] = {"model": model, "world_size": world, "seeds": sorted(r["seed"] for r in runs)}
        row["val_bpb"] = _mean_spread([r["val_bpb"] for r in runs])
        row["tokens_per_s"] = _mean_spread([r["tokens_per_s"] for r in runs])
        row["assign_share"] = _mean_spread([r["assign_share"] for r in runs])
        row["parameters"], row["active_parameters"] = runs[0]["parameters"], runs[0]["active_parameters"]
        if model in ROUTED:
            ratios = [x for r in runs for x in r["load_max_over_mean"]]
            row["load_max_over_mean"] = (sum(ratios) / len(ratios), max(ratios))
            ev = [max(c) / (sum(c) / len(c)) for r in runs for c in r["eval_loads"]]
            row["eval_load_max_over_mean"] = (sum(ev) / len(ev), max(ev)) if ev else (math.nan, math.nan)
        if model == "switch":
            row["dropped_share"] = _mean_spread([sum(r["dropped_share"]) / len(r["dropped_share"]) for r in runs])
            row["eval_dropped_share"] = _mean_spread([r["eval_dropped_share"] for r in runs])
            row["val_bpb_no_capacity"] = _mean_spread([r["val_bpb_no_capacity"] for r in runs])
        # Paired with the dense run of the same seed (same trunk initialization, same batches).
        dense = {r["seed"]: r for r in results if r["model"] == "dense" and r["world_size"] == world}
        pairs = [(r["seed"], r, dense[r["seed"]]) for r in runs if r["seed"] in dense]
        row["delta_vs_dense"] = [(seed, r["val_bpb"] - d["val_bpb"]) for seed, r, d in sorted(pairs)]
        row["speed_vs_dense"] = [r["tokens_per_s"] / d["tokens_per_s"] for _, r, d in pairs]
        rows.append(row)
    return rows


def markdown_table(rows: list[dict]) -> str:
    """The results table in Markdown."""
    head = (
        "| model | procs | seeds | val bits/byte (mean ± half-range) | minus dense, same seed | tokens/s "
        "(x dense) | assignment share of training time | train load max/mean (mean, worst step) | eval load "
        "max/mean (mean, worst batch) | dropped (train / eval) | parameters (total / per token) |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        bpb = "{:.4f} ± {:.4f}".format(*r["val_bpb"])
        tps = "{:,.0f} ± {:,.0f}".format(*r["tokens_per_s"])
        if r["speed_vs_dense"] and r["model"] != "dense":
            tps += " ({:.2f}x)".format(sum(r["speed_vs_dense"]) / len(r["speed_vs_dense"]))
        delta = ", ".join(f"{d:+.4f}" for _, d in r["delta_vs_dense"]) if r["model"] != "dense" else "—"
        share = "{:.2%}".format(r["assign_share"][0]) if r["model"] != "dense" else "—"
        load = "{:.3f}, {:.3f}".format(*r["load_max_over_mean"]) if "load_max_over_mean" in r else "—"
        ev = "{:.3f}, {:.3f}".format(*r["eval_load_max_over_mean"]) if "eval_load_max_over_mean" in r else "—"
        drop = "—"
        if "dropped_share" in r:
            drop = "{:.1%} / {:.1%}".format(r["dropped_share"][0], r["eval_dropped_share"][0])
        params = f"{r['parameters'] / 1e6:.2f}M / {r['active_parameters'] / 1e6:.2f}M"
        seeds = ",".join(str(s) for s in r["seeds"])
        lines.append(
            f"| {LABELS[r['model']]} | {r['world_size']} | {seeds} | {bpb} | {delta} | {tps} | {share} | {load} "
            f"| {ev} "
            f"| {drop} | {params} |"
        )
    lines.extend(
        "\nSwitch evaluated without a capacity limit (no token dropped at evaluation), "
        f"{r['world_size']} process(es): {r['val_bpb_no_capacity'][0]:.4f} ± {r['val_bpb_no_capacity'][1]:.4f} "
        "bits/byte"
        for r in rows
        if "val_bpb_no_capacity" in r
    )
    return "\n".join(lines)


def _smooth(values: Sequence[float], width: int) -> list[float]:
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= width:
            acc -= values[i - width]
        out.append(acc / min(i + 1, width))
    return out


def plot(results: list[dict], plot_dir: Path, prefix: str = "base_quality") -> list[Path]:
    """``<prefix>_loss.png`` (training and validation curves of every model) and ``<prefix>_load.png``
    (histograms of per-expert load relative to the mean, training and evaluation routing)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plot_dir.mkdir(parents=True, exist_ok=True)
    single = [r for r in results if r["world_size"] == 1] or results
    colors = {"dense": "tab:gray", "base": "tab:blue", "switch": "tab:red", "sinkhorn": "tab:green"}
    styles = ["-", "--", ":", "-."]

    fig, (ax_train, ax_val) = plt.subplots(1, 2, figsize=(12, 4.5))
    for model in MODELS:
        runs = sorted((r for r in single if r["model"] == model), key=lambda r: r["seed"])
        for i, r in enumerate(runs):
            label = f"{LABELS[model]} seed {r['seed']}"
            width = max(1, len(r["curve"]) // 24)
            ax_train.plot(_smooth(r["curve"], width), color=colors[model], ls=styles[i % 4], lw=1, label=label)
            steps, bpb = zip(*r["val_curve"], strict=True) if r["val_curve"] else ((), ())
            ax_val.plot(steps, bpb, color=colors[model], ls=styles[i % 4], marker="o", ms=3, lw=1, label=label)
    ax_train.set(xlabel="step", ylabel="training bits per byte (running mean)", title="Training loss")
    ax_val.set(xlabel="step", ylabel="validation bits per byte", title="Validation loss (evaluation routing)")
    for ax in (ax_train, ax_val):
        ax.grid(alpha=0.3)
        ys = [y for line in ax.get_lines() for y in line.get_ydata()[len(line.get_ydata()) // 4 :]]
        if ys:
            ax.set_ylim(min(ys) - 0.05, max(ys) + 0.1)
    ax_val.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    loss_png = plot_dir / f"{prefix}_loss.png"
    fig.savefig(loss_png, dpi=120)
    plt.close(fig)

    routed = [m for m in ROUTED if any(r["model"] == m for r in single)]
    fig, axes = plt.subplots(2, max(1, len(routed)), figsize=(4 * max(1, len(routed)), 6), squeeze=False)
    for j, model in enumerate(routed):
        runs = [r for r in single if r["model"] == model]
        for i, (key, title) in enumerate((("loads", "training"), ("eval_loads", "evaluation"))):
            rel = [c / (sum(counts) / len(counts)) for r in runs for counts in r[key] for c in counts]
            ax = axes[i][j]
            ax.hist(rel, bins=40, range=(0, max(2.5, max(rel, default=1) * 1.05)), color=colors[model])
            ax.axvline(1.0, color="k", lw=0.8, ls="--")
            routing = {"switch": "top-1 choices, before capacity", "base": "", "sinkhorn": ""}[model]
            if model != "switch":
                routing = "balanced assignment" if key == "loads" else "greedy (top-1)"
            ax.set_title(f"{LABELS[model]}, {title}\n{routing}", fontsize=9)
            ax.set_xlabel("tokens per expert / mean")
            ax.set_ylabel("count (expert x step)" if key == "loads" else "count (expert x batch)")
    fig.tight_layout()
    load_png = plot_dir / f"{prefix}_load.png"
    fig.savefig(load_png, dpi=120)
    plt.close(fig)
    return [loss_png, load_png]


# ----------------------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Models: dense, base (BaseLayer, auction), switch (top-1, capacity 1.0, balance loss 0.01), "
        "sinkhorn (BaseLayer, method='sinkhorn'). Under torchrun the experts of BaseLayer are spread over "
        "the processes (gloo).",
    )
    p.add_argument("--model", nargs="+", default=["all"], choices=[*MODELS, "all"], help="models to train")
    p.add_argument("--seeds", nargs="+", type=int, default=[0], help="seeds (each model runs once per seed)")
    p.add_argument("--preset", choices=sorted(PRESETS), default="default", help="a configuration to start from")
    for field in dataclasses.fields(Config):
        flag = "--" + field.name.replace("_", "-")
        kind = {"int": int, "float": float}.get(str(field.type).split(" ")[0], int)
        p.add_argument(flag, type=kind, default=None, help=f"override Config.{field.name} (default {field.default})")
    p.add_argument("--out", type=Path, help="append each run's metrics to this JSON file (a list of runs)")
    p.add_argument(
        "--report",
        type=Path,
        nargs="+",
        help="read runs from these JSON files, print the table, draw the plots (of single-process runs)",
    )
    p.add_argument("--plot-dir", type=Path, default=Path("docs"), help="where --report writes its PNGs")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def config_from_args(args: argparse.Namespace) -> Config:
    cfg = Config(**PRESETS[args.preset])
    for field in dataclasses.fields(Config):
        value = getattr(args, field.name)
        if value is not None:
            setattr(cfg, field.name, value)
    return cfg


def main(argv: Sequence[str] | None = None) -> list[dict]:
    args = _parser().parse_args(argv)
    if args.report is not None:
        results = [r for path in args.report for r in json.loads(path.read_text())]
        print(markdown_table(summarize(results)))
        for path in plot(results, args.plot_dir):
            print(f"wrote {path}")
        return results

    cfg = config_from_args(args)
    _, rank, world = init_distributed()
    if cfg.threads is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        cfg.threads = max(1, cpus // int(os.environ.get("LOCAL_WORLD_SIZE", world)))
    models = list(MODELS) if "all" in args.model else args.model
    corpus = load_corpus(cfg.val_every, cfg.max_bytes)
    if rank == 0:
        info = corpus[2]
        print(
            f"corpus: Python {info['python']} standard library, {info['train_files']} train files "
            f"({info['train_bytes'] / 1e6:.1f} MB), {info['val_files']} validation files "
            f"({info['val_bytes'] / 1e6:.1f} MB); {world} process(es) x {cfg.threads} thread(s)",
            flush=True,
        )
    results = []
    for seed in args.seeds:
        for model in models:
            r = train(cfg, model, seed, corpus, progress=not args.no_progress)
            results.append(r)
            if rank == 0:
                line = (
                    f"{model:8s} seed {seed}: val {r['val_bpb']:.4f} bits/byte, "
                    f"{r['tokens_per_s']:,.0f} tokens/s, "
                    f"assignment {r['assign_share']:.2%} of training time"
                )
                if model in ROUTED:
                    line += f", load max/mean {max(r['load_max_over_mean']):.3f} (worst step)"
                if model == "switch":
                    line += f", dropped {sum(r['dropped_share']) / len(r['dropped_share']):.1%}"
                print(line, flush=True)
                if args.out is not None:
                    previous = json.loads(args.out.read_text()) if args.out.exists() else []
                    args.out.parent.mkdir(parents=True, exist_ok=True)
                    args.out.write_text(json.dumps([*previous, r]))
    if rank == 0:
        print(markdown_table(summarize(results)))
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return results


if __name__ == "__main__":
    main()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # torch 2.13's gloo backend keeps its transport threads (gloo_tcp_loop, pt_gloo_runloop) after
        # destroy_process_group, and their destruction during interpreter exit aborted now and then
        # ("terminate called without an active exception", one run in three to ten on a loaded machine,
        # always after every result was written). Leave without the C++ static destructors.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
