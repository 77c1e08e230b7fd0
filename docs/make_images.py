"""Make the README's pictures from the demo's own output.

    python docs/make_images.py                      # run the demo on the embedded model (~30 s), then draw
    python docs/make_images.py --from runs/demo-X   # draw from a demo run you already have

Writes ``docs/graph.svg`` -- the graph of the trained classifier on the four reviews, with the
trainable instruction marked and the feedback each node got (what ``examples/demo.py`` saves
as ``graph.svg``) -- and ``docs/report.png``, the top of the run report (``report.html``)
photographed by headless Chromium and reduced to a palette PNG under 200 KB.

Pinned, so the pictures come out the same: the run id (``readme``), the demo's 3 steps x 3
candidates, a fresh LLM cache, and the embedded model's sampling, which is seeded from each
request. What still varies between machines: the timings the report shows (seconds per step,
the run's wall time) and, across graphviz versions, the exact layout.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
RUN_ID = "readme"
MAX_PNG = 200_000
WINDOW = (1100, 1500)  # the summary, the curves and the final parameters of the report


def load_demo() -> ModuleType:
    """``examples/demo.py`` as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("trace_opt_demo", ROOT / "examples" / "demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["trace_opt_demo"] = module
    spec.loader.exec_module(module)
    return module


def run_demo(runs: Path, llm: Any = None, steps: int = 3, k: int = 3) -> Path:
    """Run the demo into ``runs/readme`` with a fresh cache; returns that folder.
    ``llm`` replaces the embedded model (the tests pass a scripted one)."""
    folder = runs / RUN_ID
    if folder.exists():
        shutil.rmtree(folder)
    cache = runs / "readme-llm-cache"
    shutil.rmtree(cache, ignore_errors=True)
    argv = ["--runs", str(runs), "--run-id", RUN_ID, "--steps", str(steps), "--k", str(k), "--cache-dir", str(cache)]
    load_demo().main(argv, llm=llm)
    return folder


def make_graph(folder: Path, out: Path) -> Path:
    """Copy the run's graph SVG to ``out`` after checking it is one (the demo writes
    ``graph.dot`` instead when graphviz's ``dot`` is missing)."""
    source = folder / "graph.svg"
    if not source.is_file():
        raise FileNotFoundError(f"no {source}: install graphviz (apt-get install graphviz) and run the demo again")
    svg = source.read_text(encoding="utf-8")
    ET.fromstring(svg.encode("utf-8"))  # well-formed, or this raises
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(svg, encoding="utf-8")
    return out


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    raise FileNotFoundError("no Chromium on PATH: apt-get install chromium (the report picture is a screenshot)")


def screenshot(page: Path, out: Path, window: tuple[int, int] = WINDOW, limit: int = MAX_PNG) -> Path:
    """Photograph ``page`` with headless Chromium and store it as a palette PNG under ``limit`` bytes."""
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "shot.png"
        cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--force-device-scale-factor=1",
               f"--window-size={window[0]},{window[1]}", f"--screenshot={raw}", page.resolve().as_uri()]  # fmt: skip
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
        image = Image.open(raw).convert("RGB")
    for colors in (128, 64, 32):  # a page of flat colours and text: a small palette loses nothing visible
        buf = io.BytesIO()
        image.quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(buf, format="PNG", optimize=True)
        if buf.tell() < limit:
            break
    else:
        raise ValueError(f"the screenshot of {page} is {buf.tell()} bytes even at 32 colours: pass a smaller window")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(buf.getvalue())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, help="a demo run folder (default: run the demo now)")
    parser.add_argument("--out", type=Path, default=DOCS, help="where graph.svg and report.png go (default docs/)")
    args = parser.parse_args(argv)
    if args.source is not None:
        folder = args.source
        made = []
    else:
        tmp = Path(tempfile.mkdtemp(prefix="trace-opt-images-"))
        folder = run_demo(tmp)
        made = [tmp]
    try:
        graph = make_graph(folder, args.out / "graph.svg")
        report = screenshot(folder / "report.html", args.out / "report.png")
    finally:
        for tmp in made:
            shutil.rmtree(tmp, ignore_errors=True)
    for path in (graph, report):
        print(f"wrote {path} ({path.stat().st_size // 1000} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
