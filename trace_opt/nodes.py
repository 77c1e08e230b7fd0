"""Graph nodes: values that remember where they came from.

A node holds a value (``.data``) and the nodes it was computed from (``.parents``). There is
no global registry, and a node knows its children only through weak references: a graph is
kept alive only by the output the user holds, and it is freed when that output is dropped
(Trace's global ``GRAPH`` keeps every node forever; ``GRAPH`` here is a no-op kept for ported
code). As in Trace, ``==`` compares the wrapped values while hashing is by identity, so two
nodes with equal values stay two dict keys; code that needs identity says ``is``.

Behaviour that needs higher layers is attached to ``Node`` by those layers, so this module
imports nothing above it: the traced operators (``+``, ``[]``, method calls on the wrapped
value, ...) by ``trace_opt.operators``, ``Node.backward`` by ``trace_opt.propagation``, and
the Jupyter picture by ``trace_opt.visualize``. ``import trace_opt`` loads all of them.
"""

from __future__ import annotations

import copy
import functools
import itertools
import re
import threading
import traceback
import weakref
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .context import using
from .errors import BackwardError, ConstraintViolation, with_help

__all__ = [
    "ExceptionNode",
    "GRAPH",
    "MessageNode",
    "Naming",
    "Node",
    "OpInfo",
    "ParameterNode",
    "WithInfo",
    "node",
    "stable_names",
]

T = TypeVar("T")

# One counter for all names: names are for people reading prompts and pictures, identity is
# the object itself. next() on itertools.count is atomic under the GIL.
_ids = itertools.count()

_REPR_LIMIT = 80


def _short(value: Any, limit: int = _REPR_LIMIT) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _clean_name(name: str) -> str:
    # Optimizer prompts use names as variable identifiers; keep them identifier-like.
    return name.replace(":", "_").replace(" ", "_") or "node"


_NODE_TEXT = "[Node] This is a node in a computational graph."
_PARAMETER_TEXT = "[ParameterNode] This is a ParameterNode in a computational graph."


def _tagged(text: str | None, tag: str, default: str) -> str:
    """Trace's description form: ``[tag] text``, unless the text already starts with a tag."""
    if not text:
        return default
    if _TAG.match(text):
        return text
    return f"[{tag}] {text.strip()}"


_TAG = re.compile(r"^\[([^\[\]]+)\]")


class _ChildLink(weakref.ref):  # type: ignore[type-arg]
    """A weak reference to a child that removes itself from its parents' tables when the
    child is freed, so a parent that lives on (a parameter used in a million calls) keeps no
    trace of dropped children. A child never keeps anything alive: only parents are strong
    references."""

    __slots__ = ("parents",)
    parents: tuple[Node[Any], ...]


def _unlink(link: _ChildLink) -> None:
    for parent in link.parents:
        kids = parent._children
        if kids is link:
            parent._children = None
        elif type(kids) is dict:
            kids.pop(link, None)
            if not kids:  # drop the table too: a dict never shrinks on deletion
                parent._children = None


def _link_shared(child: Node[Any], parents: tuple[Node[Any], ...]) -> None:
    """Register ``child`` with parents of which one at least has another live child.

    ``parent._children`` is None, one plain weak reference (the parent's latest child, maybe
    dead: the common case of a value used once, which costs no table and no callback; see
    ``MessageNode.__init__``), or a dict of ``_ChildLink`` whose callbacks keep it free of
    dead children. The dict appears when a parent gets a second live child, so only parents
    shared by live results pay for the bookkeeping; a dead single reference is one small
    object per parent, never one per call.
    """
    link = _ChildLink(child, _unlink)
    link.parents = parents
    for parent in parents:
        kids = parent._children
        if kids is None:
            parent._children = link
        elif type(kids) is dict:
            kids[link] = None
        else:
            older = kids()  # type: ignore[operator]  # a weak reference
            if older is None or older is child:
                parent._children = link
            else:  # a second live child: a table, with the older child's link upgraded
                up = _ChildLink(older, _unlink)
                up.parents = (parent,)
                parent._children = {up: None, link: None}


