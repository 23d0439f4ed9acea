"""linassign: fast, exact, certified linear and balanced assignment on numpy, cupy and any DLPack array."""

from ._api import balanced_assignment, hungarian, linear_sum_assignment
from ._certificate import verify
from ._errors import BackendUnavailableError, CertificateError, ConvergenceWarning, InfeasibleError
from ._result import AssignmentResult, BalancedResult

__version__ = "0.1.0.dev0"

__all__ = [
    "AssignmentResult",
    "BackendUnavailableError",
    "BalancedResult",
    "CertificateError",
    "ConvergenceWarning",
    "InfeasibleError",
    "balanced_assignment",
    "hungarian",
    "linear_sum_assignment",
    "verify",
]

# ----------------------------------------------------------------------------------------------------------
# Sinkhorn and auction (issue 4)
# ----------------------------------------------------------------------------------------------------------
from ._api import auction, sinkhorn  # noqa: E402
from ._result import SinkhornResult  # noqa: E402

__all__ += ["SinkhornResult", "auction", "sinkhorn"]
