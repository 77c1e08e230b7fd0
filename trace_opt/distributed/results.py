"""Worker -> driver: the result and the graph the worker built, rebuilt on the driver's nodes.

A node the worker received goes back as its index and becomes the driver's object again; a node
the worker created goes back as a record (kind, data, name, description, op reference, argument
names, info, parents) and is rebuilt as a ``MessageNode``/``ExceptionNode`` whose parents are the
driver's nodes, parents first. Operations map to the driver's own ``OpInfo`` (see ``wire``).
"""

from __future__ import annotations

import importlib
import io
import pickle
from typing import Any

from .. import secrets
from ..bundle import CodeParameter, FunModule
from ..nodes import ExceptionNode, MessageNode, Node, OpInfo, ParameterNode
from .wire import Outbound, RemoteError, _cloudpickle, _make_pickler, _set_raw, raw_description

__all__ = ["Inbound", "dump_result", "find_fun_module", "portable_exception"]

log = secrets.logger(__name__)

def _op_ref(op: OpInfo) -> tuple[Any, ...]:
    fun = op.fun
    ship = getattr(fun, "_ship_index", None) if isinstance(fun, FunModule) else None
    raw = getattr(fun, "_fn", None)
    where = (getattr(raw, "__module__", None), getattr(raw, "__qualname__", None))
    return (ship, where, op.name, op.doc, op.source, op.argnames, op.varargs)


