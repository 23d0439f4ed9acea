"""Shared test configuration: hypothesis profiles, the gpu marker, array-library fixtures."""

import os

import pytest
from hypothesis import HealthCheck, settings

# "ci": reproducible and without deadlines (numba compiles on first call); "dev": more examples, random.
settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile("dev", deadline=None, max_examples=200)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def _gpu_available() -> bool:
    from linassign._cupy import is_available

    return is_available()


def pytest_collection_modifyitems(config, items):
    if _gpu_available():
        return
    skip = pytest.mark.skip(reason="no CUDA device with cupy on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
