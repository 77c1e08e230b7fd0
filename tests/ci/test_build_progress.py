"""The progress display of ``.ci/install``'s llama-cpp-python build (.ci/build_progress.py).

Never run against the real build here (it takes over an hour on 2 cores): the parser is fed
two recorded ``pip install -v`` logs of a real scikit-build-core + CMake build of a small C
project (tests/ci/data: pip 23.2.1, scikit-build-core 1.1.2, CMake 3.25.1, with Ninja 1.11.1
and with Unix Makefiles: the tools and the output llama-cpp-python's build goes through), and
the whole pipeline runs under a real pip against a stand-in build backend that prints
ninja-style steps, to check that progress shows while the build is still running.
"""

from __future__ import annotations

import importlib.util
import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
SCRIPT = ROOT / ".ci" / "build_progress.py"

_spec = importlib.util.spec_from_file_location("build_progress", SCRIPT)
assert _spec is not None and _spec.loader is not None
bp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bp)


class Clock:
    """Ten seconds pass each time the display asks the time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 10
        return self.now


def shown(text: str, chunk: int | None = None) -> list[str]:
    progress = bp.Progress("llama.cpp build", 0.0, Clock())
    step = chunk or len(text) or 1
    lines = [line for i in range(0, len(text), step) for line in progress.feed(text[i : i + step])]
    return lines + progress.close()


PHASES = [
    "  llama.cpp build: scikit-build-core 1.1.2 using CMake 3.25.1 (metadata_wheel)",
    "  llama.cpp build: scikit-build-core 1.1.2 using CMake 3.25.1 (wheel)",
    "  llama.cpp build: Configuring CMake...",
]
END = [
    "  llama.cpp build: Installing project into wheel...",
    "  llama.cpp build: Making wheel...",
    "  llama.cpp build: Created tiny_native-0.1.0-cp311-cp311-linux_x86_64.whl",
]


def test_a_recorded_ninja_build_shows_its_phases_and_each_tenth() -> None:
    # [3/26] is the first step past 10%, [6/26] past 20%, ... as pip printed them (indented).
    assert shown((DATA / "pip_v_ninja.log").read_text()) == [
        *PHASES,
        "  llama.cpp build: Building project with Ninja...",
        *(f"  llama.cpp build {p}% ({s}s)" for p, s in zip(range(10, 101, 10), range(10, 101, 10))),
        *END,
    ]


def test_a_recorded_make_build_shows_each_tenth() -> None:
    lines = shown((DATA / "pip_v_make.log").read_text())
    assert lines[: len(PHASES) + 1] == [*PHASES, "  llama.cpp build: Building project with Unix Makefiles..."]
    assert [line.split(" (")[0] for line in lines if "%" in line] == [f"  llama.cpp build {p}%" for p in range(10, 101, 10)]
    assert lines[-len(END) :] == END


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_output_cut_anywhere_shows_the_same(chunk: int) -> None:
    text = (DATA / "pip_v_ninja.log").read_text()
    assert shown(text, chunk) == shown(text)


def test_carriage_returns_colours_and_crlf_are_read_too() -> None:
    # A terminal-aware ninja rewrites one line with \r; a coloured make wraps it in escapes.
    text = "\r[1/4] a\r[2/4] b\r\n  \x1b[32m[ 75%] Building C\x1b[0m\r\n[4/4] d"
    assert shown(text) == [
        "  llama.cpp build 20% (10s)",
        "  llama.cpp build 50% (20s)",
        "  llama.cpp build 70% (30s)",
        "  llama.cpp build 100% (40s)",
    ]


def test_lines_that_only_look_like_progress_show_nothing() -> None:
    text = "[0/0] nothing\n-- [ 42 %] not make\nx [3/4] not at the start\nCMake Warning: [1/2]\n"
    assert shown(text) == []


def _pip_like(text: bytes) -> io.BytesIO:
    """A file with a real descriptor, as the command's pipe is."""
    r, w = os.pipe()
    os.write(w, text)
    os.close(w)
    return os.fdopen(r, "rb")  # type: ignore[return-value]


