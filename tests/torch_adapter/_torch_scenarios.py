"""What each rank of a spawned gloo world runs (tests/torch_adapter/test_torch_distributed.py checks it).

One world runs every scenario in turn, so that a world is spawned once per world size: the worker scope,
evaluation with uneven splits, the global scope (both solve modes), shuffling, and checkpoints. Results go
to ``rank<r>.pt``; all assertions happen in the parent, against single-process references.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from torch_adapter import BaseLayer, gather_state_dict

LR = 0.1


def _grads(layer: BaseLayer) -> dict[str, torch.Tensor]:
    # An expert that received no tokens has no .grad: its gradient is zero.
    return {n: (p.grad.clone() if p.grad is not None else torch.zeros_like(p)) for n, p in layer.named_parameters()}


def _train_step(layer: BaseLayer, x0: torch.Tensor, weight: torch.Tensor) -> dict[str, Any]:
    x = x0.clone().requires_grad_(True)
    y = layer(x)
    (y * weight).sum().backward()
    return {
        "y": y.detach(),
        "xgrad": x.grad,
        "grads": _grads(layer),
        "stats": layer.routing_stats()._asdict(),
        "input_unmodified": torch.equal(x.detach(), x0),
    }


def scenario(rank: int, world_size: int, path: str, save_checkpoint: bool = False, load_checkpoint: str = "") -> None:
    root = Path(path)
    data = torch.load(root / "inputs.pt")
    cfg, x0, weight = data["cfg"], data["xs"][rank], data["ws"][rank]
    res: dict[str, Any] = {}

    def make_plain(**kw: Any) -> BaseLayer:
        return BaseLayer(cfg["d_model"], cfg["num_experts"], d_ff=cfg["d_ff"], num_sublayers=cfg["num_sublayers"], **kw)

    def make(**kw: Any) -> BaseLayer:
        layer = make_plain(**kw).double()
        layer.load_state_dict(data["state"], strict=True)  # a world-size-1 checkpoint: this rank's part
        return layer

    # Initialization depends on the seed and the global expert id only, not on the world size.
    torch.manual_seed(7)
    res["init_state"] = make_plain().state_dict()

    # Worker scope (the paper), training, no shuffle; then evaluation (greedy, uneven splits).
    layer = make(shuffle=False)
    res["local_expert_ids"] = layer.local_expert_ids
    res["state_keys"] = sorted(layer.state_dict())
    res["worker"] = _train_step(layer, x0, weight)
    layer.eval()
    with torch.no_grad():
        res["eval"] = {"y": layer(x0), "stats": layer.routing_stats()._asdict()}

    if save_checkpoint:
        # One SGD step (centroid gradients summed over ranks, like any replicated parameter), then the
        # merged checkpoint and the evaluation outputs it must reproduce at other world sizes.
        with torch.no_grad():
            dist.all_reduce(layer.expert_centroids.grad)
            for p in layer.parameters():
                if p.grad is not None:
                    p -= LR * p.grad
        merged = gather_state_dict(layer)
        if rank == 0:
            torch.save(merged, root / f"ckpt_w{world_size}.pt")
        with torch.no_grad():
            res["after_step_eval"] = layer(x0)

    # Global scope: one balanced assignment over all ranks' tokens, both ways of solving it.
    for mode in ("all", "root"):
        layer = make(shuffle=False, scope="global")
        layer._global_solve = mode
        res[f"global_{mode}"] = _train_step(layer, x0, weight)

    # Shuffle on: tokens visit random ranks and come back in their original order.
    torch.manual_seed(1000 + rank)
    layer = make(shuffle=True)
    res["shuffle"] = _train_step(layer, x0, weight)
    res["shuffle_second"] = _train_step(layer, x0, weight)  # warm-started prices, new permutation

    # No tokens on any rank, and NaN on the last rank only: every scope and solve mode still matches its
    # collectives; with NaN every rank raises (none is left waiting in an all-to-all).
    empty, shapes, errors = x0[:, :0], [], []
    bad = x0.clone()
    if rank == world_size - 1:
        bad[0, 0, 0] = float("nan")
    for kw, mode in (({"shuffle": True}, None), ({"scope": "global"}, "root"), ({"scope": "global"}, "all")):
        layer = make(**kw)
        if mode is not None:
            layer._global_solve = mode
        shapes.append(tuple(_train_step(layer, empty, weight[:, :0])["y"].shape))
        try:
            layer(bad)
            errors.append(None)
        except ValueError as exc:
            errors.append(str(exc))
        layer.eval()
        with torch.no_grad():
            shapes.append(tuple(layer(empty).shape))
    res["all_empty_shapes"], res["nan_errors"] = shapes, errors

    if load_checkpoint:
        layer = make(shuffle=False)
        layer.load_state_dict(torch.load(load_checkpoint), strict=False)
        layer.eval()
        with torch.no_grad():
            res["ckpt_eval"] = layer(x0)

    torch.save(res, root / f"rank{rank}.pt")
