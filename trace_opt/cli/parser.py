"""The ``trace-opt`` argument parser: subcommands, their options and help texts."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from .cache import cmd_cache
from .history import cmd_history
from .runs import cmd_graph, cmd_replay, cmd_runs, cmd_show
from .output import escape

__all__ = ["build_parser", "parse"]

_EPILOG = """examples:
  python examples/demo.py                 train the demo agent; files go to ./runs/<run-id>/
  trace-opt runs                          the recorded runs under ./runs
  trace-opt show latest                   the newest run's call tree, inputs and outputs
  trace-opt graph latest -o graph.svg     draw it (.svg, .png, .pdf, or .dot without graphviz)
  trace-opt history --diff                every parameter version and what it changed
  trace-opt replay latest --from 3 --program examples/demo.py:classify
  trace-opt cache stats                   what the LLM cache holds

Stores: --store takes a store file or a folder (every store.db in it and one level below);
default $TRACE_OPT_STORE, else ./runs. RUN is 4+ characters of a run id, or 'latest'."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2, not usage + message."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(escape(f"trace-opt: error: {' '.join(message.split())} (see `{self.prog} --help`)") + "\n")
        raise SystemExit(2)


def _store(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", metavar="PATH", help="store file or folder (default: $TRACE_OPT_STORE, else ./runs)")


def _json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON instead of text (for scripts)")


def _version() -> str:
    """The installed distribution's version (what pip reports), else the package's own."""
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("trace-opt-lib")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return str(sys.modules["trace_opt"].__version__)


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``trace-opt``; each subcommand sets ``func``."""
    prog = "trace-opt"
    parser = _Parser(prog=prog, description="Inspect what trace_opt recorded: runs, parameter history, the LLM cache.",
                     epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--version", action="version", version=f"{prog} {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("runs", help="list recorded runs, newest first", description="List recorded runs, newest first.")
    _store(p)
    _json(p)
    p.add_argument("--limit", type=int, metavar="N", help="show at most N runs")
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser("show", help="a run's call tree with inputs and outputs",
                       description="Print a run's call tree: each call with its inputs and output.")  # fmt: skip
    p.add_argument("run", metavar="RUN", help="4+ characters of the run id, or 'latest'")
    _store(p)
    _json(p)
    p.add_argument("--timing", action="store_true", help="show how long each call took")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("graph", help="draw a run's call tree (SVG, PNG, PDF or DOT)",
                       description="Draw a run's call tree. Without -o, print DOT to stdout.")  # fmt: skip
    p.add_argument("run", metavar="RUN", help="4+ characters of the run id, or 'latest'")
    _store(p)
    p.add_argument("-o", "--output", metavar="FILE", help="output file; its suffix picks the format")
    p.add_argument("--format", choices=["svg", "png", "pdf", "dot", "gv"], help="format, if not the suffix's")
    p.set_defaults(func=cmd_graph)

    p = sub.add_parser("history", help="parameter versions and their diffs",
                       description="List the parameter versions optimizers committed, newest first.")  # fmt: skip
    p.add_argument("branch", nargs="?", metavar="BRANCH", help="only branches whose name contains this")
    _store(p)
    _json(p)
    p.add_argument("--diff", action="store_true", help="show what each version changed")
    p.add_argument("--limit", type=int, metavar="N", help="at most N versions per branch")
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("replay", help="re-run a run from call N (earlier calls come from the record)",
                       description="Re-run a recorded run: calls before --from return their recorded output, "
                                   "the rest run afresh (LLM calls go through the cache). The new run is "
                                   "recorded in the same store.")  # fmt: skip
    p.add_argument("run", metavar="RUN", help="4+ characters of the run id, or 'latest'")
    p.add_argument("--from", dest="start", type=int, metavar="N",
                   help="first call to run afresh (default: none; negative counts from the end)")  # fmt: skip
    p.add_argument("--program", metavar="FILE.py:NAME", help="the bundled function the run called (a store holds no code)")
    p.add_argument("--llm", metavar="MODEL", help="backend for calls that run afresh, e.g. local or openai/gpt-4o-mini")
    p.add_argument("--cache-dir", metavar="DIR", help="LLM cache (default: $TRACE_OPT_CACHE_DIR, else ./runs/llm-cache)")
    p.add_argument("--strict", action="store_true", help="fail if the program's calls differ from the record")
    _store(p)
    _json(p)
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("cache", help="LLM cache: stats or clear", description="Inspect or empty the LLM response cache.")
    p.add_argument("action", choices=["stats", "clear"], help="stats: what it holds; clear: remove every response")
    p.add_argument("--cache-dir", metavar="DIR", help="cache folder (default: $TRACE_OPT_CACHE_DIR, else ./runs/llm-cache)")
    _json(p)
    p.set_defaults(func=cmd_cache)
    return parser


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Parsed arguments; bad usage prints one line and raises ``SystemExit(2)``, ``--help`` (or no
    command) prints the help and raises ``SystemExit(0)``."""
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.command is None:
        parser.print_help()
        raise SystemExit(0)
    limit = getattr(args, "limit", None)
    if limit is not None and limit < 1:
        parser.error(f"argument --limit: invalid value {limit}: pass an int >= 1")
    return args
