"""How long the one slow install step takes: compiling llama-cpp-python for the embedded model.

    python bench/bench_install.py            # builds the wheel once in a temp folder (minutes, all cores)

Builds ``llama-cpp-python`` (the version pinned by setup.cfg's ``local`` extra that pip
picks) with the same ``CMAKE_ARGS`` as ``.ci/install`` -- without the multimodal (mtmd/llava)
library the local backend never loads -- and saves the wall time with the load average before
and after, since on a shared machine the load decides the figure as much as the code.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _results import save

ROOT = Path(__file__).resolve().parent.parent


def install_cmake_args() -> str:
    """The CMAKE_ARGS line of .ci/install, so the bench measures what CI runs."""
    match = re.search(r'^LLAMA_CMAKE_ARGS="([^"]*)"', (ROOT / ".ci" / "install").read_text(), re.M)
    if match is None:
        raise SystemExit("bench_install: no LLAMA_CMAKE_ARGS=... line in .ci/install")
    return match.group(1)


def main() -> None:
    spec = next(line.strip() for line in (ROOT / "setup.cfg").read_text().splitlines()
                if line.strip().startswith("llama-cpp-python"))  # fmt: skip
    cmake_args = install_cmake_args()
    env = {**os.environ, "CMAKE_ARGS": cmake_args}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-binary", "llama-cpp-python",
                               "--no-cache-dir", "-v", "-w", tmp, spec], env=env, capture_output=True, text=True)  # fmt: skip
        seconds = time.perf_counter() - t0
        if proc.returncode:
            raise SystemExit(f"bench_install: the build failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
        # .ci/install shows these cmake lines as its progress: check that pip -v prints them.
        progress = re.findall(r"^\s*\[ *(?:\d+%|\d+/\d+)\]", proc.stdout + proc.stderr, re.M)  # make or ninja, indented by pip
        built = sorted(p.name for p in Path(tmp).glob("*.whl"))
    load_after = [round(x, 2) for x in os.getloadavg()]
    minutes = round(seconds / 60, 1)
    print(f"llama-cpp-python ({spec}) built in {seconds:.0f} s ({minutes} min) with CMAKE_ARGS={cmake_args!r}; "
          f"load average after: {load_after}")  # fmt: skip
    save("install", {"llama_cpp_build_seconds": round(seconds), "llama_cpp_build_minutes": minutes,
                     "cmake_args": cmake_args, "requirement": spec, "loadavg_after": load_after,
                     "progress_lines": len(progress), "wheel": built})  # fmt: skip


if __name__ == "__main__":
    main()