_ref = weakref.ref  # bound once: read on every traced call


class _NoGraph:
    """Stand-in for Trace's global ``GRAPH`` registry, for code ported from Trace.

    trace_opt keeps no global graph (a graph lives as long as its output, see the module
    docstring), so there is nothing to clear: ``GRAPH.clear()`` does nothing, and Trace
    scripts that call it between examples run unchanged.

    >>> import trace_opt as trace
    >>> trace.GRAPH.clear()
    """

    __slots__ = ()

    def clear(self) -> None:
        """Nothing to do: unreferenced nodes are already freed."""

    def __len__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "<trace_opt GRAPH: no global registry (a no-op kept for code ported from Trace)>"


GRAPH = _NoGraph()


class OpInfo:
    """What an operation is, for optimizer prompts and pictures: a name, its documentation,
    its source (if known) and the names of its positional parameters."""

    __slots__ = ("name", "doc", "source", "argnames", "varargs", "fun")

    def __init__(
        self,
        name: str,
        doc: str = "",
        source: str | None = None,
        argnames: tuple[str, ...] = (),
        varargs: str | None = None,
        fun: Any = None,
    ) -> None:
        self.name = name
        self.doc = doc
        self.source = source
        self.argnames = argnames
        self.varargs = varargs
        self.fun = fun  # the FunModule for bundled calls (gives access to its code parameter)

    def names_for(self, nargs: int) -> tuple[str, ...]:
        """Parameter names for ``nargs`` positional arguments (extra ones become ``args_i``)."""
        names = self.argnames
        if nargs <= len(names):
            return names[:nargs]
        extra = self.varargs or "args"
        return names + tuple(f"{extra}_{i}" for i in range(nargs - len(names)))

    def __repr__(self) -> str:
        return f"OpInfo({self.name!r})"


class WithInfo:
    """Return this from a bundled function to attach metadata (model, usage, ...) to the
    MessageNode it produces: ``data`` becomes the node's value, ``info`` is merged into
    ``node.info``."""

    __slots__ = ("value", "info")

    def __init__(self, value: Any, info: dict[str, Any]) -> None:
        self.value = value
        self.info = info


