#!/usr/bin/env python3
"""Run a native build (``pip install -v`` of llama-cpp-python) and show its progress.

    python .ci/build_progress.py --label "llama.cpp build" --log build.log -- python -m pip install -v PKG

The build's whole output goes to ``--log``; the terminal gets scikit-build-core's phase lines
(``*** Configuring CMake...``) and one line each time the compile passes a new tenth, with the
seconds since the start: ``  llama.cpp build 40% (312s)``. The exit code is the command's.

Why a script and not ``grep``: what arrives is not what the build tool printed. pip indents
its build's output by two spaces (so ``^[`` never matches: a real install printed no progress
at all), ninja counts steps (``[45/107]``) where make prints ``[ 42%]``, a terminal-aware tool
may end lines with ``\\r`` or colour them, and the output can sit in buffers: the command runs
with ``PYTHONUNBUFFERED=1`` (pip and the build backend are Python) and a fixed
``NINJA_STATUS``, and its output is read as it comes, not line by line. A progress display must
never fail the install: anything it cannot read is left to the log.
"""

from __future__ import annotations

import argparse
import codecs
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from typing import BinaryIO, TextIO

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_NINJA = re.compile(r"^\s*\[(\d+)/(\d+)\]")  # [45/107] Building CXX object ...
_MAKE = re.compile(r"^\s*\[\s*(\d+)%\]")  # [ 42%] Building CXX object ...
_PHASE = re.compile(r"^\s*\*\*\* (\S.*)$")  # scikit-build-core: *** Configuring CMake...
NINJA_STATUS = "[%f/%t] "  # ninja's default, set so that a user's own NINJA_STATUS cannot hide it


def percent(line: str) -> int | None:
    """The build's completion in a line of output (0-100), or None if the line has none."""
    line = _ANSI.sub("", line)
    m = _NINJA.match(line)
    if m:
        done, total = int(m.group(1)), int(m.group(2))
        return min(100, done * 100 // total) if total else None
    m = _MAKE.match(line)
    return min(100, int(m.group(1))) if m else None


class Progress:
    """Turns output, fed in chunks of any size, into the lines to show."""

    def __init__(self, label: str, start: float, clock: Callable[[], float] = time.time) -> None:
        self.label = label
        self.start = start
        self.clock = clock
        self.shown = 0  # the last tenth shown
        self._partial = ""

    def feed(self, text: str) -> list[str]:
        """The lines to show for ``text``; an unfinished last line waits for the next chunk."""
        parts = re.split(r"[\r\n]", self._partial + text)
        self._partial = parts.pop()
        return [shown for line in parts if (shown := self._line(line)) is not None]

    def close(self) -> list[str]:
        """The lines to show for an unfinished last line at the end of the output."""
        rest, self._partial = self._partial, ""
        shown = self._line(rest)
        return [shown] if shown is not None else []

    def _line(self, line: str) -> str | None:
        phase = _PHASE.match(_ANSI.sub("", line))
        if phase:
            return f"  {self.label}: {phase.group(1).strip()}"
        pct = percent(line)
        if pct is None or pct // 10 * 10 <= self.shown:
            return None
        self.shown = pct // 10 * 10
        return f"  {self.label} {self.shown}% ({int(self.clock() - self.start)}s)"


def follow(source: BinaryIO, log: BinaryIO, out: TextIO, progress: Progress) -> None:
    """Copy ``source`` to ``log`` as it arrives and show its progress on ``out``."""
    fd = source.fileno()
    decode = codecs.getincrementaldecoder("utf-8")(errors="replace").decode  # a character may span two chunks
    showing = True
    while True:
        chunk = os.read(fd, 65536)  # returns what is there: no waiting for a full line or buffer
        log.write(chunk)
        log.flush()
        if showing:
            try:
                _show(out, progress.feed(decode(chunk, final=not chunk)) + (progress.close() if not chunk else []))
            except Exception as exc:  # noqa: BLE001 - the display stops, the build must not
                showing = False
                print(f"  (progress display stopped: {exc!r}; the build goes on, see the log)", file=out, flush=True)
        if not chunk:
            break


def _show(out: TextIO, lines: list[str]) -> None:
    for line in lines:
        try:
            print(line, file=out, flush=True)
        except OSError:  # the terminal went away: the build and its log go on
            pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--label", default="build", help="how progress lines start (default: build)")
    parser.add_argument("--log", required=True, help="file that receives the command's whole output")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to run: give it after --")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NINJA_STATUS": NINJA_STATUS}
    progress = Progress(args.label, time.time())
    with open(args.log, "wb") as log:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        assert proc.stdout is not None  # stdout=PIPE
        follow(proc.stdout, log, sys.stdout, progress)
        return proc.wait()


if __name__ == "__main__":
    sys.exit(main())
