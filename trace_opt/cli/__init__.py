"""``trace-opt``: the command line for what trace_opt records -- runs, parameter history, cache.

    trace-opt runs                        recorded runs under ./runs (or --store PATH)
    trace-opt show RUN                    call tree with inputs and outputs
    trace-opt graph RUN -o graph.svg      draw it
    trace-opt history --diff              parameter versions and what each changed
    trace-opt replay RUN --from N --program FILE.py:NAME
    trace-opt cache stats|clear           the LLM response cache

Bad input gives one ``trace-opt: error: ...`` line on stderr and a non-zero exit (1 for a
failure, 2 for bad usage); ``TRACE_OPT_DEBUG=1`` shows the traceback instead.

>>> from trace_opt.cli import main
>>> main(["runs", "--store", "/nonexistent/runs"])
1
"""

from __future__ import annotations

import os
import sqlite3
import sys

from ..errors import TraceOptError
from .output import escape
from .parser import parse

__all__ = ["main"]


def _fail(message: str, code: int) -> int:
    text, _, hint = message.partition("\nhelp: ")
    line = " ".join(text.split())
    text = f"trace-opt: error: {line}" + (f" (help: {' '.join(hint.split())})" if hint else "")
    sys.stderr.write(escape(text) + "\n")
    return code


def main(argv: list[str] | None = None) -> int:
    """Run ``trace-opt`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    try:
        args = parse(argv)
        return int(args.func(args))
    except SystemExit as e:  # --help (0) or bad usage (2, its line already printed)
        return e.code if isinstance(e.code, int) else _fail(str(e.code), 2)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except (TraceOptError, ValueError, OSError, sqlite3.Error, ImportError) as e:
        if os.environ.get("TRACE_OPT_DEBUG"):
            raise
        return _fail(str(e) or type(e).__name__, 1)
