"""What the run report's jinja2 templates cost, and that ``import trace_opt`` pays nothing for them.

    python bench/bench_report.py                     # this checkout
    python bench/bench_report.py --before ../main    # and another checkout, for a before/after

1. ``render_report`` for logs of 10, 100 and 300 steps (a short prompt changing every other
   step, four feedback lines and a reasoning per step): milliseconds per page, median of runs.
2. ``import trace_opt``: the modules it loads, whether jinja2 / markupsafe / tqdm are among
   them, and ``-X importtime``'s cumulative time (median of runs; noisy on a loaded machine,
   the module list is the figure that cannot be noise).

Each checkout is measured in its own subprocess (``PYTHONPATH`` = that checkout).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import save  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

RENDER = r"""
import json, statistics, sys, time
from trace_opt.report import ReportData, render_report, steps_from_log
out = {}
for n in (10, 100, 300):
    log = [{"step": i, "score": (i % 10) / 10, "best": 0.9, "tokens": 100 * i, "cost": 0.001, "seconds": 1.0,
            "values": {"p": f"Prompt version {i // 2} is a short prompt"},
            "feedback": [f"feedback {j} for step {i}" for j in range(4)], "reasoning": "because " * 30}
           for i in range(n)]
    data = ReportData("bench", steps_from_log(log), initial={"p": "start"}, final=log[-1]["values"])
    render_report(data)
    times = []
    for _ in range(7):
        t = time.perf_counter()
        page = render_report(data)
        times.append(time.perf_counter() - t)
    out[f"render_ms_{n}_steps"] = round(statistics.median(times) * 1000, 1)
    out[f"page_kb_{n}_steps"] = len(page) // 1000
print(json.dumps(out))
"""
MODULES = "import sys, trace_opt; print(len(sys.modules), sorted({'jinja2', 'markupsafe', 'tqdm'} & set(sys.modules)))"


def measure(root: Path, runs: int) -> dict[str, object]:
    env = {"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}
    render = subprocess.run([sys.executable, "-c", RENDER], capture_output=True, text=True, cwd=root, env=env, check=True)
    figures: dict[str, object] = json.loads(render.stdout)
    count, heavy = subprocess.run([sys.executable, "-c", MODULES], capture_output=True, text=True, cwd=root, env=env,
                                  check=True).stdout.split(" ", 1)  # fmt: skip
    times = []
    for _ in range(runs):
        err = subprocess.run([sys.executable, "-X", "importtime", "-c", "import trace_opt"], capture_output=True,
                             text=True, cwd=root, env=env).stderr  # fmt: skip
        times.append(int(re.findall(r"\|\s+(\d+) \| trace_opt$", err, re.M)[-1]) / 1000)
    figures.update(import_modules=int(count), import_loads=json.loads(heavy.replace("'", '"')),
                   import_ms_median=round(statistics.median(times)), import_ms_min=round(min(times)))  # fmt: skip
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="another checkout (e.g. main before this change) to measure too")
    parser.add_argument("--runs", type=int, default=15, help="import-time runs per checkout")
    args = parser.parse_args()
    figures = {"after": measure(ROOT, args.runs)}
    if args.before is not None:
        figures["before"] = measure(args.before.resolve(), args.runs)
    for name, values in figures.items():
        print(name, json.dumps(values))
    save("report", figures, notes="after = this checkout (jinja2 templates); before = --before checkout, if given")


if __name__ == "__main__":
    main()
