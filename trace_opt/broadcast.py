"""``apply_op``: run one operation item by item over matching containers of nodes (Trace's
``opto.trace.broadcast.apply_op``).

The output container is the template and the destination: for each position of ``output``
(list and tuple indexes, dict keys, ``NodeContainer`` attributes, recursively), the operation
runs on the matching items of the inputs, where an input that is a node is used whole at every
position (broadcast). The result replaces that position of ``output``, in place, and
``output`` is returned. Tuples cannot change, so a tuple is rebuilt (and stored back in its
parent container). Positions holding anything else, sets included (their items have no order
to pair them by), keep the value ``output`` has.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .containers import NodeContainer
from .errors import BroadcastError
from .nodes import Node

__all__ = ["apply_op"]


def apply_op(op: Callable[..., Any], output: Any, *args: Any, **kwargs: Any) -> Any:
    """Apply ``op`` to matching items of ``args``/``kwargs``, writing results into ``output``.

    >>> import trace_opt as trace
    >>> ops = trace.operators
    >>> out = trace.apply_op(ops.add, [None, None], [trace.node(1), trace.node(2)], trace.node(10))
    >>> [n.data for n in out]
    [11, 12]
    """
    inputs = [*args, *kwargs.values()]
    if all(isinstance(x, Node) for x in inputs):
        return op(*args, **kwargs)
    for x in inputs:
        if not isinstance(x, Node) and type(x) is not type(output):
            raise BroadcastError(
                f"apply_op: an input is a {type(x).__name__} ({x!r:.60}) but the output is a {type(output).__name__}",
                hint="give inputs that are nodes or containers of the same type and shape as the output",
            )
    if isinstance(output, (list, tuple)):
        for x in inputs:
            if not isinstance(x, Node) and len(x) != len(output):
                raise BroadcastError(
                    f"apply_op: an input has {len(x)} items but the output has {len(output)}",
                    hint="give containers of the same length as the output",
                )
        items = [_apply_at(op, output[i], i, args, kwargs, _item) for i in range(len(output))]
        if isinstance(output, tuple):
            return type(output)(items) if type(output) is tuple else type(output)(*items)
        output[:] = items
    elif isinstance(output, dict):
        for key in list(output):
            output[key] = _apply_at(op, output[key], key, args, kwargs, _item)
    elif isinstance(output, NodeContainer):
        for name, value in list(vars(output).items()):
            setattr(output, name, _apply_at(op, value, name, args, kwargs, getattr))
    return output


def _item(container: Any, key: Any) -> Any:
    return container[key]


def _apply_at(
    op: Callable[..., Any], out: Any, key: Any, args: tuple[Any, ...], kwargs: dict[str, Any], pick: Callable[[Any, Any], Any]
) -> Any:
    sub_args = [x if isinstance(x, Node) else pick(x, key) for x in args]
    sub_kwargs = {k: v if isinstance(v, Node) else pick(v, key) for k, v in kwargs.items()}
    return apply_op(op, out, *sub_args, **sub_kwargs)