class Node(Generic[T]):
    """A traced value.

    >>> import trace_opt as trace
    >>> x = trace.node(3)
    >>> y = x + 1
    >>> y.data, y.parents[0] is x, y == 4
    (4, True, True)

    ``bool(node)`` is ``bool(node.data)`` and is *not* traced: Python needs a plain bool for
    ``if``/``while``, so a branch taken on a node's value leaves no edge in the graph. Trace
    the decision instead with a bundled function if an optimizer should see it. ``len(node)``
    and ``x in node`` likewise return plain values; ``node.len()`` is the traced length.
    ``==`` and ``!=`` compare the wrapped values and return plain values, as in Trace (so
    ``if out == "Juan":`` works); ``node.eq(other)`` is the traced comparison. Hashing is by
    identity: nodes with equal values stay distinct dict keys and set members.
    """

    __slots__ = (
        "_data", "_parents", "_name", "_id", "_description", "_feedback", "constraint", "_children", "__weakref__",
    )  # fmt: skip

    trainable: bool = False

    def __init__(
        self,
        value: Any,
        name: str | None = None,
        description: str | None = None,
        constraint: Any = None,
        parents: tuple[Node[Any], ...] = (),
    ) -> None:
        self._data = value
        self._parents = parents
        self._name = name
        self._id = next(_ids)
        self._description = description
        self._feedback: list[Any] | None = None
        self.constraint = constraint
        # None, one weak reference, or a dict {link: None} in insertion order (see _link).
        self._children: weakref.ref[Any] | dict[_ChildLink, None] | None = None

    # -- equality compares values (as in Trace); hashing is by identity -----------------------
    __hash__ = object.__hash__

    def __eq__(self, other: object) -> Any:
        return self._data == (other._data if isinstance(other, Node) else other)

    def __ne__(self, other: object) -> Any:
        return self._data != (other._data if isinstance(other, Node) else other)

    # -- value and graph --------------------------------------------------------------------
    @property
    def data(self) -> T:
        """The wrapped value."""
        return self._data

    @property
    def parents(self) -> tuple[Node[Any], ...]:
        """The nodes this value was computed from (empty for leaves)."""
        return self._parents

    @property
    def children(self) -> list[Node[Any]]:
        """The nodes computed from this one that are still alive, oldest first.

        Held weakly: a child disappears from this list when nothing else refers to it, so
        keeping a parameter never keeps the graphs built from it. Calls racing in several
        threads on the same parent may each miss the other's child here (never a leak)."""
        kids = self._children
        if kids is None:
            return []
        links = list(kids) if isinstance(kids, dict) else [kids]
        found = [link() for link in links]
        return [k for k in found if k is not None]

    @property
    def is_root(self) -> bool:
        """True when the node has no parents."""
        return not self._parents

    @property
    def is_leaf(self) -> bool:
        """True when no live node was computed from this one."""
        return not self.children

    @property
    def level(self) -> int:
        """The length of the longest path from a root to this node (roots are 0)."""
        levels: dict[int, int] = {}
        stack: list[tuple[Node[Any], bool]] = [(self, False)]
        while stack:
            n, done = stack.pop()
            if id(n) in levels:
                continue
            if done or not n._parents:
                levels[id(n)] = max((levels[id(p)] + 1 for p in n._parents), default=0)
                continue
            stack.append((n, True))
            stack.extend((p, False) for p in n._parents if id(p) not in levels)
        return levels[id(self)]

    @property
    def type(self) -> type:
        """The type of the wrapped value."""
        return type(self._data)

    # -- names ------------------------------------------------------------------------------
    def _index(self) -> int:
        naming = _NAMING.get()
        return self._id if naming is None else naming.index_of(self)

    @property
    def name(self) -> str:
        """Trace's ``name:index`` form, such as ``greet:12``.

        Inside ``stable_names(...)`` indexes count nodes in order of first use instead, so the
        same graph gets the same names in every run (and prompts hit the LLM cache). Use
        ``py_name`` where an identifier is needed."""
        return f"{self.base_name}:{self._index()}"

    @property
    def py_name(self) -> str:
        """The identifier form of ``name`` (``greet_12``), used in optimizer prompts and
        pictures, where names must read as variables."""
        return f"{self.base_name}_{self._index()}"

    @property
    def id(self) -> str:
        """The index part of ``name`` (Trace's ``node.id``)."""
        return str(self._index())

    @property
    def base_name(self) -> str:
        """The name without its index."""
        return _clean_name(self._name or type(self._data).__name__)

    # -- descriptions -----------------------------------------------------------------------
    @property
    def description(self) -> str:
        """Trace's description text: ``[Node] ...`` (``[ParameterNode] ...`` for parameters,
        ``[op] doc`` for results of operations), with Trace's default when none was given.
        ``given_description`` is the text exactly as given (None if none)."""
        return _tagged(self._description, "Node", _NODE_TEXT)

    @description.setter
    def description(self, text: str | None) -> None:
        self._description = text

    @property
    def given_description(self) -> str | None:
        """The description as passed to ``node(...)``, without Trace's ``[Node]`` tag."""
        return self._description

    # -- dependencies -----------------------------------------------------------------------
    def _ancestry(self) -> list[Node[Any]]:
        seen = {id(self)}
        order = [self]
        stack = [self]
        while stack:
            for p in stack.pop()._parents:
                if id(p) not in seen:
                    seen.add(id(p))
                    order.append(p)
                    stack.append(p)
        return order

    @property
    def parameter_dependencies(self) -> set[ParameterNode[Any]]:
        """The parameters this value was computed from (itself included if it is one).

        Computed on demand by walking the parents, so building a graph costs nothing for it
        (Trace merges these sets at every call)."""
        return {n for n in self._ancestry() if isinstance(n, ParameterNode)}

    @property
    def expandable_dependencies(self) -> set[MessageNode[Any]]:
        """The results of ``traceable_code`` calls among this node's ancestry (itself
        included) whose inner graph uses parameters the outer graph does not show."""
        return self._expandable(self._ancestry())

    @staticmethod
    def _expandable(nodes: Iterable[Node[Any]]) -> set[MessageNode[Any]]:
        return {n for n in nodes if isinstance(n, MessageNode) and n.hidden_dependencies}

    @property
    def kind(self) -> str:
        """``"value"``, ``"parameter"``, ``"message"`` or ``"exception"``."""
        return "value"

    @property
    def feedback(self) -> list[Any]:
        """Feedback received by ``backward`` calls since the last ``zero_feedback``."""
        return self._feedback if self._feedback is not None else []

    def zero_feedback(self) -> None:
        """Forget accumulated feedback on this node."""
        self._feedback = None

    def _add_feedback(self, item: Any) -> None:
        if self._feedback is None:
            self._feedback = [item]
        else:
            self._feedback.append(item)

    if TYPE_CHECKING:  # attached by trace_opt.propagation and trace_opt.operators

        def backward(
            self, feedback: Any = "", propagator: Any = None, retain_graph: bool = False, visualize: bool = False
        ) -> Any: ...
        def __add__(self, other: Any) -> MessageNode[Any]: ...
        def __radd__(self, other: Any) -> MessageNode[Any]: ...
        def __sub__(self, other: Any) -> MessageNode[Any]: ...
        def __rsub__(self, other: Any) -> MessageNode[Any]: ...
        def __mul__(self, other: Any) -> MessageNode[Any]: ...
        def __rmul__(self, other: Any) -> MessageNode[Any]: ...
        def __truediv__(self, other: Any) -> MessageNode[Any]: ...
        def __rtruediv__(self, other: Any) -> MessageNode[Any]: ...
        def __floordiv__(self, other: Any) -> MessageNode[Any]: ...
        def __rfloordiv__(self, other: Any) -> MessageNode[Any]: ...
        def __mod__(self, other: Any) -> MessageNode[Any]: ...
        def __rmod__(self, other: Any) -> MessageNode[Any]: ...
        def __pow__(self, other: Any) -> MessageNode[Any]: ...
        def __rpow__(self, other: Any) -> MessageNode[Any]: ...
        def __and__(self, other: Any) -> MessageNode[Any]: ...
        def __rand__(self, other: Any) -> MessageNode[Any]: ...
        def __or__(self, other: Any) -> MessageNode[Any]: ...
        def __ror__(self, other: Any) -> MessageNode[Any]: ...
        def __xor__(self, other: Any) -> MessageNode[Any]: ...
        def __rxor__(self, other: Any) -> MessageNode[Any]: ...
        def __lshift__(self, other: Any) -> MessageNode[Any]: ...
        def __rlshift__(self, other: Any) -> MessageNode[Any]: ...
        def __rshift__(self, other: Any) -> MessageNode[Any]: ...
        def __rrshift__(self, other: Any) -> MessageNode[Any]: ...
        def __lt__(self, other: Any) -> MessageNode[bool]: ...
        def __le__(self, other: Any) -> MessageNode[bool]: ...
        def __gt__(self, other: Any) -> MessageNode[bool]: ...
        def __ge__(self, other: Any) -> MessageNode[bool]: ...
        def __neg__(self) -> MessageNode[Any]: ...
        def __pos__(self) -> MessageNode[Any]: ...
        def __invert__(self) -> MessageNode[Any]: ...
        def __abs__(self) -> MessageNode[Any]: ...
        def __getitem__(self, index: Any) -> MessageNode[Any]: ...
        def __call__(self, *args: Any, **kwargs: Any) -> MessageNode[Any]: ...
        def __iter__(self) -> Iterator[MessageNode[Any]]: ...
        def __getattr__(self, name: str) -> Any: ...
        def len(self) -> MessageNode[int]: ...
        def eq(self, other: Any) -> MessageNode[bool]: ...
        def ne(self, other: Any) -> MessageNode[bool]: ...
        def contains(self, item: Any) -> MessageNode[bool]: ...
        def getattr(self, name: str) -> MessageNode[Any]: ...
        def neq(self, other: Any) -> MessageNode[bool]: ...
        def call(self, fun: str, *args: Any, **kwargs: Any) -> MessageNode[Any]: ...
        def clone(self) -> MessageNode[T]: ...

    # -- python protocol --------------------------------------------------------------------
    def __bool__(self) -> bool:
        return bool(self._data)

    def __len__(self) -> int:
        return len(self._data)  # type: ignore[arg-type]

    def __contains__(self, item: Any) -> bool:
        item = item._data if isinstance(item, Node) else item
        return item in self._data  # type: ignore[operator]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.py_name!r}, data={_short(self._data)})"

    __str__ = __repr__

    def __getstate__(self) -> None:
        raise TypeError(
            with_help(
                "trace_opt nodes are not picklable",
                "save parameters with Module.save(path) (JSON) or store them with trace_opt.Store",
            )
        )

    def __deepcopy__(self, memo: dict[int, Any]) -> Node[T]:
        # As in Trace, a deep copy is detached: same class, name and settings, a copied value,
        # no parents, no children, no feedback. (``clone()`` is the traced copy.)
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        for cls in type(self).__mro__:
            for slot in getattr(cls, "__slots__", ()):
                if slot in _NOT_COPIED or not hasattr(self, slot):
                    continue
                value = getattr(self, slot)
                object.__setattr__(new, slot, value if slot in _SHARED else copy.deepcopy(value, memo))
        new._parents = ()
        new._children = None
        new._id = next(_ids)
        new._feedback = None
        return new

    def detach(self) -> Node[T]:
        """A deep copy with no parents: the same value, cut from its history (Trace's
        ``detach``). ``clone()`` is the traced copy, whose parent is this node."""
        return copy.deepcopy(self)