def test_follow_logs_every_byte_even_undecodable_ones(tmp_path: Path) -> None:
    raw = b"  [1/2] caf\xc3\xa9\n  \xff\xfe garbage\n  [2/2] done\n"
    log, out = io.BytesIO(), io.StringIO()
    with _pip_like(raw) as source:
        bp.follow(source, log, out, bp.Progress("b", 0.0, Clock()))
    assert log.getvalue() == raw
    assert out.getvalue().splitlines() == ["  b 50% (10s)", "  b 100% (20s)"]


BACKEND = '''
import os, pathlib, sys, time, zipfile

NAME, VERSION = "tiny_progress", "0.1"
META = f"Metadata-Version: 2.1\\nName: {NAME}\\nVersion: {VERSION}\\n"
WHEEL = "Wheel-Version: 1.0\\nGenerator: stand-in\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"

def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    info = pathlib.Path(metadata_directory, f"{NAME}-{VERSION}.dist-info")
    info.mkdir()
    (info / "METADATA").write_text(META)
    return info.name

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    # print, not a flush: a Python build backend's output sits in its buffer unless the
    # display runs it unbuffered, as scikit-build-core's own lines would
    print("*** Building project with Ninja...")
    for i in (1, 2):
        print(f"[{i}/4] Building CXX object step{i}.o")
    go = pathlib.Path(os.environ["PROGRESS_TEST_GO"])
    deadline = time.monotonic() + 60
    while not go.exists():  # the test answers once it has seen 50%: the build is still running
        if time.monotonic() > deadline:
            print("TIMED OUT: progress did not show while the build ran")
            break
        time.sleep(0.05)
    for i in (3, 4):
        print(f"[{i}/4] Linking CXX shared library step{i}.so")
    name = f"{NAME}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(pathlib.Path(wheel_directory, name), "w") as whl:
        whl.writestr(f"{NAME}-{VERSION}.dist-info/METADATA", META)
        whl.writestr(f"{NAME}-{VERSION}.dist-info/WHEEL", WHEEL)
        whl.writestr(f"{NAME}-{VERSION}.dist-info/RECORD", "")
    return name
'''


def test_a_real_pip_build_shows_progress_while_it_runs(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "backend.py").write_text(textwrap.dedent(BACKEND))
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
        '[project]\nname = "tiny_progress"\nversion = "0.1"\n'
    )
    go, log = tmp_path / "go", tmp_path / "build.log"
    env = {**os.environ, "PROGRESS_TEST_GO": str(go)}
    env.pop("PYTHONUNBUFFERED", None)  # the display must set it itself
    pip = [sys.executable, "-m", "pip", "install", "-v", "--disable-pip-version-check", "--no-build-isolation",
           "--no-index", "--no-deps", "--no-cache-dir", "--target", str(tmp_path / "target"), str(project)]  # fmt: skip
    lines: list[str] = []
    with subprocess.Popen(
        [sys.executable, str(SCRIPT), "--label", "t", "--log", str(log), "--", *pip],
        stdout=subprocess.PIPE, text=True, env=env,
    ) as proc:  # fmt: skip
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if "t 50%" in line:
                go.touch()
        assert proc.wait(timeout=120) == 0, log.read_text()[-2000:]
    text = log.read_text()
    assert "TIMED OUT" not in text, "the 50% line only arrived after the build ended"
    assert "  [1/4] Building CXX object step1.o" in text  # the log keeps pip's output as it was
    assert [line.split(" (")[0] for line in lines] == [
        "  t: Building project with Ninja...", "  t 20%", "  t 50%", "  t 70%", "  t 100%",
    ]  # fmt: skip
    assert go.exists()


def test_the_command_exit_code_is_returned_and_logged(tmp_path: Path) -> None:
    log = tmp_path / "log"
    code = "import sys; print('[1/1] x'); sys.exit(3)"
    res = subprocess.run([sys.executable, str(SCRIPT), "--log", str(log), "--", sys.executable, "-c", code],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert res.returncode == 3
    assert res.stdout.split(" (")[0] == "  build 100%" and log.read_text() == "[1/1] x\n"


def test_install_runs_the_build_through_the_display() -> None:
    install = (ROOT / ".ci" / "install").read_text()
    assert "python .ci/build_progress.py" in install and "-- python -m pip install -v" in install
