"""Every figure the README's benchmark section quotes comes from a saved benchmark result.

``bench/*.py`` save their figures, with the machine and load they were measured under, to
``bench/results/<name>.json`` (``bench/_results.py``). Each number in the README's
"Benchmarks" section -- outside backticks, and not part of a name like ``SmolLM2-135M`` or
``10k-node`` -- must equal some number in those files at the precision the README prints it
(``0.31`` matches 0.3137; ``19,434`` matches 19434). Ranges (``2.9–3.7``) need both ends. A
figure typed by hand, or left over from an older run, fails here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
# a number not glued to a letter, digit, dot or hyphen on either side (so not SmolLM2, 10k-node, v1.2)
NUMBER = re.compile(r"(?<![\w.\-/])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?![\w\-/]|\.\d)")


def _numbers(value: Any) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, str):
        return [float(m.group(0).replace(",", "")) for m in NUMBER.finditer(value)]
    if isinstance(value, dict):  # keys too: "1000 ops" names the size a figure was measured at
        return [n for k, v in value.items() for n in (*_numbers(str(k)), *_numbers(v))]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return []


def saved_numbers() -> list[float]:
    return [n for path in sorted(RESULTS.glob("*.json")) for n in _numbers(json.loads(path.read_text()))]


def benchmark_text(readme: str) -> str:
    section = readme.split("\n## Benchmarks", 1)[1].split("\n## ", 1)[0]
    return re.sub(r"`[^`]*`", " ", section)  # commands and file names are not figures


def quoted(text: str) -> list[tuple[str, int]]:
    """(figure as printed, decimals printed) for every number in ``text``."""
    return [(m.group(0), len(m.group(2) or "") - bool(m.group(2))) for m in NUMBER.finditer(text)]


def matches(figure: str, decimals: int, saved: list[float]) -> bool:
    target = float(figure.replace(",", ""))
    return any(round(v, decimals) == target for v in saved)


def test_every_benchmark_figure_in_the_readme_is_in_a_saved_result() -> None:
    saved = saved_numbers()
    text = benchmark_text((ROOT / "README.md").read_text(encoding="utf-8"))
    missing = sorted({f for f, d in quoted(text) if not matches(f, d, saved)})
    assert not missing, f"README figures with no saved benchmark result in bench/results/: {missing}"


def test_the_check_tells_a_saved_figure_from_a_typed_one() -> None:
    assert quoted("| 100k-node chain | 0.31 s, 22.5 MiB | SmolLM2-135M 1,083,181 chars |") == [
        ("0.31", 2), ("22.5", 1), ("1,083,181", 0)]  # fmt: skip
    assert matches("0.31", 2, [0.3137]) and not matches("0.31", 2, [0.3151])
    assert matches("1,083,181", 0, [1083181.0]) and not matches("19,434", 0, [19435.0])
