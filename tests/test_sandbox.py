"""Code an optimizer wrote runs in the sandbox: limits hold and failures become feedback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import trace_opt as trace
from trace_opt.errors import SandboxError
from trace_opt.sandbox import Sandbox, SandboxLimits, use_sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    sb = Sandbox(SandboxLimits(timeout=1.5, memory_mb=128, workers=2))
    yield sb
    sb.close()


@pytest.fixture()
def active(sandbox: Sandbox) -> Iterator[Sandbox]:
    with use_sandbox(sandbox):
        yield sandbox


def call(sb: Sandbox, body: str, *args: object) -> object:
    return sb.call(f"def f(*args):\n{body}\n", "f", args)


def test_plain_data_round_trips(sandbox: Sandbox) -> None:
    value = {"a": (1, 2.5, None), 3: {b"x", "y"}, "nested": [[True]], "inf": float("inf")}
    assert call(sandbox, "    return args[0]", value) == value


def test_errors_keep_their_type_and_point_at_the_code(sandbox: Sandbox) -> None:
    with pytest.raises(ZeroDivisionError, match="division by zero") as info:
        call(sandbox, "    return 1 / 0")
    assert "<sandboxed f>" in str(info.value)


def test_endless_loop_times_out_and_the_pool_recovers(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxError, match="timed out after 1.5 s"):
        call(sandbox, "    while True:\n        pass")
    assert call(sandbox, "    return 'alive'") == "alive"


def test_memory_blowup_is_stopped(sandbox: Sandbox) -> None:
    with pytest.raises((MemoryError, SandboxError)):
        call(sandbox, "    return len(bytearray(2 * 1024**3))")
    assert call(sandbox, "    return 1") == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("    import socket\n    socket.create_connection(('127.0.0.1', 9))", "network access is not allowed"),
        ("    import urllib.request\n    urllib.request.urlopen('http://127.0.0.1:9')", "network access is not allowed"),
        ("    import socket\n    socket.socket(socket.AF_UNIX).connect('/tmp/x.sock')", "network access is not allowed|Operation not permitted"),
        ("    import subprocess\n    subprocess.run(['true'])", "starting processes is not allowed"),
        ("    import os\n    os.system('true')", "starting processes is not allowed"),
        ("    open('/tmp/trace_opt_sandbox_escape.txt', 'w')", "writing outside the sandbox's scratch folder"),
        ("    import os\n    os.remove('/etc/hostname')", "outside the sandbox's scratch folder"),
        ("    import ctypes\n    ctypes.CDLL(None)", "ctypes is not allowed"),
    ],
)
def test_forbidden_operations_are_refused(sandbox: Sandbox, body: str, message: str) -> None:
    with pytest.raises(Exception, match=message):
        call(sandbox, body)
    assert not Path("/tmp/trace_opt_sandbox_escape.txt").exists()


def test_scratch_folder_is_writable(sandbox: Sandbox) -> None:
    assert call(sandbox, "    open('notes.txt', 'w').write('hi')\n    return open('notes.txt').read()") == "hi"


def test_secrets_are_not_in_the_workers_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    sb = Sandbox(SandboxLimits(timeout=5, workers=1))
    try:
        leaked = call(sb, "    import os\n    return [k for k, v in os.environ.items() if 'sk-test-secret' in v]")
    finally:
        sb.close()
    assert leaked == []


def test_unsendable_arguments_and_results_are_clear_errors(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxError, match="argument of type object cannot be sent"):
        call(sandbox, "    return 1", object())
    with pytest.raises(TypeError, match="cannot leave the sandbox"):
        call(sandbox, "    return object()")


def test_rewritten_code_runs_sandboxed_and_failures_are_feedback(active: Sandbox) -> None:
    @trace.bundle(trainable=True)
    def pid_of(x):
        return os.getpid()

    assert pid_of(1).data == os.getpid()  # the user's own code runs in process
    before = active.calls
    pid_of.parameter._set("def pid_of(x):\n    import os\n    return os.getpid()\n")
    assert pid_of(1).data != os.getpid()
    assert active.calls == before + 1
    pid_of.parameter._set("def pid_of(x):\n    while True:\n        pass\n")
    with pytest.raises(trace.ExecutionError) as info:
        pid_of(1)
    assert "timed out after 1.5 s" in info.value.exception_node.data
    assert info.value.exception_node.parents[-1] is pid_of.parameter
    pid_of.parameter._set("def pid_of(x):\n    return x + 1\n")
    assert pid_of(1).data == 2  # the loop goes on


def test_top_level_code_of_a_rewrite_never_runs_in_process(active: Sandbox, tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"

    @trace.bundle(trainable=True)
    def f(x):
        return x

    f.parameter._set(f"open({str(marker)!r}, 'w').write('x')\ndef f(x):\n    return x\n")
    f.parameter.validate(f.parameter.data)  # validating runs nothing either
    with pytest.raises(trace.ExecutionError, match="writing outside"):
        f(1)
    assert not marker.exists()


def test_sandbox_false_runs_rewrites_in_process() -> None:
    @trace.bundle(trainable=True, sandbox=False)
    def pid_of(x):
        return 0

    pid_of.parameter._set("def pid_of(x):\n    import os\n    return os.getpid()\n")
    assert pid_of(1).data == os.getpid()


def test_restoring_the_original_source_runs_in_process_again(active: Sandbox) -> None:
    @trace.bundle(trainable=True)
    def f(x):
        return os.getpid()

    original = f.parameter.data
    f.parameter._set("def f(x):\n    import os\n    return os.getpid()\n")
    assert f(0).data != os.getpid()
    f.parameter._set(original)
    assert f(0).data == os.getpid()


def test_sandboxed_methods_get_a_stand_in_for_self(active: Sandbox) -> None:
    class Agent:
        secret = "kept outside"

        @trace.bundle(trainable=True)
        def act(self, x):
            return x

    a = Agent()
    a.act.parameter._set("def act(self, x):\n    return x * 2\n")
    assert a.act(21).data == 42
    a.act.parameter._set("def act(self, x):\n    return self.secret\n")
    with pytest.raises(trace.ExecutionError, match="not available to sandboxed code"):
        a.act(1)


def test_invalid_limits_are_value_errors() -> None:
    with pytest.raises(ValueError, match="Invalid timeout"):
        SandboxLimits(timeout=0)
    with pytest.raises(ValueError, match="Invalid memory_mb"):
        SandboxLimits(memory_mb=1)


SCALE = [2]


def test_globals_the_original_uses_are_current_on_every_call_in_the_same_worker(active: Sandbox) -> None:
    @trace.bundle(trainable=True)
    def scaled(x):
        return x * SCALE[0]

    scaled.parameter._set("def scaled(x):\n    return [x * SCALE[0], 'SCALE' in globals()]\n")
    assert scaled(3).data == [6, True]
    started = active.started
    SCALE[0] = 5
    try:
        assert scaled(3).data == [15, True]
    finally:
        SCALE[0] = 2
    assert active.started == started  # same function, same warm worker


def test_only_globals_the_original_refers_to_cross(active: Sandbox) -> None:
    @trace.bundle(trainable=True)
    def f(x):
        return x

    f.parameter._set("def f(x):\n    return SCALE\n")
    with pytest.raises(trace.ExecutionError, match="name 'SCALE' is not defined"):
        f(1)


def test_the_worker_limits_itself_before_running_code(active: Sandbox) -> None:
    body = (
        "    import resource\n"
        "    names = ['RLIMIT_AS', 'RLIMIT_CPU', 'RLIMIT_FSIZE', 'RLIMIT_NOFILE', 'RLIMIT_CORE']\n"
        "    return {n: resource.getrlimit(getattr(resource, n))[1] for n in names}"
    )
    limits = call(active, body)
    assert all(v != -1 for v in limits.values())  # every one finite
    assert limits["RLIMIT_FSIZE"] == 64 * 2**20 and limits["RLIMIT_NOFILE"] == 256 and limits["RLIMIT_CORE"] == 0


def test_threads_and_coroutines_still_work(active: Sandbox) -> None:
    body = (
        "    import threading, asyncio\n"
        "    out = []\n"
        "    t = threading.Thread(target=out.append, args=(1,))\n"
        "    t.start(); t.join()\n"
        "    async def two():\n"
        "        return 2\n"
        "    return out + [asyncio.get_event_loop().run_until_complete(two())]"
    )
    assert call(active, body) == [1, 2]


def _inner_helper(x):
    return x + SCALE[0]


@trace.bundle()
def _bundled_helper(x):
    return _inner_helper(x) * 10


def test_the_users_helpers_cross_as_source_with_their_own_globals(active: Sandbox) -> None:
    @trace.bundle(trainable=True)
    def uses_helpers(x):
        return _bundled_helper(x)

    uses_helpers.parameter._set("def uses_helpers(x):\n    return [_bundled_helper(x), _bundled_helper.__module__]\n")
    assert uses_helpers(1).data == [30, "sandboxed"]  # compiled in the worker, not imported from here


def test_docstring_examples_run() -> None:
    import doctest

    import trace_opt.sandbox as module

    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_rewritten_async_functions_run_sandboxed(active: Sandbox) -> None:
    import asyncio

    @trace.bundle(trainable=True)
    async def fetch(x):
        return x

    fetch.parameter._set("async def fetch(x):\n    import asyncio, os\n    await asyncio.sleep(0)\n    return [x + 1, os.getpid()]\n")

    async def both() -> list[object]:
        return [(await fetch(1)).data, (await fetch(2)).data]

    (one, pid), (two, _) = asyncio.run(both())
    assert (one, two) == (2, 3) and pid != os.getpid()


def test_a_worker_started_from_a_short_lived_thread_survives_it(active: Sandbox) -> None:
    import threading

    source = "def f(x):\n    import os\n    return os.getpid()\n"
    out: list[object] = []
    t = threading.Thread(target=lambda: out.append(active.call(source, "f", (1,))))
    t.start()
    t.join()
    import time

    time.sleep(0.5)  # the OS thread is gone some time after join() returns
    started = active.started
    assert active.call(source, "f", (1,)) == out[0]  # the same worker, still alive
    assert active.started == started
