"""Ship a traced call to another process and bring its graph back, attached to the driver's nodes.

Nodes refuse to pickle (a node is a place in *this* process's graph), so both directions use a
cloudpickle ``Pickler`` whose ``persistent_id`` replaces every node by an index:

- **driver -> worker** (:class:`Outbound`, :func:`load_call`): every node the function or the
  item reaches is sent *by value* (data, name, description, constraint; for parameters also
  ``trainable`` and ``version``) with an index, and becomes a leaf in the worker. A bundled
  function (``FunModule``) goes by value too, its code parameter being one of those nodes
  holding the driver's *current* source -- so code an optimizer wrote runs in the worker, and
  through the sandbox exactly as it would in the driver (``FunModule._resolve`` decides).
- **worker -> driver** (``results``: :func:`dump_result`, :class:`Inbound`): a node the worker received goes
  back as its index and becomes the driver's own object again; a node the worker created goes
  back as a record (kind, data, name, description, op, argument names, info, parent refs) and
  the driver rebuilds it as a ``MessageNode``/``ExceptionNode`` whose parents are the driver's
  nodes. Operations are matched to the driver's own ``OpInfo``: a shipped bundled function by
  its index, any other (operators, functions imported by the worker) by module and qualified
  name. So backward from a result reaches exactly its ancestors, and an optimizer renders the
  same prompt as for an in-process run.

Streams are a first ``dump`` of the payload, then batches of node states until a ``None``:
states may reach further nodes (a node whose value holds nodes), found while dumping.
"""

from __future__ import annotations

import _thread
import io
import pickle
import threading
import types
from typing import Any

from ..bundle import CodeParameter, FunModule
from ..errors import DistributedError
from ..funinfo import FunInfo
from ..nodes import Node, OpInfo, ParameterNode
from .byvalue import ByValue

__all__ = ["Outbound", "RemoteError", "load_call", "raw_description"]

_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()), _thread.LockType)
_MISSING = object()


def _cloudpickle() -> Any:
    from ray import cloudpickle  # Ray's own copy: the package is only used with Ray installed

    return cloudpickle


def raw_description(n: Node[Any]) -> str | None:
    """The description as set on the node (not a computed default), across node versions."""
    value = getattr(n, "_description", _MISSING)
    return n.description if value is _MISSING else value  # type: ignore[return-value]


def _set_raw(n: Node[Any], name: str | None, description: str | None) -> None:
    n._name = name
    if hasattr(type(n), "_description"):
        n._description = description  # type: ignore[attr-defined]
    else:
        n.description = description


class RemoteError(Exception):
    """Stands in for an exception raised on a worker that could not be pickled back."""


def _rebuild_fun(
    cls: type[FunModule], state: dict[str, Any], info: tuple[type[FunInfo], dict[str, Any]], parameter: Any
) -> FunModule:
    fm = cls.__new__(cls)
    fm.__dict__.update(state)
    info_cls, slots = info
    fm.info = info_cls.__new__(info_cls)
    for key, value in slots.items():
        setattr(fm.info, key, value)
    fm.info.fun = fm
    fm.parameter = parameter
    fm._current = fm._fn
    fm._compiled_src = None if (fm.sandbox is True and parameter is not None) else fm._original_src
    if parameter is not None:
        parameter.fun = fm
    return fm


def _info_state(info: OpInfo) -> tuple[type[OpInfo], dict[str, Any]]:
    """The info's class and slots (a ``FunInfo`` keeps ``fun_name``, which names the attribute
    an instance keeps its copy of a trainable method under); ``fun`` is the rebuilt module and
    a cached signature is recomputed there."""
    slots = {
        slot: getattr(info, slot)
        for klass in type(info).__mro__
        for slot in getattr(klass, "__slots__", ())
        if slot != "fun" and hasattr(info, slot)
    }
    if "_signature" in slots:
        slots["_signature"] = None
    return type(info), slots


def _new_lock() -> Any:
    return threading.Lock()


def _pickler_base() -> type:
    return _cloudpickle().Pickler  # type: ignore[no-any-return]


_METHODS: dict[type, tuple[str, ...]] = {}


def _own_trainable_methods(obj: Any) -> None:
    """Give ``obj`` its own copy of each trainable bundled method before it is shipped, as its
    first call in the driver would: the worker then trains (and reports back) that copy,
    whose code parameter is the driver's, not a copy made in the worker."""
    cls = type(obj)
    names = _METHODS.get(cls)
    if names is None:
        found: dict[str, None] = {}
        for klass in getattr(cls, "__mro__", ()):
            for attr, value in vars(klass).items():
                if isinstance(value, FunModule) and value.trainable:
                    found.setdefault(attr, None)
        names = _METHODS[cls] = tuple(found)
    for attr in names:
        if isinstance(getattr(cls, attr, None), FunModule):
            getattr(obj, attr)


