"""TEMPORARY (development only): install the scipy stand-in as linassign.balanced_assignment while the
real one has not landed. Only active with LINASSIGN_TEST_STANDIN=1; removed once it lands."""

from _torch_reference import contract_balanced_assignment

import linassign


def install() -> None:
    if not hasattr(linassign, "balanced_assignment"):
        linassign.balanced_assignment = contract_balanced_assignment
