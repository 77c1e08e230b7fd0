"""Pictures of graphs with graphviz (the ``viz`` extra), imported only when drawing.

Kinds are coloured (parameters yellow, operations blue, exceptions red, plain values grey),
trainable parameters are drawn bold with a double border, and long values and feedback are
truncated so a picture of a real program stays readable. Without the ``dot`` binary the DOT
source (``render(x).source``) still works; turning it into an image says how to install it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .errors import BackendUnavailable, with_help
from .graph import topological_order
from .nodes import Node
from .secrets import logger, redactor

if TYPE_CHECKING:
    import graphviz

__all__ = ["render"]

log = logger(__name__)

_STYLE = {
    "parameter": {"fillcolor": "#ffe9a8", "color": "#b08800"},
    "message": {"fillcolor": "#d6e6ff", "color": "#2a5db0"},
    "exception": {"fillcolor": "#ffd0d0", "color": "#b02a2a"},
    "value": {"fillcolor": "#eeeeee", "color": "#777777"},
}


def _clip(text: str, limit: int) -> str:
    text = text.replace("\r", "")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _feedback_lines(feedback: list[Any], limit: int, redact: Callable[[str], str], shown: int = 4) -> list[str]:
    """All the feedback a node got, summarised: how many (per score, when scored) and each
    distinct text once with its count -- the last item alone would show 2 wrong and 2 right
    as "Correct"."""
    texts = Counter(getattr(f, "text", str(f)) for f in feedback)
    scores = Counter(f.score for f in feedback if getattr(f, "score", None) is not None)
    head = f"{len(feedback)} feedback"
    if scores:
        head += " (" + ", ".join(f"{c}× score {s:g}" for s, c in sorted(scores.items())) + ")"
    lines = [head + ":"]
    for text, count in texts.most_common(shown):
        lines.append(("" if count == 1 else f"{count}× ") + _clip(redact(" ".join(text.split())), limit))
    if len(texts) > shown:
        lines.append(f"... {len(texts) - shown} more distinct")
    return lines


def _label(n: Node[Any], limit: int, redact: Callable[[str], str], name: str | None = None) -> str:
    # redacted before clipping: a cut secret would no longer match (pictures get shared)
    head = (name or n.py_name) + (" (trainable)" if n.trainable else "")
    body = _clip(redact(repr(n.data) if not isinstance(n.data, str) else n.data), limit)
    lines = [head, body]
    if n.feedback:
        lines += _feedback_lines(list(n.feedback), limit, redact)
    return "\n".join(lines)


def render(
    output: Node[Any] | Iterable[Node[Any]] | Any,
    max_label: int = 60,
    max_nodes: int = 500,
    rankdir: str = "TB",
    names: Mapping[Node[Any], str] | None = None,
) -> graphviz.Digraph:
    """A ``graphviz.Digraph`` of everything ``output`` was computed from.

    Graphs larger than ``max_nodes`` keep the nodes nearest the output and say how many
    were left out. A recorded run (``trace_opt.record``) renders as its call tree, with
    replayed calls, overrides and the replay point marked. ``names`` relabels nodes -- e.g.
    a module's parameters by their ``state_dict`` names, as the rest of a report calls them.

    >>> import trace_opt as trace
    >>> x = trace.node("a", trainable=True)
    >>> "digraph" in trace.render(x + "b").source
    True
    """
    try:
        import graphviz
    except ImportError:  # pragma: no cover - depends on the environment
        raise BackendUnavailable(
            "drawing needs the graphviz package", hint="pip install graphviz (and apt-get install graphviz for the dot binary)"
        ) from None
    if not isinstance(output, Node) and callable(getattr(output, "dot", None)):
        return graphviz.Source(output.dot())  # a recorded Run draws itself
    order = topological_order(output)
    dropped = max(0, len(order) - max_nodes)
    kept = order[dropped:]
    keep = {id(n) for n in kept}
    dot = graphviz.Digraph(graph_attr={"rankdir": rankdir}, node_attr={"shape": "box", "style": "rounded,filled"})
    redact = redactor().text
    for n in kept:
        style = dict(_STYLE[n.kind])
        if n.trainable:
            style.update(penwidth="2.5", peripheries="2")
        dot.node(str(id(n)), _label(n, max_label, redact, (names or {}).get(n)), **style)
        for p in n._parents:
            if id(p) in keep:
                dot.edge(str(id(p)), str(id(n)))
    if dropped:
        dot.node("dropped", f"... {dropped} earlier nodes not shown", shape="plaintext", style="")
    return dot


def _repr_svg_(self: Node[Any]) -> str | None:
    """Jupyter shows a node as the picture of its graph (falls back to text without dot)."""
    try:
        return render(self).pipe(format="svg").decode("utf-8")  # type: ignore[no-any-return]
    except Exception as exc:  # noqa: BLE001 - a picture must never break printing a value
        log.warning(with_help(f"cannot draw {self.name}: {exc}", "apt-get install graphviz (the dot binary)"))
        return None


setattr(Node, "_repr_svg_", _repr_svg_)
setattr(Node, "_render", render)