def _make_pickler(file: io.BytesIO, persistent: Any, funs: Any, by_value: ByValue | None = None) -> Any:
    base = _pickler_base()

    class _Pickler(base):  # type: ignore[misc, valid-type]
        def persistent_id(self, obj: Any) -> Any:
            return persistent(obj) if isinstance(obj, Node) else None

        def reducer_override(self, obj: Any) -> Any:
            if isinstance(obj, FunModule) and funs is not None:  # its subclasses too
                return funs(obj)
            if isinstance(obj, _LOCK_TYPES):  # locks are per-process state: a fresh one there
                return (_new_lock, ())
            if isinstance(obj, (type, types.FunctionType)):
                if by_value is not None:  # before cloudpickle decides: by reference or by value
                    by_value.add(obj)
            elif funs is not None and hasattr(obj, "__dict__"):
                _own_trainable_methods(obj)
            return super().reducer_override(obj)

    return _Pickler(file, protocol=5)


class Outbound:
    """Driver side: pickles the function once and each item, nodes by index (see module doc).

    The function's nodes are numbered once (``common``); each item's dump numbers its own
    further nodes after them, so tasks share the function's payload and not each other's.
    The user's modules met while pickling go by value (see ``byvalue``) until :meth:`close`."""

    def __init__(self) -> None:
        self.by_value = ByValue(_cloudpickle())
        self.common: list[Node[Any]] = []
        self._common_index: dict[int, int] = {}
        self._funs: dict[int, int] = {}
        self.fun_modules: list[FunModule] = []

    def _fun(self, fm: FunModule) -> tuple[Any, ...]:
        if id(fm) not in self._funs:
            self._funs[id(fm)] = len(self.fun_modules)
            self.fun_modules.append(fm)
        state = {k: v for k, v in fm.__dict__.items() if k not in ("info", "parameter", "_current", "_compiled_src")}
        state["_ship_index"] = self._funs[id(fm)]
        return (_rebuild_fun, (type(fm), state, _info_state(fm.info), fm.parameter))

    def dump(self, obj: Any, *, common: bool = False) -> tuple[bytes, list[Node[Any]]]:
        """Pickle ``obj`` and the state of every node it reaches; return the bytes and the
        nodes by index as the worker will number them."""
        if common:
            nodes, index = self.common, self._common_index
        else:
            nodes, index = list(self.common), dict(self._common_index)
        first = len(nodes)

        def pid(n: Node[Any]) -> tuple[str, int, str]:
            i = index.get(id(n))
            if i is None:
                i = index[id(n)] = len(nodes)
                nodes.append(n)
            kind = "code" if isinstance(n, CodeParameter) else "param" if isinstance(n, ParameterNode) else "value"
            return ("n", i, kind)

        buf = io.BytesIO()
        pickler = _make_pickler(buf, pid, self._fun, self.by_value)
        try:
            pickler.dump(obj)
            done = first
            while done < len(nodes):
                batch = [(i, _leaf_state(nodes[i])) for i in range(done, len(nodes))]
                done = len(nodes)
                pickler.dump(batch)
            pickler.dump(None)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise DistributedError(
                f"cannot ship {type(obj).__name__} to a Ray worker: {exc}",
                hint="the function and items must be picklable (cloudpickle): define helpers at module level, "
                "and keep open files, sockets and threads out of what the function reaches",
            ) from exc
        return buf.getvalue(), nodes

    def close(self) -> None:
        """Ship the user's modules by reference again (the registry is process-wide)."""
        self.by_value.close()


def _leaf_state(n: Node[Any]) -> tuple[Any, ...]:
    extra = (n.trainable, n.version) if isinstance(n, ParameterNode) else None
    return (n._data, n._name, raw_description(n), n.constraint, extra)


class _CallLoader:
    """Worker side of :class:`Outbound`: builds leaves for shipped nodes, remembers their indices."""

    def __init__(self) -> None:
        self.nodes: dict[int, Node[Any]] = {}

    def persistent_load(self, pid: tuple[str, int, str]) -> Node[Any]:
        _, i, kind = pid
        n = self.nodes.get(i)
        if n is None:
            cls: type[Node[Any]] = {"code": CodeParameter, "param": ParameterNode}.get(kind, Node)
            n = self.nodes[i] = cls.__new__(cls)
        return n

    def load(self, data: bytes) -> Any:
        loader = self

        class _Unpickler(pickle.Unpickler):
            def persistent_load(self, pid: Any) -> Any:
                return loader.persistent_load(pid)

        up = _Unpickler(io.BytesIO(data))
        obj = up.load()
        while (states := up.load()) is not None:
            for i, state in states:
                self._fill(self.nodes[i], state)
        return obj

    @staticmethod
    def _fill(n: Node[Any], state: tuple[Any, ...]) -> None:
        data, name, description, constraint, extra = state
        if isinstance(n, ParameterNode):
            ParameterNode.__init__(n, data, name=name, trainable=extra[0], description=description, constraint=None)
            n.constraint = constraint
            n.version = extra[1]
        else:
            Node.__init__(n, data, name=name, description=description, constraint=constraint)


def load_call(common: bytes, item: bytes) -> tuple[Any, Any, dict[int, Node[Any]]]:
    """Worker: the function, the item and the shipped nodes by index (one table for both)."""
    loader = _CallLoader()
    fn = loader.load(common)
    arg = loader.load(item)
    return fn, arg, loader.nodes