_NOT_COPIED = frozenset({"__weakref__", "_parents", "_children", "_feedback", "_id"})
_SHARED = frozenset({"op"})  # what an operation is does not change with a copy of its result


class ParameterNode(Node[T]):
    """A trainable value: a prompt, a number, the source of a bundled function.

    >>> import trace_opt as trace
    >>> p = trace.node("Be brief.", trainable=True)
    >>> type(p).__name__, p.trainable
    ('ParameterNode', True)
    """

    __slots__ = ("trainable", "version", "projections")

    def __init__(
        self,
        value: Any,
        name: str | None = None,
        trainable: bool = True,
        description: str | None = None,
        constraint: Any = None,
    ) -> None:
        super().__init__(value, name=name, description=description, constraint=constraint)
        self.trainable = trainable
        self.version = 0
        self.projections: list[Any] = []

    @property
    def kind(self) -> str:
        return "parameter"

    @property
    def description(self) -> str:
        return _tagged(self._description, "ParameterNode", _PARAMETER_TEXT)

    @description.setter
    def description(self, text: str | None) -> None:
        self._description = text

    def assign(self, value: Any) -> None:
        """Replace the value after checking it; on a violation nothing changes.

        >>> import trace_opt as trace
        >>> from trace_opt.constraints import Choice
        >>> p = trace.node("yes", trainable=True, constraint=Choice(["yes", "no"]))
        >>> p.assign("no"); p.data
        'no'
        """
        self.check(value)
        self._set(value)

    def check(self, value: Any) -> None:
        """Raise ``ConstraintViolation`` if ``value`` may not be this parameter's value."""
        if self.constraint is None:
            return
        ok = self.constraint.check(_as_text(value))
        if not ok:
            raise ConstraintViolation(
                f"{_short(value)} breaks the constraint of {self.py_name}: {getattr(ok, 'reason', ok)}",
                output=value,
                constraint=self.constraint,
                hint=f"the value {self.constraint.describe() if hasattr(self.constraint, 'describe') else 'must conform'}",
            )

    def _set(self, value: Any) -> None:
        """Replace the value without checks (Trace's spelling; ``assign`` checks first).
        Bumps ``version``."""
        self._data = value
        self.version += 1


