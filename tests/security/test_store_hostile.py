"""Files someone hands you: hostile model files, state dicts, progress files and store files.

Each hostile input gives exactly one trace_opt error and changes nothing: no parameter, no
optimizer state, no byte of a foreign SQLite file.
"""

from __future__ import annotations

import copy
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import trace_opt as trace
from optimizers import OptoPrime
from optimizers.progress import load_progress, save_progress
from trace_opt.errors import StateDictError, StoreError
from trace_opt.llm import FunctionLLM
from trace_opt.replay import Run, record
from trace_opt.store import Store


def _deep(n: int) -> Any:
    value: Any = "x"
    for _ in range(n):
        value = [value]
    return value


HOSTILE = {
    "huge int": 10**5000,
    "deep list": _deep(100_000),
    "huge string": "A" * 20_000_000,
    "wrong type": {"not": "a prompt"},
    "bytes": b"\x00\x01",
    "nan": float("nan"),
}
# the same values as they arrive in a JSON file (the int as digits, the nesting as brackets)
HOSTILE_JSON = {
    "huge int": "1" * 5000,
    "deep list": "[" * 100_000 + "1" + "]" * 100_000,
    "huge string": json.dumps("A" * 20_000_000),
    "wrong type": '{"not": "a prompt"}',
    "nan": "NaN",
}


@trace.model
class Agent:
    def __init__(self) -> None:
        self.prompt = trace.node("Be brief.", trainable=True)
        self.k = trace.node(3, trainable=True)


def _snapshot(agent: Agent) -> tuple[Any, ...]:
    return (agent.prompt.data, agent.k.data, agent.prompt.version, agent.k.version)


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_load_state_dict_refuses_hostile_values(kind: str) -> None:
    agent = Agent()
    before = _snapshot(agent)
    with pytest.raises(StateDictError):
        agent.load_state_dict({"prompt": HOSTILE[kind], "k": 4})
    assert _snapshot(agent) == before


@pytest.mark.parametrize("kind", sorted(HOSTILE_JSON))
def test_module_load_refuses_hostile_files(kind: str, tmp_path: Path) -> None:
    agent = Agent()
    path = tmp_path / "agent.json"
    agent.save(path)
    text = path.read_text()
    path.write_text(text.replace('"Be brief."', HOSTILE_JSON[kind]))
    before = _snapshot(agent)
    with pytest.raises(StateDictError):
        agent.load(path)
    assert _snapshot(agent) == before


@pytest.mark.parametrize(
    "doc", ["[" * 100_000, "1" * 5000, '{"format": "trace_opt.module", "version": 1, "parameters": []}'],
    ids=["unclosed nesting", "huge int", "parameters not a dict"],
)
def test_module_load_refuses_malformed_documents(doc: str, tmp_path: Path) -> None:
    path = tmp_path / "agent.json"
    path.write_text(doc)
    with pytest.raises(StateDictError):
        Agent().load(path)


def _optimizer() -> tuple[OptoPrime, Agent]:
    agent = Agent()
    llm = FunctionLLM(lambda m, **kw: '{"reasoning": "", "suggestion": {}}')
    return OptoPrime(agent.parameters(), llm=llm, llm_params={"temperature": 0.5}), agent


def _opt_snapshot(opt: OptoPrime) -> Any:
    groups = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
    return copy.deepcopy((groups, [dict(s) for s in opt.state.values()], opt.step_count, list(opt.log),
                          [list(m) for m in opt.memory]))  # fmt: skip


