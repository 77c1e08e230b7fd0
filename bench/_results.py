"""Save a benchmark's figures where the README can cite them.

Every ``bench/*.py`` script ends with ``save("<name>", figures)``: it writes
``bench/results/<name>.json`` holding the figures and the conditions they were measured under
(machine, load average, Python, date), because a number without its machine and load is not
something a reader can check. The README cites these files; ``tests/test_readme_figures.py``
checks that every figure the README quotes appears in one of them.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def conditions() -> dict[str, Any]:
    """What a reader needs to judge a figure: where and under what load it was measured."""
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:  # not available on every platform
        load = None
    try:
        cpus_used = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on macOS/Windows
        cpus_used = None
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_at_save": load,
        # set by bench/reserve_core.py: the bench had this core to itself, so the machine's load
        # average (the other processes, pinned elsewhere) did not slow it
        "reserved_core": os.environ.get("TRACE_OPT_BENCH_RESERVED_CORE") or None,
        "cpus_used": cpus_used,
        "argv": sys.argv[1:],
    }


def save(name: str, figures: dict[str, Any], *, notes: str = "") -> Path:
    """Write ``bench/results/<name>.json`` atomically and return its path."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    record = {"name": name, "conditions": conditions(), "figures": figures}
    if notes:
        record["notes"] = notes
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path
