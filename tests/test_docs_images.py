"""The README's pictures: made by ``docs/make_images.py`` from the demo's own output, stored
under ``docs/``, shown near the top of the README, and small."""

from __future__ import annotations

import re
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest

from trace_opt.llm import FunctionLLM
from script_loader import load_script  # tests/ is on sys.path (rootdir conftest)

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SVG = "{http://www.w3.org/2000/svg}"
IMAGE = re.compile(r'!\[[^\]]*\]\(([^)\s]+)\)|<img [^>]*src="([^"]+)"')


def load_make_images() -> ModuleType:
    return load_script("docs/make_images.py", "make_images")


def images(text: str) -> list[str]:
    return [a or b for a, b in IMAGE.findall(text)]


def test_the_readme_shows_the_pictures_near_the_top() -> None:
    top = README.split("\n## ", 1)[0]  # before the first section
    shown = images(top)
    assert any(p.endswith(".svg") for p in shown) and any(p.endswith(".png") for p in shown), shown
    assert "docs/make_images.py" in top  # the captions say how to make them again


def test_every_readme_image_exists_and_each_png_is_small() -> None:
    shown = images(README)
    assert shown
    for rel in shown:
        path = ROOT / rel
        assert path.is_file(), f"the README shows {rel}, which does not exist"
        if path.suffix == ".png":
            assert path.stat().st_size < 200_000, f"{rel} is {path.stat().st_size} bytes"
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        if path.suffix == ".svg":
            assert ET.parse(path).getroot().tag == f"{SVG}svg"


def nodes(svg: str) -> dict[str, ET.Element]:
    """The graph's node groups by their text (the label lines joined)."""
    root = ET.fromstring(svg)
    found = {}
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "node":
            found[" ".join(t.text or "" for t in g.iter(f"{SVG}text"))] = g
    return found


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("dot") is None, reason="needs graphviz's dot (apt-get install graphviz)")
def test_make_images_draws_the_demo_graph_with_the_parameter_marked(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from test_demo import scripted

    make_images = load_make_images()
    folder = make_images.run_demo(tmp_path / "runs", llm=FunctionLLM(scripted, name="images"), steps=1, k=2)
    svg = make_images.make_graph(folder, tmp_path / "docs" / "graph.svg").read_text(encoding="utf-8")
    boxes = nodes(svg)
    param = next(g for text, g in boxes.items() if text.startswith("instruction (trainable)"))
    assert len(param.findall(f"{SVG}path")) + len(param.findall(f"{SVG}polygon")) == 2  # the double border
    text = next(t for t in boxes if t.startswith("instruction (trainable)"))
    assert "4 feedback" in text and "Correct:" in text  # the feedback of the four reviews, summarised
    assert sum(t.startswith("classify") for t in boxes) == 4
    assert sum(t.startswith("classify") and "1 LLM call: images" in t for t in boxes) == 4  # each asked the model once
    legend = next(t for t in boxes if "trainable parameter" in t)  # the legend names the kinds drawn
    assert "LLM call" in legend and "operation" not in legend


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None and shutil.which("chromium-browser") is None, reason="needs Chromium")
def test_the_report_screenshot_is_a_small_png(tmp_path: Path) -> None:
    pytest.importorskip("PIL")
    from PIL import Image

    page = tmp_path / "page.html"
    page.write_text("<h1>report</h1>" + "".join(f"<p style='color:#{i:06x}'>line {i}</p>" for i in range(0, 2**24, 2**18)))
    out = load_make_images().screenshot(page, tmp_path / "report.png", window=(800, 1000))
    with Image.open(out) as image:
        assert image.size == (800, 1000) and image.mode == "P"
    assert out.stat().st_size < 200_000
