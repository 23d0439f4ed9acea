"""Exceptions and warnings raised by linassign."""


class BackendUnavailableError(ImportError):
    """The requested backend (GPU, or a kernel on it) is not installed or has no device."""


class InfeasibleError(ValueError):
    """No assignment satisfies the constraints (forbidden pairs or capacities)."""


class CertificateError(ValueError):
    """A result does not describe a valid assignment with feasible duals (raised by ``verify``)."""


class ConvergenceWarning(UserWarning):
    """An iterative solver stopped at ``max_iter`` before reaching its tolerance."""
