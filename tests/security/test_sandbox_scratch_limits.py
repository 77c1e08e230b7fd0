"""Resource class: filling the disk through the scratch folder. A worker may keep at most
``SandboxLimits.max_files`` entries and ``max_scratch_mb`` on disk there. The worker's guard
refuses the entry past the limit (a clear OSError the code can handle); with the guard switched
off, the parent's count after the call catches it, kills the worker and removes its folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_attacks import attack, attack_fails, needs_os_isolation, os_sandbox, still_works

import trace_opt as trace
from trace_opt.sandbox import Sandbox, SandboxLimits
from trace_opt.sandbox.process import remove_tree

pytestmark = needs_os_isolation

FLOOD = "for i in range(args[0]):\n    open(f'f{i}', 'w').close()\nreturn len(os.listdir('.'))"


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    yield from os_sandbox(max_files=20, max_scratch_mb=1)


@pytest.fixture()
def fresh() -> Iterator[Sandbox]:
    yield from os_sandbox(max_files=20, max_scratch_mb=1)


def leftovers(sb: Sandbox) -> list[str]:
    """Anything in the sandbox's scratch root beyond the empty folders of live workers."""
    root = Path(sb.scratch)
    return [str(p) for p in root.rglob("*") if p.parent != root or not p.is_dir()] if root.is_dir() else []


def test_the_guard_refuses_the_entry_past_the_limit_with_a_clear_error(sb: Sandbox) -> None:
    feedback = attack_fails(sb, "import os\n" + FLOOD, 50, bypass=False)
    assert "(OSError) [Errno 122] the sandbox's scratch folder holds at most 20 files and folders" in feedback
    assert "delete ones you no longer need" in feedback


def test_files_deleted_make_room_again(sb: Sandbox) -> None:
    body = "import os\nfor i in range(200):\n    open(f'tmp{i % 5}', 'w').close()\n    if i % 5 == 4:\n" \
           "        for j in range(5):\n            os.remove(f'tmp{j}')\nreturn sorted(os.listdir('.'))"  # fmt: skip
    assert attack(sb, body, bypass=False) == []


def test_folders_and_links_count_too(sb: Sandbox) -> None:
    body = "import os\nfor i in range(30):\n    os.mkdir(f'd{i}') if i % 2 else os.symlink('x', f'l{i}')"
    assert "holds at most 20 files and folders" in attack_fails(sb, body, bypass=False)


PAST_THE_LIMITS = {  # with the guard off: the parent's count after the call is what stops them
    "many-files": (FLOOD.replace("args[0]", "500"),
                   r"left more than 20 files and folders in its sandbox scratch folder \(SandboxLimits.max_files=20\)"),
    "big-file": ("open('big', 'wb').write(os.urandom(3 * 2**20))",
                 r"left 3 MB in its sandbox scratch folder \(SandboxLimits.max_scratch_mb=1\)"),
    # as root the folder stays readable and its files are counted; as nobody it cannot be read
    "unreadable-folder": ("os.mkdir('hide')\nfor i in range(30):\n    open(f'hide/f{i}', 'w').close()\nos.chmod('hide', 0)",
                          r"left more than 20 files|made a folder in its sandbox scratch folder that cannot be read"),
}  # fmt: skip


@pytest.mark.parametrize(("body", "message"), PAST_THE_LIMITS.values(), ids=PAST_THE_LIMITS.keys())
def test_past_a_limit_the_worker_and_its_folder_go(fresh: Sandbox, body: str, message: str) -> None:
    with pytest.raises(trace.ExecutionError, match=message):
        attack(fresh, "import os\n" + body)
    assert leftovers(fresh) == []  # the worker's folder went with it
    still_works(fresh)


def test_within_the_limits_files_stay_for_the_next_call(sb: Sandbox) -> None:
    body = "import os\nopen(f'n{len(os.listdir())}', 'w').close()\nreturn len(os.listdir())"
    assert [attack(sb, body, bypass=False) for _ in range(1)] == [1]


def test_process_isolation_counts_the_same_way() -> None:
    sb = Sandbox(SandboxLimits(timeout=5, workers=1, max_files=10), isolation="process")
    try:
        assert attack(sb, "import os\n" + FLOOD, 10) == 10
        with pytest.raises(trace.ExecutionError, match=r"SandboxLimits.max_files=10"):
            attack(sb, "import os\n" + FLOOD, 11)
    finally:
        sb.close()


@pytest.mark.parametrize(("field", "value"), [("max_files", 0), ("max_scratch_mb", 0)])
def test_limits_are_validated(field: str, value: int) -> None:
    with pytest.raises(ValueError, match=rf"Invalid {field}: 0"):
        SandboxLimits(**{field: value})


def test_remove_tree_never_follows_a_link(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    root = tmp_path / "scratch"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "f").write_text("x")
    (root / "link").symlink_to(outside)
    os.chmod(root / "a" / "b", 0)
    os.chmod(root / "a", 0)
    remove_tree(str(root))
    assert not root.exists() and (outside / "keep").read_text() == "x" and outside.stat().st_mode & 0o777 == 0o755
