"""The node classes: ``Node`` (a traced value), ``ParameterNode`` (a trainable one),
``MessageNode`` (the result of an operation) and ``ExceptionNode`` (an operation that raised).

They live together because each refers to the others: a node's dependencies are the
parameters and traceable-code results among its ancestors, and its traced operators return
message nodes. Naming, child links, text forms and exception formatting are the small
modules beside this one.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..errors import ConstraintViolation, with_help
from .frames import format_exception
from .links import Children, link_shared, live_children, ref
from .naming import NAMING, clean_name, ids
from .opinfo import OpInfo
from .text import NODE_TEXT, PARAMETER_TEXT, as_text, short, tagged
from .walk import ancestry, depth

__all__ = ["ExceptionNode", "MessageNode", "Node", "ParameterNode"]

T = TypeVar("T")


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
        self._id = next(ids)
        self._description = description
        self._feedback: list[Any] | None = None
        self.constraint = constraint
        self._children: Children = None  # held weakly: see trace_opt.nodes.links

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
        return live_children(self._children)

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
        return depth(self)

    @property
    def type(self) -> type:
        """The type of the wrapped value."""
        return type(self._data)

    # -- names ------------------------------------------------------------------------------
    def _index(self) -> int:
        naming = NAMING.get()
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
        return clean_name(self._name or type(self._data).__name__)

    # -- descriptions -----------------------------------------------------------------------
    @property
    def description(self) -> str:
        """Trace's description text: ``[Node] ...`` (``[ParameterNode] ...`` for parameters,
        ``[op] doc`` for results of operations), with Trace's default when none was given.
        ``given_description`` is the text exactly as given (None if none)."""
        return tagged(self._description, "Node", NODE_TEXT)

    @description.setter
    def description(self, text: str | None) -> None:
        self._description = text

    @property
    def given_description(self) -> str | None:
        """The description as passed to ``node(...)``, without Trace's ``[Node]`` tag."""
        return self._description

    # -- dependencies -----------------------------------------------------------------------
    @property
    def parameter_dependencies(self) -> set[ParameterNode[Any]]:
        """The parameters this value was computed from (itself included if it is one).

        Computed on demand by walking the parents, so building a graph costs nothing for it
        (Trace merges these sets at every call)."""
        return {n for n in ancestry(self) if isinstance(n, ParameterNode)}

    @property
    def expandable_dependencies(self) -> set[MessageNode[Any]]:
        """The results of ``traceable_code`` calls among this node's ancestry (itself
        included) whose inner graph uses parameters the outer graph does not show."""
        return self._expandable(ancestry(self))

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
        return f"{type(self).__name__}(name={self.py_name!r}, data={short(self._data)})"

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
        new._id = next(ids)
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
        return tagged(self._description, "ParameterNode", PARAMETER_TEXT)

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
        ok = self.constraint.check(as_text(value))
        if not ok:
            raise ConstraintViolation(
                f"{short(value)} breaks the constraint of {self.py_name}: {getattr(ok, 'reason', ok)}",
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
        self._id = next(ids)
        self._description = description
        self._feedback = None
        self.constraint = None
        self._children = None
        self.op = op
        self._argnames = argnames
        self._info = info
        self._backwarded = False
        if parents:
            # Children are weak references (see links.link_shared); the common case inline.
            ref_self = ref(self)
            for parent in parents:
                kids = parent._children
                if kids is None or (type(kids) is ref and kids() is None):
                    parent._children = ref_self
                else:
                    link_shared(self, parents)
                    break

    @property
    def kind(self) -> str:
        return "message"

    @property
    def description(self) -> str:
        """``[op] what the operation does`` (Trace's form for results of operators)."""
        if self._description:
            return tagged(self._description, self.op.name, NODE_TEXT)
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
        shown = self._expandable(ancestry(self)[1:])
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

