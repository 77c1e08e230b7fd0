"""Making nodes: ``node(value)``, and the check that ``backward`` was given one."""

from __future__ import annotations

from typing import Any

from ..errors import BackwardError, ConstraintViolation
from .kinds import Node, ParameterNode
from .text import as_text, short

__all__ = ["check_backward_target", "node"]


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
            ok = constraint.check(as_text(value))
            if not ok:
                raise ConstraintViolation(
                    f"initial value {short(value)} of parameter {name or ''!s} breaks its constraint: "
                    f"{getattr(ok, 'reason', ok)}",
                    output=value,
                    constraint=constraint,
                    hint="start the parameter from a value that satisfies the constraint",
                )
        return ParameterNode(value, name=name, trainable=True, description=description, constraint=constraint)
    return Node(value, name=name, description=description, constraint=constraint)



def check_backward_target(target: Any) -> Node[Any]:
    """Validate the target of ``backward`` with a message that says what to pass instead."""
    if not isinstance(target, Node):
        raise BackwardError(
            f"backward needs a trace_opt Node, got {type(target).__name__}: {short(target)}",
            hint="call backward on the node a traced call returned (or on ExecutionError.exception_node)",
        )
    return target
