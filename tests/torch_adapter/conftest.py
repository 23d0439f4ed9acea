"""torch_adapter tests: skipped as a whole where torch is not installed."""

import os

import pytest

torch = pytest.importorskip("torch", reason="the torch adapter tests need torch (pip install 'linassign[torch]')")

if os.environ.get("LINASSIGN_TEST_STANDIN"):  # TEMPORARY, development only: see _torch_standin.py
    from _torch_standin import install

    install()
