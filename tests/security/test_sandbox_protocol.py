"""Escape class: the protocol. Forged, partial, oversized and extra reply frames must never
answer another call, hang the user's process past the timeout, or exhaust its memory."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sandbox_attacks import attack, attack_fails, needs_os_isolation, os_sandbox, still_works

import trace_opt as trace
from trace_opt.sandbox import Sandbox

pytestmark = needs_os_isolation


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    yield from os_sandbox(timeout=2, max_reply_mb=1)


# The protocol stream is a duplicate of the worker's stdout: find it among the open descriptors.
WRITE_TO_PROTOCOL = """
import json, struct, stat
def protocol_fds():
    for fd in range(3, 64):
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode) and fd != 0:
                yield fd
        except OSError:
            pass
"""


def test_a_forged_frame_for_a_later_call_is_never_an_answer(sb: Sandbox) -> None:
    body = WRITE_TO_PROTOCOL + """
body = json.dumps({'id': 12345, 'ok': 'forged'}).encode()
for fd in protocol_fds():
    try:
        os.write(fd, struct.pack('>I', len(body)) + body)
    except OSError:
        pass
return 'real'
"""
    feedback = attack_fails(sb, body)
    assert "protocol" in feedback
    still_works(sb)


def test_a_thread_forging_frames_later_cannot_answer_other_functions(sb: Sandbox) -> None:
    body = WRITE_TO_PROTOCOL + """
import threading
def forge():
    import time
    time.sleep(0.2)
    for i in range(50):
        body = json.dumps({'id': i, 'ok': 'forged'}).encode()
        for fd in protocol_fds():
            try:
                os.write(fd, struct.pack('>I', len(body)) + body)
            except OSError:
                pass
threading.Thread(target=forge).start()
return 'first'
"""
    assert attack(sb, body) == "first"
    time.sleep(0.5)
    for _ in range(3):
        still_works(sb)  # other code runs in other workers: never sees the forged frames


def test_a_partial_frame_cannot_hang_the_caller_past_the_timeout(sb: Sandbox) -> None:
    body = WRITE_TO_PROTOCOL + """
if args[0] == 'warm-up':
    return 'warm'
for fd in protocol_fds():
    try:
        os.write(fd, struct.pack('>I', 100) + b'{"id":')
    except OSError:
        pass
import time
time.sleep(60)
"""
    assert attack(sb, body, "warm-up") == "warm"  # the same code's worker is warm: time the exchange alone
    start = time.monotonic()
    with pytest.raises(trace.ExecutionError, match="timed out after 2 s"):
        attack(sb, body, "go")
    assert time.monotonic() - start < 2 + 1.5
    still_works(sb)


def test_a_1_gib_frame_header_is_refused_at_once(sb: Sandbox) -> None:
    body = WRITE_TO_PROTOCOL + """
if args[0] == 'warm-up':
    return 'warm'
for fd in protocol_fds():
    try:
        os.write(fd, struct.pack('>I', 2**30) + b'x' * 65536)
    except OSError:
        pass
import time
time.sleep(60)
"""
    assert attack(sb, body, "warm-up") == "warm"
    start = time.monotonic()
    with pytest.raises(trace.ExecutionError, match="reply frame of 1073741824 bytes"):
        attack(sb, body, "go")
    assert time.monotonic() - start < 1.5  # not the 2 s timeout: refused on the header
    still_works(sb)


def test_an_oversized_result_is_an_error_not_a_huge_read(sb: Sandbox) -> None:
    feedback = attack_fails(sb, "return 'x' * (2 * 2**20)")
    assert "capped at 1048576 bytes" in feedback


@pytest.mark.parametrize("kind", ["os", "process"])
def test_closing_its_own_stderr_and_stdout_does_not_make_the_caller_spin(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import select

    from trace_opt.sandbox import process

    waits = []
    real = select.select

    def counting(*a: object) -> object:
        waits.append(1)
        return real(*a)  # type: ignore[arg-type]

    gen = os_sandbox(isolation=kind, workers=1)
    sb = next(gen)
    still_works(sb)
    monkeypatch.setattr(process.select, "select", counting)
    assert attack(sb, "os.close(1)\nos.close(2)\nimport time\ntime.sleep(1)\nreturn 'done'") == "done"
    assert len(waits) < 50  # a handful of waits, not a busy loop on a closed pipe while it slept
    still_works(sb)
    sb.close()
