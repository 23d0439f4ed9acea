"""torch_adapter tests: skipped as a whole where torch is not installed."""

import pytest

torch = pytest.importorskip("torch", reason="the torch adapter tests need torch (pip install 'linassign[torch]')")
