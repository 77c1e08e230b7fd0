"""Store: commit/get, dedup, refs, files, threads and several processes writing at once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path

import pytest

from trace_opt.errors import StoreError
from trace_opt.store import Ref, Store, active_store, use_store

ROOT = Path(__file__).resolve().parents[2]


def test_commit_and_get() -> None:
    store = Store()
    ref = store.commit({"prompt": "hi", "shots": [(1, "a")]})
    assert isinstance(ref, Ref) and len(ref.digest) == 64
    assert ref.checkout() == {"prompt": "hi", "shots": [(1, "a")]}
    assert store.get(ref.digest) == store.get(ref) == store.get(ref.short)


def test_same_content_is_stored_once() -> None:
    store = Store()
    a = store.commit({"a": 1, "b": 2})
    b = store.commit({"b": 2, "a": 1})
    assert a == b and len(store) == 1
    store.commit({"a": 1, "b": 3})
    assert len(store) == 2


def test_unknown_and_bad_refs() -> None:
    store = Store()
    with pytest.raises(StoreError, match="no object"):
        store.get("0" * 64)
    with pytest.raises(StoreError, match="not a digest"):
        store.get("not-hex!")
    with pytest.raises(StoreError, match="too short"):
        store.get("ab")
    assert "0" * 64 not in store and 42 not in store


def test_ambiguous_prefix() -> None:
    store = Store()
    seen: dict[str, str] = {}
    for i in range(5000):  # digests are deterministic: the same pair collides every time
        key = store.commit(i).digest
        if key[:4] in seen:
            break
        seen[key[:4]] = key
    with pytest.raises(StoreError, match="more than one"):
        store.resolve(key[:4])
    assert store.resolve(key[:12]) == key


def test_named_refs() -> None:
    store = Store()
    a = store.commit("v1")
    store.set_ref("prompts/main", a)
    assert store.ref("prompts/main") == a and store.ref("nope") is None
    b = store.commit("v2")
    store.set_ref("prompts/main", b.digest)
    store.set_ref("other", a)
    assert store.refs("prompts/") == {"prompts/main": b}
    with pytest.raises(StoreError, match="commit the object first"):
        store.set_ref("x", "f" * 64)


def test_file_store_persists_and_closes(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store(path) as store:
        ref = store.commit([1, 2, 3])
    with pytest.raises(StoreError, match="closed"):
        store.get(ref)
    with Store(path) as again:
        assert again.get(ref.digest) == [1, 2, 3]
        assert again.path == str(path)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no directory"):
        Store(tmp_path / "nope" / "s.db")


def test_threads_share_a_store(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for i in range(50):
                assert store.get(store.commit((k, i))) == (k, i)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(store) == 400
    store.close()


WRITER = textwrap.dedent(
    """
    import sys
    import trace_opt as trace
    from trace_opt.store import Store
    path, who, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = Store(path)
    p = trace.node("v", trainable=True)
    for i in range(n):
        store.commit({"writer": who, "i": i})
        p._set(f"{who}-{i}")
        store.commit_parameters({"p": p}, message=f"{who} {i}", name="shared")
    print("done", flush=True)
    """
)


def test_two_processes_write_concurrently(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    Store(path).close()
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    n = 60
    procs = [
        subprocess.Popen([sys.executable, str(script), str(path), who, str(n)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for who in ("a", "b")
    ]  # fmt: skip
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert out.strip() == "done"
    with Store(path) as store:
        for who in ("a", "b"):
            for i in range(n):
                assert {"writer": who, "i": i} == store.get(store.commit({"writer": who, "i": i}))
        versions = store.history("shared")
        # Every commit moved the shared branch head atomically: one linear chain, nothing lost.
        assert len(versions) == 2 * n
        assert sorted(v.message or "" for v in versions) == sorted(f"{w} {i}" for w in "ab" for i in range(n))


def test_forked_child_reconnects(tmp_path: Path) -> None:
    if not hasattr(os, "fork"):
        pytest.skip("needs fork")
    store = Store(tmp_path / "f.db")
    ref = store.commit("parent")
    with warnings.catch_warnings():  # Python 3.12+ warns about fork in a threaded process
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            ok = store.get(ref) == "parent" and store.commit("child") is not None
            os._exit(0 if ok else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert store.get(store.commit("child")) == "child" and len(store) == 2
    store.close()


def test_use_store_sets_the_active_store() -> None:
    assert active_store() is None
    s = Store()
    with use_store(s):
        assert active_store() is s
        with use_store(Store()) as inner:
            assert active_store() is inner
        assert active_store() is s
    assert active_store() is None
    with pytest.raises(TypeError):
        use_store("runs.db")  # type: ignore[arg-type]