class MessageNode(Node[T]):
    """The result of a traced operation. ``op`` says what computed it; ``inputs`` maps the
    operation's parameter names to the parent nodes; ``info`` keeps metadata (for LLM calls:
    model, parameters, usage, constraint)."""

    __slots__ = ("op", "_argnames", "_info", "_backwarded")

    def __init__(
        self,
        value: Any,
        parents: tuple[Node[Any], ...],
        op: OpInfo,
        argnames: tuple[str, ...] | None = None,
        name: str | None = None,
        description: str | None = None,
        info: dict[str, Any] | None = None,
    ) -> None:
        # Node.__init__ inlined: this constructor runs once per traced call (the hot path).
        self._data = value
        self._parents = parents
        self._name = name or op.name
        self._id = next(_ids)
        self._description = description
        self._feedback = None
        self.constraint = None
        self._children = None
        self.op = op
        self._argnames = argnames
        self._info = info
        self._backwarded = False
        if parents:
            # Children are weak references (see _link_shared); the common case inline.
            ref = _ref(self)
            for parent in parents:
                kids = parent._children
                if kids is None or (type(kids) is _ref and kids() is None):
                    parent._children = ref
                else:
                    _link_shared(self, parents)
                    break

    @property
    def kind(self) -> str:
        return "message"

    @property
    def description(self) -> str:
        """``[op] what the operation does`` (Trace's form for results of operators)."""
        if self._description:
            return _tagged(self._description, self.op.name, _NODE_TEXT)
        doc = (self.op.doc or "").strip()
        return f"[{self.op.name}] {doc}" if doc else f"[{self.op.name}]"

    @description.setter
    def description(self, text: str | None) -> None:
        self._description = text

    @property
    def hidden_dependencies(self) -> set[ParameterNode[Any]]:
        """Parameters used inside a ``traceable_code`` call that the outer graph does not
        show: those of the inner output's graph minus this node's own, recursively."""
        inner = self._info.get("output") if self._info else None
        if not isinstance(inner, Node):
            return set()
        hidden = inner.parameter_dependencies - self.parameter_dependencies
        # What the parents already expose (this node itself excluded, or this recurses forever).
        shown = self._expandable(self._ancestry()[1:])
        for n in inner.expandable_dependencies - shown:
            hidden |= n.hidden_dependencies
        return hidden

    @property
    def info(self) -> dict[str, Any]:
        """Metadata about the call (created on first use)."""
        if self._info is None:
            self._info = {}
        return self._info

    @property
    def inputs(self) -> dict[str, Node[Any]]:
        """The parents keyed by the operation's parameter names (``__code`` for the code)."""
        names = self._argnames
        if names is None:
            names = self.op.names_for(len(self._parents))
        return dict(zip(names, self._parents))

    _inputs = inputs  # Trace's spelling, read by Trace's own tests


