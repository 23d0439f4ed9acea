"""PyTorch adapter for linassign: the BASE layer and expert-parallel dispatch (lands with the adapter issue)."""
