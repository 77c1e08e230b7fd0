"""Where OS isolation is unavailable, optimizer-written code does not run unless the user opts
in; what the opt-in ("process") still enforces is tested here too."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_attacks import attack, attack_fails, os_sandbox, still_works

import trace_opt as trace
from trace_opt.errors import BundleError, SandboxUnavailable
from trace_opt.sandbox import Sandbox, get_sandbox, isolation, use_sandbox


@pytest.fixture()
def no_bwrap(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))


def test_rewritten_code_does_not_run_without_isolation(no_bwrap: None) -> None:
    @trace.bundle(trainable=True)
    def f(x):
        return x

    assert f(1).data == 1  # the user's own code still runs, in process
    f.parameter._set("def f(x):\n    return x + 1\n")
    sb = Sandbox(isolation="os")
    with use_sandbox(sb), pytest.raises(SandboxUnavailable) as info:
        f(1)  # not an ExecutionError: this is not feedback for the optimizer
    message = str(info.value)
    assert "bubblewrap" in message and "sandbox='process'" in message and "TRACE_OPT_SANDBOX=process" in message
    assert message.count("\n") == 1  # one line, then the help line


def test_user_namespaces_refused_is_reported_the_same_way(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "bin" / "bwrap"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to creating new namespace' >&2\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")
    isolation._bwrap_prefix.cache_clear()
    try:
        with pytest.raises(SandboxUnavailable, match="No permissions to creating new namespace"):
            Sandbox(isolation="os").call("def f():\n    return 1\n", "f")
    finally:
        isolation._bwrap_prefix.cache_clear()


def test_opting_in_runs_it_in_a_plain_worker_process(no_bwrap: None, monkeypatch: pytest.MonkeyPatch) -> None:
    @trace.bundle(trainable=True, sandbox="process")
    def f(x):
        return x

    f.parameter._set("def f(x):\n    return x + 1\n")
    assert f(1).data == 2
    monkeypatch.setenv("TRACE_OPT_SANDBOX", "process")
    assert get_sandbox().isolation == "process"

    @trace.bundle(trainable=True, sandbox="none")
    def g(x):
        return x

    g.parameter._set("def g(x):\n    import os\n    return os.getpid()\n")
    assert g(1).data == __import__("os").getpid()  # "none": trusted, in process


def test_invalid_choices_are_clear_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(BundleError, match="Invalid sandbox: 'docker'"):
        trace.bundle(trainable=True, sandbox="docker")(lambda x: x)
    monkeypatch.setenv("TRACE_OPT_SANDBOX", "chroot")
    with pytest.raises(ValueError, match=r"Invalid \$TRACE_OPT_SANDBOX: 'chroot'"):
        Sandbox()


@pytest.fixture(scope="module")
def process_sb() -> Iterator[Sandbox]:
    yield from os_sandbox(isolation="process")


@pytest.mark.skipif(isolation.seccomp_program() is None, reason="libseccomp is not installed")
@pytest.mark.parametrize(
    "body",
    ["return os.fork()", "import subprocess\nreturn subprocess.run(['true'])", "import socket\nreturn socket.socket()",
     "os.mknod('dev', 0o20666, os.makedev(1, 3))", "return [libc.ptrace(16, os.getppid(), 0, 0), ctypes.get_errno()]"],
    ids=["fork", "subprocess", "socket", "mknod", "ptrace-attach"],
)  # fmt: skip
def test_process_opt_in_still_refuses_processes_sockets_and_ptrace(process_sb: Sandbox, body: str) -> None:
    if "ptrace" in body:
        assert attack(process_sb, body) == [-1, 1]  # EPERM from seccomp
        still_works(process_sb)
    else:
        attack_fails(process_sb, body)


def test_process_opt_in_gets_the_environment_allow_list_too(process_sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-sentinel-in-env")
    fresh = Sandbox(process_sb.limits, isolation="process")
    try:
        assert "sk-sentinel" not in json.dumps(attack(fresh, "return dict(os.environ)"))
    finally:
        fresh.close()


@pytest.mark.skipif(__import__("os").geteuid() == 0, reason="root reads any process's /proc files; runs as nobody in CI")
def test_process_opt_in_cannot_read_the_parents_proc_files_as_an_ordinary_user(process_sb: Sandbox) -> None:
    body = """
    out = []
    for name in ('environ', 'mem', 'cmdline'):
        try:
            with open(f'/proc/{os.getppid()}/{name}', 'rb') as f:
                out.append(len(f.read(64)) > 0 and name != 'cmdline' and name)
        except OSError as e:
            out.append(type(e).__name__)
    return out
    """
    # environ and mem are closed to the worker because the user's process is non-dumpable
    assert attack(process_sb, body) == ["PermissionError", "PermissionError", False]