class ExceptionNode(MessageNode[str]):
    """A traced call that raised. ``data`` is the error with a short traceback (readable
    feedback); ``exception`` is the original exception object."""

    __slots__ = ("exception",)

    def __init__(
        self,
        exception: BaseException,
        parents: tuple[Node[Any], ...],
        op: OpInfo,
        argnames: tuple[str, ...] | None = None,
        text: str | None = None,
    ) -> None:
        super().__init__(
            text if text is not None else format_exception(exception),
            parents,
            op,
            argnames,
            name=f"exception_{op.name}",
            description=f"[exception] The operator {op.name} raises an exception.",
        )
        self.exception = exception

    @property
    def kind(self) -> str:
        return "exception"


def format_exception(exc: BaseException, limit: int = 4) -> str:
    """``"(ZeroDivisionError) division by zero"`` plus the last frames of the traceback, which
    is what an optimizer needs to repair code without drowning its prompt."""
    head = f"({type(exc).__name__}) {exc}"
    # Drop our own frames: the user (and the optimizer) should see their code, not ours.
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not _is_library_file(f.filename)][-limit:]
    if not frames:
        return head
    lines = "".join(traceback.format_list(frames)).rstrip()
    return f"{head}\nTraceback (most recent call last):\n{lines}"


def _library_dirs() -> tuple[Path, ...]:
    """The installed directories of ``trace_opt`` and of its sibling ``optimizers`` package.

    Located from this file, not imported: the core never imports ``optimizers``."""
    here = Path(__file__).resolve().parent
    return (here, here.parent / "optimizers")


