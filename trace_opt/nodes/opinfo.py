"""What an operation is (``OpInfo``) and the metadata a bundled function returns (``WithInfo``)."""

from __future__ import annotations

from typing import Any

__all__ = ["OpInfo", "WithInfo"]

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

