"""What a picture looks like: the node kinds and their colours, the legend, wrapped labels and
the choice between a vertical and a horizontal layout.

Shared by the node graph (``visualize.render``) and the call tree of a recorded run
(``replay.dot``, drawn by ``visualize.render_run`` and ``Run.dot()``), so both read the same
way: the same colour means the same kind in every picture. It sits low (beside ``context``)
because the call tree is drawn by ``replay``, below ``visualize``; and it writes DOT text
itself rather than through the ``graphviz`` package, so a run's picture has a DOT source even
where that optional package is missing (``trace-opt graph -o run.dot``).
"""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .errors import BackendUnavailable
from .visible import visible

if TYPE_CHECKING:
    import graphviz  # type: ignore[import-untyped]

__all__ = ["KINDS", "WRAP", "attrs", "choose_rankdir", "dot_label", "graphviz_module", "legend", "legend_lines", "quote", "wrap"]

#: Characters per label line: about 250 pt of box, so four boxes fit a laptop screen's width.
WRAP = 36
#: Lines kept of one value (after clipping to ``max_label``): a picture is not a log.
MAX_LINES = 6

# kind -> (what the legend calls it, graphviz node attributes)
KINDS: dict[str, tuple[str, dict[str, str]]] = {
    "trainable": ("trainable parameter", {"fillcolor": "#ffe9a8", "color": "#b08800", "penwidth": "2.5", "peripheries": "2"}),
    "parameter": ("fixed parameter", {"fillcolor": "#fff6d6", "color": "#b08800"}),
    "llm": ("LLM call", {"fillcolor": "#d9f2d9", "color": "#2e7d32"}),
    "message": ("operation", {"fillcolor": "#d6e6ff", "color": "#2a5db0"}),
    "exception": ("exception", {"fillcolor": "#ffd0d0", "color": "#b02a2a"}),
    "value": ("input / constant", {"fillcolor": "#eeeeee", "color": "#777777"}),
    # the call tree of a recorded run
    "call": ("call", {"fillcolor": "#d6e6ff", "color": "#2a5db0"}),
    "replayed": ("replayed from the record", {"fillcolor": "#eeeeee", "color": "#777777"}),
    "override": ("overridden output", {"fillcolor": "#ffd8a8", "color": "#b06000"}),
    "waiting": ("waiting for input", {"fillcolor": "#ffd0d0", "color": "#b02a2a", "style": "rounded,filled,bold"}),
    "afresh": ("re-runs on replay", {"fillcolor": "#ffffff", "color": "#2a5db0", "style": "rounded,filled,dashed"}),
}


def graphviz_module() -> Any:
    """The ``graphviz`` package (imported only when drawing), or a typed error saying how to get it."""
    try:
        import graphviz
    except ImportError:  # pragma: no cover - depends on the environment
        raise BackendUnavailable(
            "drawing needs the graphviz package", hint="pip install graphviz (and apt-get install graphviz for the dot binary)"
        ) from None
    return graphviz


def wrap(text: str, width: int = WRAP, max_lines: int = MAX_LINES) -> list[str]:
    """``text`` as lines of at most ``width`` characters (its own line breaks kept, long words
    cut); past ``max_lines`` the last line ends with an ellipsis."""
    lines: list[str] = []
    # control characters shown as escapes: a NUL ends a DOT string and dot rejects the file
    text = visible(text.replace("\r", ""))
    for paragraph in text.split("\n"):
        lines += textwrap.wrap(paragraph, width, break_long_words=True, replace_whitespace=True, drop_whitespace=True) or [""]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: width - 1] + "…"
    return lines


def _escape(line: str) -> str:
    # a backslash in a value would be read as a DOT escape (\l, \N...): double it
    return line.replace("\\", "\\\\")


def dot_label(head: Sequence[str], body: Iterable[str] = ()) -> str:
    """A DOT label: the ``head`` lines centred, the ``body`` lines left-aligned."""
    text = "".join(_escape(line) + "\\n" for line in head)
    return text + "".join(_escape(line) + "\\l" for line in body)


def choose_rankdir(ranks: dict[Any, int]) -> str:
    """``"TB"`` (top to bottom) unless the graph is wider than deep, then ``"LR"``.

    ``ranks`` maps each node to its layer. A long chain stays a column; a wide fan-out (one
    parameter read by twenty calls, a run of thirty top-level calls) is turned on its side,
    so its siblings stack down the page instead of making a strip thousands of pixels wide.
    Boxes are about three times wider than tall, so side by side costs more than stacked.
    """
    if not ranks:
        return "TB"
    per_rank: dict[int, int] = {}
    for r in ranks.values():
        per_rank[r] = per_rank.get(r, 0) + 1
    depth, width = len(per_rank), max(per_rank.values())
    return "LR" if width * 3 > depth * 4 else "TB"


_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|-?(\.[0-9]+|[0-9]+(\.[0-9]*)?)")


def quote(value: str) -> str:
    """A DOT ID: as is when it is a plain name or number, else in double quotes with every
    quote escaped (labels from :func:`dot_label` have their backslashes doubled already, so
    no quote in them is escaped yet)."""
    if _ID.fullmatch(value):
        return value
    return '"' + value.replace('"', '\\"') + '"'


def attrs(label: str | None = None, **values: str) -> str:
    """``[label="x y" a=1 b=2]``: the label first, the other attributes sorted (as the
    ``graphviz`` package writes them, so both kinds of picture read alike)."""
    items = ([("label", label)] if label is not None else []) + sorted(values.items())
    return "[" + " ".join(f"{k}={quote(v)}" for k, v in items) + "]" if items else ""


def legend_lines(kinds: Iterable[str]) -> list[str]:
    """The DOT lines of a ``cluster_legend`` holding one table: a sample of each kind used, in
    ``KINDS`` order (none when no kind is used).

    One node, not one per kind: sample boxes would be spread over the picture's ranks (as tall
    as the graph in a top-to-bottom picture) or laid in a row wider than the graph."""
    used = [k for k in KINDS if k in set(kinds)]
    if not used:
        return []
    rows = []
    for k in used:
        text, style = KINDS[k]
        border = "3" if style.get("peripheries") == "2" else ("2" if "bold" in style.get("style", "") else "1")
        dashed = ' STYLE="dashed"' if "dashed" in style.get("style", "") else ""
        rows.append(f'<TR><TD PORT="{k}" BGCOLOR="{style["fillcolor"]}" COLOR="{style["color"]}" BORDER="{border}"{dashed}>'
                    f"{html.escape(text)}</TD></TR>")  # fmt: skip
    table = f'<<TABLE BORDER="0" CELLSPACING="3" CELLPADDING="3">{"".join(rows)}</TABLE>>'
    return [
        "\tsubgraph cluster_legend {\n",
        '\t\tcolor="#999999" fontsize=10 label="node kinds" style="rounded,dashed"\n',
        f'\t\tlegend [label={table} fontsize=10 margin=0 shape=plaintext style=""]\n',
        "\t}\n",
    ]


def legend(dot: graphviz.Digraph, kinds: Iterable[str]) -> None:
    """Add :func:`legend_lines` to a ``graphviz.Digraph``."""
    dot.body += legend_lines(kinds)
