"""The report's templates ship with the package: importlib.resources finds them, and the wheel
``pip`` builds holds every one (setup.cfg ``package_data``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path

import pytest

from trace_opt.report import templating
from trace_opt.report.templating import TEMPLATES, environment

ROOT = Path(__file__).resolve().parents[2]


def test_every_template_is_a_package_resource_and_listed() -> None:
    folder = resources.files("trace_opt.report") / "templates"
    shipped = sorted(p.name for p in folder.iterdir() if p.is_file())
    assert shipped == sorted(TEMPLATES)
    for name in TEMPLATES:
        assert (folder / name).read_text(encoding="utf-8").strip(), name


def test_every_template_compiles_in_the_one_environment() -> None:
    env = environment()
    assert environment() is env  # built once per process
    assert env.autoescape is True and env.undefined.__name__ == "StrictUndefined"
    for name in TEMPLATES:
        env.get_template(name)  # a syntax error raises here


def test_a_missing_field_is_an_error_not_an_empty_cell() -> None:
    import jinja2

    with pytest.raises(jinja2.UndefinedError, match="'first' is undefined"):
        templating.render("page.html.j2", title="t")


def test_jinja2_loads_on_the_first_render_not_on_import() -> None:
    code = ("import sys, trace_opt.report as r\nassert 'jinja2' not in sys.modules, 'loaded on import'\n"
            "r.render_report(r.ReportData('t', []))\nprint('jinja2' in sys.modules)")  # fmt: skip
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert res.returncode == 0 and res.stdout.strip() == "True", res.stderr[-2000:]


def _sources(tmp_path: Path) -> Path:
    """A copy of the package sources as committed, plus the templates (committed or not)."""
    tracked = subprocess.run(["git", "ls-files", "-z"], capture_output=True, cwd=ROOT, check=True).stdout.decode()
    src = tmp_path / "src"
    for rel in filter(None, tracked.split("\0")):
        if (ROOT / rel).is_file() and rel.split("/")[0] in ("trace_opt", "optimizers", "setup.cfg", "pyproject.toml", "README.md"):
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, src / rel)
    (src / "trace_opt/report/templates").mkdir(parents=True, exist_ok=True)
    for name in TEMPLATES:
        shutil.copy2(ROOT / "trace_opt/report/templates" / name, src / "trace_opt/report/templates" / name)
    return src


def _missing(names: set[str]) -> list[str]:
    return [n for n in TEMPLATES if f"trace_opt/report/templates/{n}" not in names]


@pytest.mark.slow
def test_setuptools_collects_the_templates(tmp_path: Path) -> None:
    """``build_py`` is the step of every wheel build that copies packages and their
    package_data; run it with the installed setuptools (no network, no wheel package)."""
    src = _sources(tmp_path)
    out = tmp_path / "lib"
    res = subprocess.run([sys.executable, "-c", "import setuptools; setuptools.setup()", "-q", "build_py", "-d", str(out)],
                         capture_output=True, text=True, timeout=300, cwd=src)  # fmt: skip
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert "trace_opt/report/page.py" in names
    assert not _missing(names), f"setuptools leaves out {_missing(names)}: add them to setup.cfg [options.package_data]"


@pytest.mark.slow
def test_the_wheel_holds_the_templates(tmp_path: Path) -> None:
    """``pip wheel . --no-deps`` (setuptools and wheel from this environment: no network)."""
    pytest.importorskip("wheel", reason="pip wheel without build isolation needs the `wheel` package")
    src = _sources(tmp_path)
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "--no-index",
                          "-w", str(tmp_path / "dist")], capture_output=True, text=True, timeout=600, cwd=src)  # fmt: skip
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    missing = _missing(set(zipfile.ZipFile(wheel).namelist()))
    assert not missing, f"the wheel lacks {missing}: add them to setup.cfg [options.package_data]"