def _hostile_states(good: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind, value in HOSTILE.items():
        for where in ("step", "memory", "log", "state", "objective", "param_groups"):
            state = copy.deepcopy(good) if kind != "huge string" else dict(good)
            if where == "objective":
                state["param_groups"] = [{**state["param_groups"][0], "objective": value}]
            else:
                state[where] = value
            out[f"{kind}-{where}"] = state
    return out


def test_optimizer_load_state_dict_refuses_hostile_values() -> None:
    opt, _ = _optimizer()
    good = opt.state_dict()
    before = _opt_snapshot(opt)
    for name, state in _hostile_states(good).items():
        with pytest.raises(StateDictError):
            opt.load_state_dict(state)
        assert _opt_snapshot(opt) == before, name
    opt.load_state_dict(good)  # the untouched state still loads


def _progress(tmp_path: Path) -> tuple[Path, OptoPrime, Agent, str]:
    opt, agent = _optimizer()
    path = tmp_path / "progress.json"
    save_progress(path, opt, 2, {"score": 0.5, "values": ["Be brief.", 3]}, 1, [{"step": 1}, {"step": 2}])
    return path, opt, agent, path.read_text()


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d.update(step=10**30),
        lambda d: d.update(step="2"),
        lambda d: d.update(stale=-1),
        lambda d: d.update(best={"score": "high", "values": ["x", 1]}),
        lambda d: d.update(best={"score": 1.0, "values": ["x"]}),
        lambda d: d.update(history={"step": 1}),
        lambda d: d.update(params=["Be brief.", "not an int"]),
        lambda d: d.update(params=7),
        lambda d: d["optimizer"].update(step=-3),
        lambda d: d["optimizer"]["param_groups"][0].update(llm_params={"api_base": "http://evil.example"}),
        lambda d: d["optimizer"].update(memory=_deep(50)),
    ],
)
def test_load_progress_checks_everything_before_changing_anything(edit: Any, tmp_path: Path) -> None:
    path, opt, agent, text = _progress(tmp_path)
    doc = json.loads(text)
    doc["params"] = ["Changed prompt", 9]  # a valid change that must not happen if the rest is bad
    edit(doc)
    path.write_text(json.dumps(doc))
    before, params = _opt_snapshot(opt), _snapshot(agent)
    with pytest.raises(StateDictError):
        load_progress(path, opt)
    assert _opt_snapshot(opt) == before and _snapshot(agent) == params


@pytest.mark.parametrize("kind", sorted(HOSTILE_JSON))
def test_load_progress_refuses_hostile_json(kind: str, tmp_path: Path) -> None:
    path, opt, agent, text = _progress(tmp_path)
    path.write_text(text.replace('"Be brief."', HOSTILE_JSON[kind], 1))
    before, params = _opt_snapshot(opt), _snapshot(agent)
    with pytest.raises(StateDictError):
        load_progress(path, opt)
    assert _opt_snapshot(opt) == before and _snapshot(agent) == params


def test_load_progress_applies_a_good_file(tmp_path: Path) -> None:
    path, opt, agent, text = _progress(tmp_path)
    doc = json.loads(text)
    doc["params"] = ["Changed prompt", 9]
    path.write_text(json.dumps(doc))
    resumed = load_progress(path, opt)
    assert resumed is not None and resumed["step"] == 2 and (agent.prompt.data, agent.k.data) == ("Changed prompt", 9)


def _foreign(path: Path, version: int = 0) -> bytes:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE contacts (name TEXT, phone TEXT)")
        conn.execute("INSERT INTO contacts VALUES ('ada', '555')")
        conn.execute(f"PRAGMA user_version={version}")
    conn.close()
    return path.read_bytes()


@pytest.mark.parametrize("version", [0, 1, 7])
def test_a_foreign_sqlite_file_is_not_modified(tmp_path: Path, version: int) -> None:
    path = tmp_path / "contacts.db"
    before = _foreign(path, version)
    with pytest.raises(StoreError):
        Store(path)
    assert path.read_bytes() == before  # not even switched to WAL
    assert sorted(p.name for p in tmp_path.iterdir()) == ["contacts.db"]


@trace.bundle()
def roll() -> int:
    return 4


def test_run_load_by_id_checks_the_snapshot(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.db")
    with record(store) as run:
        roll()
    assert Run.load(store, run.id).calls[0].output == 4
    with sqlite3.connect(tmp_path / "r.db") as conn:
        conn.execute("UPDATE calls SET duration = duration + 1 WHERE run = ?", (run.id,))
    conn.close()
    for ref in (run.id, run.ref.digest):
        with pytest.raises(StoreError, match="do not match snapshot"):
            Run.load(store, ref)
    store.close()


def test_a_tampered_object_of_a_run_fails_its_digest(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.db")
    with record(store) as run:
        roll()
    digest = run.calls[0].row.output
    with sqlite3.connect(tmp_path / "r.db") as conn:
        conn.execute("UPDATE objects SET body = ? WHERE digest = ?", (b"5", digest))
    conn.close()
    store.close()
    store = Store(tmp_path / "r.db")
    with pytest.raises(StoreError, match="does not match its digest"):
        Run.load(store, run.id).calls[0].output  # noqa: B018
    store.close()

