"""``python -m linassign`` is the ``linassign`` command line."""

from ._cli import main

raise SystemExit(main())
