"""``python -m trace_opt.cli``: the same as the ``trace-opt`` console script."""

from __future__ import annotations

import sys

from . import main

sys.exit(main())
