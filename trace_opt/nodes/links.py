"""Children held weakly: how a node knows the nodes computed from it without keeping them alive.

Only parents are strong references, so a graph is freed when its output is dropped, even
while a parameter it used lives on (a parameter used in a million calls keeps no trace of
dropped children). ``MessageNode.__init__`` handles the common case inline (one plain weak
reference per parent) and calls ``link_shared`` for the rest.
"""

from __future__ import annotations

import weakref
from typing import Any, Protocol, TypeAlias

__all__ = ["ChildLink", "Children", "link_shared", "live_children", "ref"]


class _Parent(Protocol):
    """A node as this module sees it (it sits below the node classes)."""

    _children: Children


class ChildLink(weakref.ref):  # type: ignore[type-arg]
    """A weak reference to a child that removes itself from its parents' tables when the
    child is freed. A child never keeps anything alive."""

    __slots__ = ("parents",)
    parents: tuple[_Parent, ...]


# What ``node._children`` holds: None, one weak reference, or a dict {link: None} in
# insertion order (see link_shared).
Children: TypeAlias = "weakref.ref[Any] | dict[ChildLink, None] | None"

ref = weakref.ref  # bound once: read on every traced call


def _unlink(link: ChildLink) -> None:
    for parent in link.parents:
        kids = parent._children
        if kids is link:
            parent._children = None
        elif type(kids) is dict:
            kids.pop(link, None)
            if not kids:  # drop the table too: a dict never shrinks on deletion
                parent._children = None


def link_shared(child: Any, parents: tuple[_Parent, ...]) -> None:
    """Register ``child`` with parents of which one at least has another live child.

    ``parent._children`` is None, one plain weak reference (the parent's latest child, maybe
    dead: the common case of a value used once, which costs no table and no callback; see
    ``MessageNode.__init__``), or a dict of ``ChildLink`` whose callbacks keep it free of
    dead children. The dict appears when a parent gets a second live child, so only parents
    shared by live results pay for the bookkeeping; a dead single reference is one small
    object per parent, never one per call.
    """
    link = ChildLink(child, _unlink)
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
                up = ChildLink(older, _unlink)
                up.parents = (parent,)
                parent._children = {up: None, link: None}



def live_children(kids: Any) -> list[Any]:
    """The children still alive in a ``_children`` value, oldest first."""
    if kids is None:
        return []
    links = list(kids) if isinstance(kids, dict) else [kids]
    found = [link() for link in links]
    return [k for k in found if k is not None]
