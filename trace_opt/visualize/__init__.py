"""Pictures of graphs with graphviz (the ``viz`` extra), imported only when drawing.

Each node kind has its colour (``trace_opt.drawing.KINDS``) and a legend cluster names the
kinds a picture uses; a bundled function that asked an LLM is an LLM call, its box saying how
many calls to which model (``info["llm_calls"]``, recorded by the bundle); trainable
parameters are drawn bold with a double border; the feedback a node got is summarised in its
box. Labels are wrapped to a fixed width and long values clipped, so a picture of a real
program stays readable; long chains run top to bottom and wide fan-outs are turned on their
side (``drawing.choose_rankdir``). Without the ``dot`` binary the DOT source
(``render(x).source``) still works; turning it into an image says how to install it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import with_help
from ..graph import topological_order
from ..nodes import MessageNode, Node
from ..secrets import logger, redactor
from .calls import render_run
from ..drawing import KINDS, WRAP, choose_rankdir, dot_label, graphviz_module, legend, wrap

if TYPE_CHECKING:
    import graphviz  # type: ignore[import-untyped]

__all__ = ["render", "render_run"]

log = logger(__name__)


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


def kind_of(n: Node[Any]) -> str:
    """The legend kind of a node: a trainable parameter, an LLM call (a message whose info
    names its backend, or a bundled function that asked an LLM while it ran), an operation, an
    exception or a plain input."""
    if n.kind == "parameter":
        return "trainable" if n.trainable else "parameter"
    if n.kind == "message" and isinstance(n, MessageNode) and n._info and ("llm" in n._info or "llm_calls" in n._info):
        return "llm"
    return n.kind


def llm_calls_line(n: Node[Any]) -> str | None:
    """``"2 LLM calls: model"`` for a node whose function asked an LLM (``info["llm_calls"]``,
    per model, recorded by the bundle), else ``None``."""
    calls = n._info.get("llm_calls") if isinstance(n, MessageNode) and n._info else None
    if not calls:
        return None
    total = sum(calls.values())
    return f"{total} LLM call{'' if total == 1 else 's'}: " + ", ".join(
        m if c == total else f"{m} ×{c}" for m, c in sorted(calls.items())
    )


def _label(n: Node[Any], limit: int, width: int, redact: Callable[[str], str], name: str | None = None) -> str:
    # redacted before clipping: a cut secret would no longer match (pictures get shared)
    head = wrap((name or n.py_name) + (" (trainable)" if n.trainable else ""), width)
    if (asked := llm_calls_line(n)) is not None:
        head += wrap(asked, width)
    body = wrap(_clip(redact(repr(n.data) if not isinstance(n.data, str) else n.data), limit), width)
    if n.feedback:
        for line in _feedback_lines(list(n.feedback), limit, redact):
            body += wrap(line, width)
    return dot_label(head, body)


def _ranks(kept: list[Node[Any]]) -> dict[int, int]:
    """Each node's layer as dot places it: after its parents, and an input right above the
    first node that reads it (not all inputs in the top row)."""
    keep = {id(n) for n in kept}
    rank: dict[int, int] = {}
    children: dict[int, list[int]] = {}
    for n in kept:  # topological order: parents first
        parents = [id(p) for p in n._parents if id(p) in keep]
        rank[id(n)] = 1 + max((rank[p] for p in parents), default=-1)
        for p in parents:
            children.setdefault(p, []).append(id(n))
    for n in kept:
        if not n._parents and id(n) in children:
            rank[id(n)] = min(rank[c] for c in children[id(n)]) - 1
    return rank


def render(
    output: Node[Any] | Iterable[Node[Any]] | Any,
    max_label: int = 60,
    max_nodes: int = 500,
    rankdir: str = "auto",
    names: Mapping[Node[Any], str] | None = None,
    wrap_width: int = WRAP,
    show_legend: bool = True,
) -> graphviz.Digraph:
    """A ``graphviz.Digraph`` of everything ``output`` was computed from.

    Graphs larger than ``max_nodes`` keep the nodes nearest the output and say how many
    were left out. Values and feedback are clipped to ``max_label`` characters and wrapped at
    ``wrap_width``. ``rankdir="auto"`` lays a graph out top to bottom unless it is wider than
    deep (then left to right); ``"TB"`` / ``"LR"`` force one. A recorded run
    (``trace_opt.record``) renders as its call tree (:func:`render_run`). ``names`` relabels
    nodes -- e.g. a module's parameters by their ``state_dict`` names, as a report calls them.

    >>> import trace_opt as trace
    >>> x = trace.node("a", trainable=True)
    >>> "digraph" in trace.render(x + "b").source
    True
    """
    graphviz = graphviz_module()
    if not isinstance(output, Node) and hasattr(output, "calls") and hasattr(output, "store"):
        return render_run(output, rankdir=rankdir, wrap_width=wrap_width, show_legend=show_legend)
    order = topological_order(output)
    dropped = max(0, len(order) - max_nodes)
    kept = order[dropped:]
    ids = {id(n): f"n{i}" for i, n in enumerate(kept)}  # stable ids: the same graph, the same source
    if rankdir == "auto":
        rankdir = choose_rankdir(_ranks(kept))
    dot = graphviz.Digraph(graph_attr={"rankdir": rankdir}, node_attr={"shape": "box", "style": "rounded,filled", "fontsize": "11"})
    redact = redactor().text
    kinds = []
    for n in kept:
        kind = kind_of(n)
        kinds.append(kind)
        dot.node(ids[id(n)], _label(n, max_label, wrap_width, redact, (names or {}).get(n)), **KINDS[kind][1])
        for p in n._parents:
            if id(p) in ids:  # parameters and computed values are the spine, pulled straight; inputs hang beside it
                dot.edge(ids[id(p)], ids[id(n)], weight="8" if p._parents or p.trainable else "1")
    if dropped:
        dot.node("dropped", f"... {dropped} earlier nodes not shown", shape="plaintext", style="")
    if show_legend:
        legend(dot, kinds)
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