def portable_exception(exc: BaseException) -> BaseException:
    try:
        _cloudpickle().loads(_cloudpickle().dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - anything unpicklable is replaced by its text
        return RemoteError(f"{type(exc).__name__}: {exc}")


def dump_result(envelope: dict[str, Any], shipped: dict[int, Node[Any]]) -> bytes:
    """Worker: pickle the result envelope; new nodes become records (see module doc)."""
    shipped_ids = {id(n): i for i, n in shipped.items()}
    new: list[Node[Any]] = []
    new_ids: dict[int, int] = {}

    def pid(n: Node[Any]) -> tuple[Any, ...]:
        i = shipped_ids.get(id(n))
        if i is not None:
            return ("in", i, "")
        j = new_ids.get(id(n))
        if j is None:
            j = new_ids[id(n)] = len(new)
            new.append(n)
        if isinstance(n, CodeParameter) and n.fun is not None:  # the worker's own import of a bundled function
            raw = n.fun._fn
            return ("new", j, "code", getattr(raw, "__module__", None), getattr(raw, "__qualname__", None), n.fun.info.name)
        return ("new", j, n.kind)

    buf = io.BytesIO()
    pickler = _make_pickler(buf, pid, None)
    pickler.dump(envelope)
    done = 0
    while done < len(new):
        batch = new[done:]
        done = len(new)
        pickler.dump([_record(n) for n in batch])
    pickler.dump(None)
    return buf.getvalue()


def _record(n: Node[Any]) -> tuple[Any, ...]:
    base = (n._data, n._name, raw_description(n), n.constraint)
    if isinstance(n, MessageNode):
        exc = portable_exception(n.exception) if isinstance(n, ExceptionNode) else None
        return base + (n._parents, _op_ref(n.op), n._argnames, n._info, exc)
    extra = (n.trainable, n.version) if isinstance(n, ParameterNode) else None
    return base + (extra,)


class Inbound:
    """Driver side of :func:`dump_result`: rebuilds the worker's new nodes onto the driver's."""

    def __init__(self, outbound: Outbound) -> None:
        self.outbound = outbound
        self._ops: dict[tuple[Any, ...], OpInfo] = {}

    def load(self, data: bytes, shipped: list[Node[Any]]) -> Any:
        """The envelope the worker sent; ``shipped`` is the task's node table from ``Outbound.dump``."""
        new: dict[int, Node[Any]] = {}
        external: set[int] = set()  # the driver's own objects (code parameters matched by name)
        kinds: dict[int, str] = {}
        records: list[tuple[Any, ...]] = []

        class _Unpickler(pickle.Unpickler):
            def persistent_load(self, pid: Any) -> Any:
                where, i, kind = pid[:3]
                if where == "in":
                    return shipped[i]
                n = new.get(i)
                if n is None and kind == "code":
                    fm = find_fun_module(*pid[3:])
                    if fm is not None and fm.parameter is not None:
                        n = new[i] = fm.parameter
                        external.add(i)
                        return n
                if n is None:
                    kinds_: dict[str, type[Node[Any]]] = {
                        "message": MessageNode, "exception": ExceptionNode, "parameter": ParameterNode,
                    }  # fmt: skip
                    cls: type[Node[Any]] = kinds_.get(kind, Node)
                    n = new[i] = cls.__new__(cls)
                    kinds[i] = kind
                return n

        up = _Unpickler(io.BytesIO(data))
        envelope = up.load()
        while (batch := up.load()) is not None:
            records.extend(batch)
        for i in external:
            if records[i][0] != new[i]._data:
                log.warning(
                    "a Ray worker ran its own import of %s, whose code differs from the driver's: define the "
                    "bundled function in the module of the mapped function (shipped by value) or pass it in",
                    new[i].fun.info.name,  # type: ignore[attr-defined]
                )
        self._build(new, records, external)
        return envelope

    def _build(self, new: dict[int, Node[Any]], records: list[tuple[Any, ...]], external: set[int]) -> None:
        index = {id(n): i for i, n in new.items()}
        built: set[int] = set(external)
        for root in range(len(records)):  # parents first: iterative DFS over the new nodes
            stack = [root]
            while stack:
                i = stack[-1]
                if i in built:
                    stack.pop()
                    continue
                n = new[i]
                waiting = [index[id(p)] for p in (records[i][4] if isinstance(n, MessageNode) else ())
                           if id(p) in index and index[id(p)] not in built]
                if waiting:
                    stack.extend(waiting)
                    continue
                self._init(n, records[i])
                built.add(i)
                stack.pop()

    def _init(self, n: Node[Any], rec: tuple[Any, ...]) -> None:
        data, name, description, constraint = rec[:4]
        if isinstance(n, MessageNode):
            parents, op_ref, argnames, info, exc = rec[4:]
            op = self._op(op_ref)
            if isinstance(n, ExceptionNode):
                ExceptionNode.__init__(n, exc, tuple(parents), op, argnames, text=data)
            else:
                MessageNode.__init__(n, data, tuple(parents), op, argnames, info=info)
            n._info = info
            _set_raw(n, name, description)
        elif isinstance(n, ParameterNode):
            trainable, version = rec[4]
            ParameterNode.__init__(n, data, name=name, trainable=trainable, description=description)
            n.version = version
        else:
            Node.__init__(n, data, name=name, description=description)
        n.constraint = constraint

    def _op(self, ref: tuple[Any, ...]) -> OpInfo:
        ship, where, name, doc, source, argnames, varargs = ref
        if ship is not None:
            return self.outbound.fun_modules[ship].info
        key = (where, name)
        op = self._ops.get(key)
        if op is None:
            fm = find_fun_module(where[0], where[1], name)
            op = fm.info if fm is not None else OpInfo(name, doc, source, argnames, varargs)
            self._ops[key] = op
        return op


def find_fun_module(module: str | None, qualname: str | None, name: str) -> FunModule | None:
    """The driver's own bundled function for a worker's: by module and qualified name, else the
    module's bundled function (or one in a module-level dict, as operators keep) of that name."""
    if not module:
        return None
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    if qualname and "<locals>" not in qualname:
        obj: Any = mod
        for part in qualname.split("."):
            obj = obj.__dict__.get(part) if hasattr(obj, "__dict__") else None
            if obj is None:
                break
        if isinstance(obj, FunModule) and obj.info.name == name:
            return obj
    for value in list(vars(mod).values()):
        candidates = value.values() if isinstance(value, dict) else (value,)
        for c in candidates:
            if isinstance(c, FunModule) and c.info.name == name and getattr(c._fn, "__qualname__", None) == qualname:
                return c
    return None