@functools.lru_cache(maxsize=4096)
def _is_library_file(filename: str) -> bool:
    """Whether a frame's file belongs to the installed packages. Decided by real location, not
    by a path substring: a clone is named ``trace_opt`` and the user's code lives in it too."""
    if filename.startswith("<"):  # "<string>", "<llm-rewrite>": code made at run time is the user's
        return False
    try:
        path = Path(filename).resolve()
    except (OSError, RuntimeError, ValueError):
        return False
    return any(path.is_relative_to(d) for d in _LIBRARY_DIRS)


_LIBRARY_DIRS = _library_dirs()


class Naming:
    """Indexes numbered in order of first use (see ``stable_names``)."""

    def __init__(self, first: Iterable[Node[Any]] = ()) -> None:
        self._index: dict[int, tuple[Node[Any], int]] = {}  # the node is kept so its id stays unique
        self._lock = threading.Lock()  # threads started inside the block share the naming
        for n in first:
            self.index_of(n)

    def index_of(self, n: Node[Any]) -> int:
        entry = self._index.get(id(n))
        if entry is None:
            with self._lock:
                entry = self._index.setdefault(id(n), (n, len(self._index)))
        return entry[1]

    def name_of(self, n: Node[Any]) -> str:
        """The prompt form (``py_name``) of ``n`` under this naming."""
        return f"{n.base_name}_{self.index_of(n)}"


_NAMING: ContextVar[Naming | None] = ContextVar("trace_opt.naming", default=None)


def stable_names(first: Iterable[Node[Any]] = ()) -> AbstractContextManager[Naming]:
    """Within the block, ``node.name`` numbers nodes in order of first use, starting with
    ``first`` (e.g. an optimizer's parameters, in order).

    Global names depend on everything the process created before (and on thread timing),
    so two runs of the same program name its nodes differently; names that depend only on
    the graph make optimizer prompts identical across runs, so they hit the LLM cache.

    >>> import trace_opt as trace
    >>> x = trace.node(1, name="x")
    >>> with trace.stable_names([x]):
    ...     (x + 1).py_name, x.name
    ('add_1', 'x:0')
    """
    return using(_NAMING, Naming(first))


def node(
    value: Any,
    name: str | None = None,
    trainable: bool = False,
    description: str | None = None,
    constraint: Any = None,
) -> Node[Any]:
    """Wrap a value in a node; a node comes back unchanged.

    ``trainable=True`` makes a ParameterNode that optimizers may rewrite; ``constraint`` (a
    ``trace_opt.constraints`` object) is shown to optimizers and enforced on updates. As in
    Trace, ``node(n, trainable=True)`` on an existing node makes a new parameter sharing the
    node's value (and, unless ``name`` says otherwise, its name).

    >>> import trace_opt as trace
    >>> x = trace.node("Extract the name", trainable=True, description="instruction")
    >>> trace.node(x) is x
    True
    """
    if isinstance(value, Node):
        if not trainable:
            return value
        name = name or value._name
        value = value._data
    if trainable:
        if constraint is not None:
            ok = constraint.check(_as_text(value))
            if not ok:
                raise ConstraintViolation(
                    f"initial value {_short(value)} of parameter {name or ''!s} breaks its constraint: "
                    f"{getattr(ok, 'reason', ok)}",
                    output=value,
                    constraint=constraint,
                    hint="start the parameter from a value that satisfies the constraint",
                )
        return ParameterNode(value, name=name, trainable=True, description=description, constraint=constraint)
    return Node(value, name=name, description=description, constraint=constraint)


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


def check_backward_target(target: Any) -> Node[Any]:
    """Validate the target of ``backward`` with a message that says what to pass instead."""
    if not isinstance(target, Node):
        raise BackwardError(
            f"backward needs a trace_opt Node, got {type(target).__name__}: {_short(target)}",
            hint="call backward on the node a traced call returned (or on ExecutionError.exception_node)",
        )
    return target
