"""Escape class: secrets. Rewritten code tries the user's environment, /proc/<parent>/environ
and mem, ~/.netrc, .env files and the module globals of the user's code; none is there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_attacks import SENTINEL, attack, needs_os_isolation, os_sandbox

import trace_opt as trace
from trace_opt.sandbox import Sandbox, use_sandbox

pytestmark = needs_os_isolation

_MODULE_SECRET = SENTINEL  # a module global the trainable functions below never refer to


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    yield from os_sandbox()


CREDENTIAL_VARS = {
    "OPENAI_API_KEY": SENTINEL,
    "DATABASE_URL": f"postgres://admin:{SENTINEL}@db.internal/app",
    "HTTPS_PROXY": f"http://user:{SENTINEL}@proxy:3128",
    "OPENAI_API_BASE": f"https://user:{SENTINEL}@llm.internal/v1",
    "SOME_INNOCENT_NAME": SENTINEL,  # no keyword to scrub by: only an allow-list keeps it out
}


def test_the_environment_is_an_allow_list(sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CREDENTIAL_VARS.items():
        monkeypatch.setenv(name, value)
    fresh = Sandbox(sb.limits, isolation="os")  # workers started after the variables were set
    try:
        env = attack(fresh, "return dict(os.environ)")
        assert sorted(env) == ["HOME", "LANG", "PATH", "PWD", "PYTHONIOENCODING", "TMPDIR"]
        assert SENTINEL not in json.dumps(env)
    finally:
        fresh.close()


PROC_HUNT = """
found = {}
for pid in os.listdir('/proc'):
    if not pid.isdigit():
        continue
    for name in ('environ', 'cmdline'):
        try:
            found[f'{pid}/{name}'] = open(f'/proc/{pid}/{name}', 'rb').read().decode(errors='replace')
        except OSError as e:
            found[f'{pid}/{name}'] = repr(e)
for pid in {os.getppid(), *args}:
    try:
        found[f'{pid}/environ-direct'] = open(f'/proc/{pid}/environ', 'rb').read().decode(errors='replace')
    except OSError as e:
        found[f'{pid}/environ-direct'] = repr(e)
    try:
        with open(f'/proc/{pid}/maps') as maps, open(f'/proc/{pid}/mem', 'rb') as mem:
            for line in maps:
                lo, hi = (int(x, 16) for x in line.split()[0].split('-'))
                if 'rw' in line.split()[1] and hi - lo < 2**26:
                    try:
                        mem.seek(lo)
                        chunk = mem.read(hi - lo)
                    except OSError:
                        continue
                    at = chunk.find(b'sk-sentinel')
                    if at >= 0:
                        found[f'{pid}/mem'] = chunk[at:at + 40].decode(errors='replace')
    except OSError as e:
        found[f'{pid}/mem'] = repr(e)
return found
"""


def test_the_parents_proc_environ_and_mem_are_out_of_reach(tmp_path: Path) -> None:
    """The sentinel sits in a real parent's initial environment (so in /proc/<pid>/environ
    and in its memory); the parent runs a rewritten function that hunts for it."""
    driver = tmp_path / "driver.py"
    driver.write_text(textwrap.dedent(f"""
        import json, os, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from sandbox_attacks import attack, os_sandbox
        with open('/proc/self/environ', 'rb') as f:
            target_is_real = {SENTINEL!r}.encode() in f.read()
        sb = next(os_sandbox())
        body = {PROC_HUNT!r}
        print(json.dumps([target_is_real, attack(sb, body, os.getpid())]))
        sb.close()
    """))
    env = {**os.environ, "OPENAI_API_KEY": SENTINEL}
    proc = subprocess.run([sys.executable, str(driver)], capture_output=True, env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    target_is_real, found = json.loads(proc.stdout)
    assert target_is_real  # the sentinel is in the parent's /proc/<pid>/environ
    assert found  # the hunt ran and saw its own namespace
    assert SENTINEL not in proc.stdout.decode()


def test_dot_env_and_netrc_of_the_user_are_not_readable(sb: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    project = tmp_path / "project"
    home.mkdir()
    project.mkdir()
    (home / ".netrc").write_text(f"machine api.openai.com login me password {SENTINEL}\n")
    (project / ".env").write_text(f"OPENAI_API_KEY={SENTINEL}\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(project)
    body = """
    out = []
    for path in [*args, '.env', os.path.expanduser('~/.netrc'), '../.env']:
        try:
            out.append(open(path).read())
        except OSError as e:
            out.append(type(e).__name__)
    import netrc
    try:
        out.append(str(netrc.netrc().hosts))
    except (OSError, netrc.NetrcParseError) as e:
        out.append(type(e).__name__)
    return out
    """
    found = attack(sb, body, str(home / ".netrc"), str(project / ".env"))
    assert SENTINEL not in json.dumps(found)
    assert found[:2] == ["FileNotFoundError", "FileNotFoundError"]


def _helper_using_nothing_secret(x):
    return x * 2


def test_module_globals_of_the_users_code_do_not_cross(sb: Sandbox) -> None:
    @trace.bundle(trainable=True)
    def compute(x):
        return _helper_using_nothing_secret(x)

    attempts = [
        "def compute(x):\n    return _MODULE_SECRET\n",
        "def compute(x):\n    return str(globals())\n",
        "def compute(x):\n    return str(_helper_using_nothing_secret.__globals__)\n",
        "def compute(x):\n    import sys\n    return str([vars(m) for m in list(sys.modules.values())])\n",
        "def compute(x):\n    import gc\n    return str([o for o in gc.get_objects() if isinstance(o, str) and 'sk-sent' in o])\n",
    ]
    with use_sandbox(sb):
        for code in attempts:
            compute.parameter._set(code)
            try:
                text = str(compute(3).data)
            except trace.ExecutionError as exc:
                text = str(exc.exception_node.data)
            assert SENTINEL not in text, code
        # what the original refers to does cross, as data or source
        compute.parameter._set("def compute(x):\n    return _helper_using_nothing_secret(x) + 1\n")
        assert compute(3).data == 7
