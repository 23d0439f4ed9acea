"""PyTorch adapter for linassign: the BASE layer and expert-parallel dispatch over torch.distributed.

All solving is linassign's public ``balanced_assignment``; this package only moves tensors (zero-copy
through DLPack) and tokens (all-to-all with exact splits).
"""

from .base_layer import BaseLayer, RoutingStats
from .distributed import all_to_all, gather_state_dict
from .functional import Routing, balanced_assignment, balanced_routing, greedy_assignment, greedy_routing

__all__ = [
    "BaseLayer",
    "Routing",
    "RoutingStats",
    "all_to_all",
    "balanced_assignment",
    "balanced_routing",
    "gather_state_dict",
    "greedy_assignment",
    "greedy_routing",
]
