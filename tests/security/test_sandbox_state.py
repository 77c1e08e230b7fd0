"""Escape class: later calls. Poisoned builtins and worker state, a module planted in scratch
to shadow a later import, and terminal escape codes sent to the user's terminal."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from sandbox_attacks import attack, needs_os_isolation, os_sandbox, still_works

import trace_opt as trace
from trace_opt.sandbox import Sandbox, use_sandbox

pytestmark = needs_os_isolation


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    yield from os_sandbox(workers=1)  # one worker: the same slot serves every function in turn


POISON = """
import builtins, json, sys
_len = builtins.len
builtins.len = lambda obj: 999 if isinstance(obj, str) else _len(obj)
builtins.__import__ = lambda *a, **k: json
sys.modules['json'] = type(sys)('json')
sys.modules['json'].dumps = lambda obj: 'poisoned'
open('math.py', 'w').write('pi = 3\\n')
open('json.py', 'w').write('def dumps(obj):\\n    return \"planted\"\\n')
sys.path.insert(0, '/scratch')
sys.path.insert(0, '.')
return 'poisoned'
"""


def test_poisoned_builtins_and_modules_do_not_reach_another_function(sb: Sandbox) -> None:
    assert attack(sb, POISON) == "poisoned"
    still_works(sb)  # len, json.dumps and __import__ are the real ones again

    @trace.bundle(trainable=True)
    def area(r):
        return r

    area.parameter._set("def area(r):\n    import math\n    return round(math.pi * r * r, 2)\n")
    with use_sandbox(sb):
        assert area(1).data == 3.14  # not the planted math.py


def test_the_same_functions_later_calls_keep_its_own_state_only(sb: Sandbox) -> None:
    """A worker is bound to one function's code: its own globals persist between its calls
    (like a module's), nothing else's does."""

    @trace.bundle(trainable=True)
    def counter(x):
        return x

    counter.parameter._set("def counter(x):\n    import builtins\n    builtins.hits = getattr(builtins, 'hits', 0) + 1\n    return builtins.hits\n")
    with use_sandbox(sb):
        assert [counter(0).data for _ in range(3)] == [1, 2, 3]
        still_works(sb)
        assert counter(0).data == 1  # its worker was replaced for the other function: fresh state


ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[31m"


def test_terminal_escape_codes_never_reach_the_users_terminal(
    sb: Sandbox, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    body = f"""
    import sys
    print({ESCAPES!r})
    sys.stderr.write({ESCAPES!r}); sys.stderr.flush()
    os.write(2, {ESCAPES!r}.encode())
    try:
        open('/dev/tty', 'w').write({ESCAPES!r})
    except OSError:
        pass
    import fcntl, termios
    for fd in (0, 1, 2):
        for ch in b'rm -rf ~\\n':
            try:
                fcntl.ioctl(fd, termios.TIOCSTI, bytes([ch]))
            except OSError:
                pass
    raise ValueError({ESCAPES!r})
    """
    with caplog.at_level(logging.INFO, logger="trace_opt.sandbox"):
        with pytest.raises(trace.ExecutionError) as info:
            attack(sb, body)
        still_works(sb)
    out, err = capfd.readouterr()
    assert "\x1b" not in out + err
    assert "\x1b" not in str(info.value)
    assert "\\x1b]0;pwned" in str(info.value)  # shown, made harmless
    logged = "".join(r.getMessage() for r in caplog.records if r.name == "trace_opt.sandbox")
    assert "\\x1b[2J" in logged and "\x1b" not in logged
