"""Escape class: writes outside the scratch folder, by every route the audit hook missed
(descriptor-relative calls, sqlite, fifos, xattrs, device nodes, native code). With the hook
switched off, the read-only mounts must stop them; the user's files stay as they were."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_attacks import attack, attack_fails, needs_os_isolation, os_sandbox

from trace_opt.sandbox import Sandbox

pytestmark = needs_os_isolation


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    yield from os_sandbox()


@pytest.fixture()
def victim(tmp_path: Path) -> Path:
    """A folder of the user's, outside the scratch folder, with one private file."""
    folder = tmp_path / "user"
    folder.mkdir()
    (folder / "data.txt").write_text("original")
    (folder / "data.txt").chmod(0o600)
    return folder


ATTACKS = {
    "open-write": "open(args[0] + '/pwned', 'w').write('x')",
    "open-dir_fd": "d = os.open(args[0], os.O_RDONLY)\nos.close(os.open('pwned', os.O_CREAT | os.O_WRONLY, dir_fd=d))",
    "rename-dst_dir_fd": "open('x', 'w').write('x')\nd = os.open(args[0], os.O_RDONLY)\nos.rename('x', 'pwned', dst_dir_fd=d)",
    "sqlite": "import sqlite3\nsqlite3.connect(args[0] + '/pwned').execute('create table t(x)')",
    "mkfifo": "os.mkfifo(args[0] + '/pwned')",
    "chmod-via-fd": "fd = os.open(args[0] + '/data.txt', os.O_RDONLY)\nos.chmod(fd, 0o777)",
    "setxattr": "os.setxattr(args[0] + '/data.txt', 'user.pwned', b'1')",
    "mknod-device": "os.mknod('dev', stat.S_IFCHR | 0o666, os.makedev(1, 3))\nos.mknod(args[0] + '/pwned', stat.S_IFCHR | 0o666, os.makedev(1, 3))",
    "truncate": "os.truncate(args[0] + '/data.txt', 0)",
    "symlink-in-scratch": "os.symlink(args[0] + '/data.txt', 'link')\nopen('link', 'w').write('x')",
    "no-other-writable-place": "for p in ('/dev/shm/x', '/tmp/x', '/x', '/usr/x', '/proc/x', '/run/x'):\n"
    "    try:\n        open(p, 'w').write('x')\n        raise AssertionError(f'wrote {p}')\n    except OSError:\n        pass\n"
    "open(args[0] + '/pwned', 'w')",
    "native-open": "fd = libc.open((args[0] + '/pwned').encode(), 0o101, 0o644)\nif fd < 0:\n    raise PermissionError(ctypes.get_errno(), 'native open refused')",
}


@pytest.mark.parametrize("body", ATTACKS.values(), ids=ATTACKS.keys())
def test_nothing_outside_scratch_changes(sb: Sandbox, victim: Path, body: str) -> None:
    before = {p.name: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode)) for p in victim.iterdir()}
    feedback = attack_fails(sb, "import stat\n" + body, str(victim))
    assert "AssertionError" not in feedback  # failed where the OS refused, not at a check of the attack's
    after = {p.name: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode)) for p in victim.iterdir()}
    assert after == before
    assert os.listxattr(victim / "data.txt") == []


def test_the_users_home_and_working_folder_are_not_even_visible(sb: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    seen = attack(sb, "return [os.path.exists(p) for p in args] + [os.path.expanduser('~')]", str(home), str(tmp_path), os.getcwd())
    assert seen == [False, False, False, "/scratch"]
    attack_fails(sb, "open(args[0] + '/pwned', 'w')", str(home))
    assert list(home.iterdir()) == []


def test_a_native_library_written_to_scratch_gains_nothing(sb: Sandbox, victim: Path, tmp_path: Path) -> None:
    """The issue's route around the hook: build a .so in scratch and load it. Loading works
    (native code is not the boundary); its write outside scratch does not."""
    import shutil
    import subprocess

    if shutil.which("cc") is None:
        pytest.skip("no C compiler to build the library")
    c = tmp_path / "evil.c"
    c.write_text('#include <fcntl.h>\nint pwn(const char *p) { return open(p, O_CREAT | O_WRONLY, 0644); }\n')
    so = tmp_path / "evil.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(so), str(c)], check=True)
    body = """
    open('evil.so', 'wb').write(bytes.fromhex(args[1]))
    lib = ctypes.CDLL('/scratch/evil.so')
    fd = lib.pwn((args[0] + '/pwned').encode())
    if fd < 0:
        raise PermissionError('the library could not write outside scratch')
    """
    feedback = attack_fails(sb, body, str(victim), so.read_bytes().hex())
    assert "could not write outside scratch" in feedback
    assert not (victim / "pwned").exists()


def test_large_files_in_scratch_are_capped(sb: Sandbox) -> None:
    feedback = attack_fails(sb, "f = open('big', 'wb')\nfor _ in range(80):\n    f.write(b'x' * 2**20)\nf.flush()")
    assert "File too large" in feedback
